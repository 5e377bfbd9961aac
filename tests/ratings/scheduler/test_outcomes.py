"""The outcomes of serve, vote and report: their statuses and HTTP codes are public (the rating
page's script and crowd integrations read them), so they are pinned here."""

import pytest

from ratings.scheduler import Outcome

PUBLIC_HTTP_CODES = {
    "ok": 200, "recorded": 200, "duplicate": 200, "reported": 200, "forbidden": 403, "invalid": 400,
    "too_fast": 429, "expired": 409, "closed": 409, "finished": 409, "quota": 409,
}


def test_every_outcome_answers_with_its_public_status_and_http_code():
    assert {outcome.status: outcome.http_status for outcome in Outcome} == PUBLIC_HTTP_CODES


def test_a_status_string_finds_its_outcome_and_an_unknown_one_is_refused():
    assert all(Outcome.of(status).status == status for status in PUBLIC_HTTP_CODES)
    with pytest.raises(ValueError, match="No outcome has the status 'accepted'"):
        Outcome.of("accepted")


def test_every_refusal_tells_the_rater_what_happened():
    refusals = [o for o in Outcome if o.http_status != 200] + [Outcome.REPORTED]
    assert all(o.message.endswith(".") and o.message[0].isupper() for o in refusals)
