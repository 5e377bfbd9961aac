"""The review and payment export (ratings/payments.py): active minutes, suggested decisions,
staff's override (service and admin), withdrawn participants, and who may download it (page
and API)."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.test import Client
from rest_framework.test import APIClient

from ratings import payments, rater_reads, studies
from ratings.models import Participation, PaymentDecision
from tests.factories import UserFactory
from tests.ratings.rater_client import RaterSession, RecordingClient

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def test_active_minutes_cap_each_gap_at_five_minutes():
    events = [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2), T0 + timedelta(minutes=62), None]
    assert payments.active_minutes(list(reversed(events))) == 1 + 1 + 5
    assert payments.active_minutes([T0]) == 0
    assert payments.active_minutes([T0, T0 + timedelta(seconds=30)]) == 0.5


@pytest.fixture
def study(make_study):
    owner = UserFactory(username="ada")
    study = make_study(attention_check_rate=0, repeat_share=0, quota_per_rater=2, bonus_per_pair="0.125")
    study.owner = owner
    study.save(update_fields=["owner"])
    return study


def session_of(study, pid: str, *, votes: int, finish: bool = True) -> RaterSession:
    session = RaterSession(RecordingClient(), study)
    session.join_prolific(pid, "STUDY", f"SESSION-{pid}")
    session.start()
    for _ in range(votes):
        session.vote()
    if finish:
        session.finish()
    return session


def rows_by_id(study) -> dict:
    return {row["participation_id"]: row for row in payments.study_participants(study=study)}


def test_every_participant_gets_a_row_with_a_suggested_decision(study):
    session_of(study, "done", votes=2)
    session_of(study, "midway", votes=1, finish=False)
    session_of(study, "idle", votes=0, finish=False)
    rows = {row["crowd_id"]: row for row in payments.study_participants(study=study)}
    assert rows["done"]["decision"] == "approve" and rows["done"]["bonus"] == Decimal("0.25")  # 2 x 0.125, half up
    assert rows["done"]["active_minutes"] is not None and rows["done"]["finished_at"] is not None
    assert rows["midway"]["decision"] == "return" and "left after 1 pair" in rows["midway"]["suggested_reason"]
    assert rows["idle"]["decision"] == "return" and rows["idle"]["suggested_reason"] == "left before answering"
    assert rows["midway"]["bonus"] == rows["idle"]["bonus"] == Decimal("0.00")
    header = payments.participants_csv(study=study).decode().splitlines()[0]
    assert header.split(",") == payments.COLUMNS


def test_staff_override_wins_and_the_export_says_who(study):
    session_of(study, "done", votes=2)
    participation = Participation.objects.get()
    staff = UserFactory(username="reviewer", staff=True)
    payments.payment_decision_override(participation=participation, decision="reject", reason="copied answers", by=staff)
    (row,) = payments.study_participants(study=study)
    assert (row["suggested_decision"], row["decision"], row["decision_reason"], row["decided_by"]) == ("approve", "reject", "copied answers", "reviewer")
    assert row["bonus"] == Decimal("0.00") and row["decided_at"] is not None
    with pytest.raises(Exception, match="Choose one of"):
        payments.payment_decision_override(participation=participation, decision="pay double", reason="x", by=staff)
    with pytest.raises(Exception, match="Say why"):
        payments.payment_decision_override(participation=participation, decision="approve", reason=" ", by=staff)
    assert PaymentDecision.objects.get().decision == "reject"


def test_staff_override_a_decision_in_the_admin(study):
    session_of(study, "done", votes=2)
    participation = Participation.objects.get()
    staff = UserFactory(username="admin-reviewer", superuser=True)
    client = Client()
    client.force_login(staff)
    url = f"/admin/ratings/participation/{participation.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200 and "payment decision" in page.content.decode().lower()
    form = {
        "flagged": "", "flag_reason": "", "crowd_study_id": "STUDY", "crowd_session_id": "SESSION-done", "answered": "2",
        "failed_checks": "0", "study": str(study.pk), "rater": str(participation.rater_id),
        "payment_decision-TOTAL_FORMS": "1", "payment_decision-INITIAL_FORMS": "0", "payment_decision-MIN_NUM_FORMS": "0",
        "payment_decision-MAX_NUM_FORMS": "1", "payment_decision-0-decision": "return",
        "payment_decision-0-reason": "asked to return by e-mail", "payment_decision-0-participation": str(participation.pk),
    }
    for field in ("consented_at", "instructed_at", "finished_at", "last_answered_at"):
        value = getattr(participation, field)
        form[f"{field}_0"], form[f"{field}_1"] = (value.strftime("%Y-%m-%d"), value.strftime("%H:%M:%S")) if value else ("", "")
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    (row,) = payments.study_participants(study=study)
    assert (row["decision"], row["decided_by"], row["decision_reason"]) == ("return", "admin-reviewer", "asked to return by e-mail")


def test_a_withdrawn_participant_keeps_only_what_the_platform_needs(study):
    finished = session_of(study, "paid-then-left", votes=2)
    finished.client.post(f"/rate/{study.pk}/withdraw/", {"csrfmiddlewaretoken": finished.csrf()})
    early = session_of(study, "left-early", votes=1, finish=False)
    early.client.post(f"/rate/{study.pk}/withdraw/", {"csrfmiddlewaretoken": early.csrf()})
    rows = sorted(payments.study_participants(study=study), key=lambda row: row["participation_id"])
    paid, left = rows
    assert paid["withdrawn"] and paid["crowd_id"] == "paid-then-left" and paid["crowd_session_id"] == "SESSION-paid-then-left"
    assert paid["decision"] == "approve" and paid["bonus"] == Decimal("0.25")
    assert left["withdrawn"] and left["crowd_id"] is None and left["crowd_session_id"] is None and left["decision"] == "return"
    for row in rows:
        for column in ("started_at", "finished_at", "active_minutes", "pairs_answered", "attention_checks_passed",
                       "attention_checks_failed", "self_consistency", "feedback", "outcome_reason"):
            assert row[column] is None, (column, row)
    assert Participation.objects.get(crowd_session_id="").withdrawn_crowd_id == ""


def test_the_owner_the_shared_researcher_and_staff_download_it_and_nobody_else(study):
    session_of(study, "done", votes=2)
    shared, stranger = UserFactory(username="grace", researcher=True), UserFactory(username="eve", researcher=True)
    studies.study_share(study=study, users=[shared])
    for user, status in ((study.owner, 200), (shared, 200), (UserFactory(username="ops", staff=True), 200), (stranger, 403)):
        client = Client()
        client.force_login(user)
        response = client.get(f"/studies/{study.pk}/participants.csv")
        assert response.status_code == status, user
        if status == 200:
            assert response["Content-Type"] == "text/csv" and b"done" in response.content
    assert Client().get(f"/studies/{study.pk}/participants.csv").status_code == 302  # log in first


def test_the_api_lists_participants_and_exports_them_as_csv_for_the_studys_researchers_only(study):
    session_of(study, "done", votes=2)
    clients = {}
    for user in (study.owner, UserFactory(username="eve")):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {studies.researcher_grant(user=user).key}")
        clients[user.username] = client
    listed = clients["ada"].get(f"/api/v1/studies/{study.pk}/participants/")
    assert listed.status_code == 200, listed.content
    (row,) = listed.json()["results"]
    assert row["crowd_id"] == "done" and row["decision"] == "approve" and row["bonus"] == "0.25"
    exported = clients["ada"].get(f"/api/v1/studies/{study.pk}/export/participants/")
    assert exported.status_code == 200 and exported["Content-Type"] == "text/csv"
    assert exported.content == payments.participants_csv(study=study)
    for path in ("participants/", "export/participants/"):
        assert clients["eve"].get(f"/api/v1/studies/{study.pk}/{path}").status_code == 404
    assert rater_reads.study_attention_checks(study=study) == {}
