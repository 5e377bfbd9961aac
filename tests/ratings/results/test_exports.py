"""Exports (ratings/results/exports.py): the votes CSV, one row per counted vote under its
provenance, raters pseudonymized, flagged raters' votes marked; the leaderboard in each format,
its file name, unknown formats refused, and provenance that cannot close its comment early."""

from __future__ import annotations

import csv
import io
import json

import pytest

from ratings import rater_flags
from ratings.models import Rater, Vote
from ratings.results import exports
from ratings.results.votes import rater_pseudonym


def csv_rows(content: bytes) -> tuple[list[str], list[dict]]:
    text = content.decode()
    comments = [line for line in text.splitlines() if line.startswith("#")]
    rows = list(csv.DictReader(io.StringIO("\n".join(line for line in text.splitlines() if not line.startswith("#")))))
    return comments, rows


def test_the_votes_csv_has_one_row_per_counted_vote_with_pseudonymous_raters(rated_study):
    comments, rows = csv_rows(exports.votes_csv(study=rated_study))
    assert list(rows[0]) == exports.VOTE_COLUMNS
    assert len(rows) == Vote.objects.filter(comparison__study=rated_study).count()
    rater_ids = set(Rater.objects.filter(participations__study=rated_study).values_list("pk", flat=True))
    assert {row["rater_id"] for row in rows} == {rater_pseudonym(pk) for pk in rater_ids}
    assert {row["winner"] for row in rows} <= {"model_a", "model_b", "tie"}
    assert {row["model_a"] for row in rows} | {row["model_b"] for row in rows} <= {"midjourney-v6", "dall-e-3", "ideogram-2"}
    assert all(row["counted"] == "yes" and row["rater_status"] == "counted" for row in rows)
    assert comments[0].startswith(f"# study {rated_study.pk}: votes exported") and f"# {len(rows)} votes by 2 raters" in comments[1]


def test_a_flagged_raters_votes_are_in_the_csv_marked_not_counted_unless_left_out(rated_study):
    flagged = Rater.objects.filter(participations__study=rated_study).order_by("pk").first()
    rater_flags.rater_flag(study=rated_study, rater=flagged)
    n_flagged = Vote.objects.filter(comparison__study=rated_study, comparison__rater=flagged).count()
    _, rows = csv_rows(exports.votes_csv(study=rated_study))
    marked = [row for row in rows if row["rater_id"] == rater_pseudonym(flagged.pk)]
    assert len(marked) == n_flagged and all(row["counted"] == "no" and row["rater_status"] == "flagged" for row in marked)
    comments, kept = csv_rows(exports.votes_csv(study=rated_study, include_flagged=False))
    assert len(kept) == len(rows) - n_flagged and rater_pseudonym(flagged.pk) not in {row["rater_id"] for row in kept}
    assert any("left out of this file" in line for line in comments)


@pytest.mark.parametrize("fmt, name", [("json", "json"), ("csv", "csv"), ("md", "md"), ("latex", "tex")])
def test_the_leaderboard_export_says_its_type_and_file_name_in_each_format(rated_study, fmt, name):
    content, content_type, filename = exports.leaderboard_export(study=rated_study, method="winrate", fmt=fmt, rounds=20)
    assert content_type == exports.LEADERBOARD_FORMATS[fmt]
    assert filename == f"study-{rated_study.pk}-leaderboard-winrate.{name}"
    assert b"dall-e-3" in content
    if fmt == "json":
        document = json.loads(content)
        assert {row["model"] for row in document["hidden_images"]} == {"midjourney-v6", "dall-e-3", "ideogram-2"}


def test_an_unknown_leaderboard_format_is_refused_before_any_work(rated_study, django_assert_num_queries):
    with django_assert_num_queries(0), pytest.raises(ValueError, match="Unknown format 'xlsx'"):
        exports.leaderboard_export(study=rated_study, fmt="xlsx")


def test_a_provenance_line_cannot_end_its_comment_or_start_a_line():
    assert exports._comment_safe("a --> b\nc", "md") == "a - -> b c"
    assert exports._comment_safe("a --> b\nc", "csv") == "a --> b c"
