"""Logs keep no personal data (issue 25, item 11): after crowd joins (Prolific and MTurk, good
and bad links, Django's own 4xx warnings included) and a withdrawal, no line the deployment's
log handler writes holds a platform id or session id, in text or JSON; and after the withdrawal
no table of the application holds the withdrawn participant's ids."""

from __future__ import annotations

import io
import logging

import pytest
from django.db import connection

from evalsite.observability import RedactFilter
from tests.ratings.rater_client import RaterSession, RecordingClient, study_link

pytestmark = pytest.mark.django_db

PID, PROLIFIC_STUDY, PROLIFIC_SESSION = "5f1a2b3c4d5e6f7a8b9c0d1e", "60aa11bb22cc33dd44ee55ff", "sess7e1f2a3b4c5d"
WORKER, ASSIGNMENT, HIT = "A1WORKER9ZQ7", "3ASSIGNX8Y7Z6W5V", "3HITQ1W2E3R4T5Y6"
SECRETS = (PID, PROLIFIC_STUDY, PROLIFIC_SESSION, WORKER, ASSIGNMENT, HIT)


@pytest.fixture(params=["text", "json"])
def deployment_log(request):
    """What the deployment's console handler (settings.LOGGING) writes, in either format."""
    from pythonjsonlogger.json import JsonFormatter

    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, RedactFilter) for f in h.filters))
    stream = io.StringIO()
    previous_stream, previous_formatter = handler.setStream(stream), handler.formatter
    if request.param == "json":
        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(study_id)s"))
    try:
        yield stream
    finally:
        handler.setStream(previous_stream)
        handler.setFormatter(previous_formatter)


def test_no_log_line_holds_a_crowd_id_after_joins_bad_links_and_a_withdrawal(make_study, deployment_log):
    study = make_study(n_models=2, n_prompts=3)
    prolific = RaterSession(RecordingClient(), study)
    assert prolific.join_prolific(PID, PROLIFIC_STUDY, PROLIFIC_SESSION).status_code == 302
    prolific.start()
    assert prolific.vote().status_code == 200
    mturk = RaterSession(RecordingClient(), study)
    assert mturk.client.get(study_link(study, "mturk", workerId=WORKER, assignmentId=ASSIGNMENT, hitId=HIT)).status_code == 302
    # The requests Django itself warns about (4xx), each carrying ids in its query string.
    bad_signature = study_link(study, "prolific", PROLIFIC_PID=PID, STUDY_ID=PROLIFIC_STUDY, SESSION_ID=PROLIFIC_SESSION).replace("/join/", "/join/x")
    assert mturk.client.get(bad_signature).status_code in (403, 404)
    bad_submit = study_link(study, "mturk", workerId=WORKER, assignmentId=ASSIGNMENT, hitId=HIT, turkSubmitTo="https%3A%2F%2Fevil.example")
    assert mturk.client.get(bad_submit).status_code == 400
    assert mturk.client.get(study_link(study, "prolific", PROLIFIC_PID="bad id!", STUDY_ID=PROLIFIC_STUDY, SESSION_ID=PROLIFIC_SESSION)).status_code == 400
    assert prolific.post_form(f"/rate/{study.pk}/withdraw/").status_code == 200

    written = deployment_log.getvalue()
    assert "Bad Request: /rate/" in written and "Forbidden: /rate/" in written, written
    leaked = [secret for secret in SECRETS if secret in written]
    assert not leaked, f"log lines hold {leaked}:\n{written}"
    assert written.count("\n") >= 8  # the request lines were written: the check above looked at something


def test_django_4xx_warning_with_the_request_attached_prints_no_ids(deployment_log, rf):
    """Django's log_response attaches the request itself; a JSON formatter prints its repr, the
    full query string. One such record, written through the deployment's handler."""
    request = rf.get("/join/1/sig/", {"PROLIFIC_PID": PID, "STUDY_ID": PROLIFIC_STUDY, "SESSION_ID": PROLIFIC_SESSION})
    logging.getLogger("django.request").warning("Bad Request: %s", request.get_full_path(), extra={"status_code": 400, "request": request})
    written = deployment_log.getvalue()
    assert "PROLIFIC_PID=[redacted]" in written and "SESSION_ID=[redacted]" in written, written
    assert not [secret for secret in SECRETS if secret in written], written


def test_withdrawal_leaves_no_platform_id_in_any_table(make_study):
    study = make_study(n_models=2, n_prompts=3)
    session = RaterSession(RecordingClient(), study)
    session.join_prolific(PID, PROLIFIC_STUDY, PROLIFIC_SESSION)
    session.start()
    session.vote()
    assert _tables_holding(PID), "the join must have stored the id somewhere for this test to mean anything"
    assert session.post_form(f"/rate/{study.pk}/withdraw/").status_code == 200
    for secret in (PID, PROLIFIC_STUDY, PROLIFIC_SESSION):
        assert _tables_holding(secret) == [], secret


def _tables_holding(text: str) -> list[str]:
    """Every table.column of the application's database whose text holds ``text``."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND data_type IN ('text', 'character varying', 'jsonb', 'json')"
        )
        columns = cursor.fetchall()
        found = []
        for table, column in columns:
            cursor.execute(f'SELECT 1 FROM "{table}" WHERE "{column}"::text LIKE %s LIMIT 1', [f"%{text}%"])
            if cursor.fetchone():
                found.append(f"{table}.{column}")
    return found
