"""Schemathesis against /api/schema/: every operation, a researcher's token, a bounded number
of generated requests each; no response may be a server error. Requests go through the WSGI
application in-process, on PostgreSQL in autocommit mode as in production."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from evalsite.wsgi import application
from ratings import studies
from tests.factories import StudyFactory, UserFactory

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 12

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture
def researcher_token(transactional_db, tiny_specs):
    user = UserFactory(username="fuzzer", password="fuzzer-password")
    token = studies.researcher_grant(user=user).key
    # Something for the fuzzer to find: a study the researcher owns.
    StudyFactory(name="Fuzzed", specs=tiny_specs[:2], prompt_set__size=2, owner=user)
    return token


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_operation_answers_with_a_server_error(case, researcher_token):
    response = case.call(headers={"Authorization": f"Token {researcher_token}"})
    assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
