"""Logins (issue 18): a lockout after repeated wrong passwords on /login/ and the token
endpoint, a token endpoint that does not confirm a rater's password, Django's standard
password validators, and a Content-Security-Policy on every page."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from rest_framework.test import APIClient

from ratings import studies
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-staple"


def test_the_token_endpoint_answers_a_raters_right_password_as_a_wrong_one():
    UserFactory(username="rater1", password=PASSWORD)
    api = APIClient()
    right = api.post("/api/v1/auth/token/", {"username": "rater1", "password": PASSWORD}, format="json")
    wrong = api.post("/api/v1/auth/token/", {"username": "rater1", "password": "not-the-password"}, format="json")
    nobody = api.post("/api/v1/auth/token/", {"username": "nobody", "password": "not-the-password"}, format="json")
    assert right.status_code == wrong.status_code == nobody.status_code == 400
    assert right.json() == wrong.json() == nobody.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    researcher = UserFactory(username="ada", password=PASSWORD)
    studies.researcher_grant(user=researcher)
    assert api.post("/api/v1/auth/token/", {"username": "ada", "password": PASSWORD}, format="json").json()["token"]


def test_repeated_wrong_passwords_lock_the_username_on_the_login_page_and_the_token_endpoint(settings):
    limit = settings.AXES_FAILURE_LIMIT
    user = UserFactory(username="ada", password=PASSWORD)
    studies.researcher_grant(user=user)
    browser = Client()
    for attempt in range(limit - 1):
        response = browser.post("/login/", {"username": "ada", "password": f"guess-{attempt}"})
        assert response.status_code == 200 and "did not match" in response.content.decode()
    api = APIClient()
    # The failure that reaches the limit, through the other door, is answered as locked already.
    last = api.post("/api/v1/auth/token/", {"username": "ada", "password": "last-guess"}, format="json")
    assert last.status_code == 429
    # The limit is reached: even the right password is refused for a while, on both doors.
    locked = browser.post("/login/", {"username": "ada", "password": PASSWORD})
    assert locked.status_code == 429 and "Too many failed log-in attempts" in locked.content.decode()
    token = api.post("/api/v1/auth/token/", {"username": "ada", "password": PASSWORD}, format="json")
    assert token.status_code == 429 and "too many login attempts" in token.json()["detail"]
    # Another username from another address is not locked; the same address is, for a while.
    UserFactory(username="grace", password=PASSWORD)
    assert Client(REMOTE_ADDR="10.1.2.3").post("/login/", {"username": "grace", "password": PASSWORD}).status_code == 302
    assert Client().post("/login/", {"username": "grace", "password": PASSWORD}).status_code == 429


def test_a_successful_login_resets_the_count():
    UserFactory(username="ada", password=PASSWORD)
    browser = Client()
    for round_ in range(3):
        for attempt in range(5):
            browser.post("/login/", {"username": "ada", "password": f"guess-{round_}-{attempt}"})
        assert browser.post("/login/", {"username": "ada", "password": PASSWORD}).status_code == 302
        browser.post("/logout/")


@pytest.mark.parametrize("password,why", [
    ("short1", "too short"), ("password1234", "too common"), ("38291048572910", "entirely numeric"), ("ada-lovelace-1815", "too similar"),
])
def test_the_standard_password_validators_are_on(password, why):
    user = get_user_model()(username="ada-lovelace", first_name="Ada", last_name="Lovelace", email="ada-lovelace@example.org")
    with pytest.raises(ValidationError) as refused:
        validate_password(password, user=user)
    assert why in " ".join(refused.value.messages)
    validate_password("plum orchard at dusk", user=user)


def test_every_page_carries_a_content_security_policy_without_inline_scripts(client):
    for path in ("/login/", "/api/docs/", "/healthz/"):
        policy = client.get(path)["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
        assert directives["script-src"] == "'self'" and directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    docs = client.get("/api/docs/").content.decode()
    assert "<script>" not in docs and "/api/docs/?script" in docs
    assert client.get("/api/docs/?script").status_code == 200
