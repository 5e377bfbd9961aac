"""Who reaches what: every URL the project routes, for an anonymous visitor, a rater, a
researcher (token) and staff, checked against one table of rules. A new URL that no rule
covers fails the test until someone decides who may see it. Also: CSRF on every form post,
and a rater never reaches another rater's comparison."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from ratings import services, study_services
from ratings.models import Comparison
from tests.ratings.conftest import make_study  # noqa: F401  (the fast study fixture, files without diffusers)
from tests.ratings.rater_client import RaterSession, RecordingClient

pytestmark = pytest.mark.django_db

LOGIN = {302}  # redirected to log in
# rater: an external participant (study link, signed cookie); account_rater: an invited login.
ROLES = ("anonymous", "rater", "account_rater", "researcher", "staff")
# (URL prefix, {role: allowed statuses}); the first matching prefix decides.
API_REFUSED = {"anonymous": {401, 403}, "rater": {401, 403}, "account_rater": {403}}
RULES = [
    ("healthz/", dict.fromkeys(ROLES, {200})),
    ("livez/", dict.fromkeys(ROLES, {200})),
    ("favicon.ico", dict.fromkeys(ROLES, {301})),  # to the static icon
    ("login/", dict.fromkeys(ROLES, {200, 302})),
    ("logout/", dict.fromkeys(ROLES, {405})),  # logging out is a POST
    ("api/v1/auth/token/", dict.fromkeys(ROLES, {405})),  # POST only
    # The schema and its Swagger page describe the API and hold no study data.
    ("api/schema/", dict.fromkeys(ROLES, {200})),
    ("api/docs/", dict.fromkeys(ROLES, {200})),
    ("api/", {**API_REFUSED, "researcher": {200, 404, 405}, "staff": {200, 404, 405}}),
    ("dashboard/", {"anonymous": LOGIN, "rater": LOGIN, "account_rater": LOGIN | {403}, "researcher": LOGIN, "staff": {200}}),
    ("studies/", {"anonymous": LOGIN, "rater": LOGIN, "account_rater": {403}, "researcher": LOGIN, "staff": {200, 404}}),
    ("admin/", dict.fromkeys(ROLES, LOGIN) | {"staff": {200}}),
    # The rater's pages: a participant reaches their own; nobody else gets a pair, an image or
    # an example (405: the URL takes only POST, refused before anything is read).
    ("rate/", {
        "anonymous": LOGIN | {403, 404, 405}, "researcher": LOGIN | {403, 404, 405},
        "rater": {200, 302, 403, 404, 405}, "account_rater": {200, 302, 403, 404, 405}, "staff": LOGIN | {403, 404, 405},
    }),
    ("", {"anonymous": LOGIN, "rater": LOGIN, "account_rater": {200}, "researcher": LOGIN, "staff": {200}}),  # home
]


def routes():
    """(route text, name) of every URL pattern, the admin's as one entry, format-suffix twins skipped."""

    def walk(resolver, prefix=""):
        for pattern in resolver.url_patterns:
            text = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if text.startswith("admin/"):
                    yield "admin/", "admin"
                    continue
                yield from walk(pattern, text)
            elif isinstance(pattern, URLPattern) and "(?P<format>" not in text and "<drf_format_suffix" not in text:
                yield text, pattern.name

    return list(dict.fromkeys(walk(get_resolver())))


def concrete(route: str, values: dict) -> str:
    path = route.replace("^", "").replace("$", "")
    path = re.sub(r"\(\?P<pk>[^)]*\)", values["pk"], path)
    path = re.sub(r"\(\?P<rater_id>[^)]*\)", values["rater_id"], path)
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], path)
    return "/" + path


def rule_for(path: str) -> dict:
    for prefix, allowed in RULES:
        if path[1:].startswith(prefix):
            return allowed
    raise AssertionError(f"No access rule covers {path}: add one to RULES")


@pytest.fixture
def world(make_study):
    study = make_study(n_models=3, n_prompts=4, attention_check_rate=0, repeat_share=0)
    User = get_user_model()
    owner = User.objects.create_user("owner", password="pw")
    study.owner = owner
    study.save(update_fields=["owner"])
    staff = User.objects.create_user("staff", password="pw", is_staff=True, is_superuser=True)
    rater_session = RaterSession(RecordingClient(), study)
    rater_session.join_prolific("a1b2c3d4e5f6")
    rater_session.start()
    other_rater = RaterSession(RecordingClient(), study)
    other_rater.join_prolific("f6e5d4c3b2a1")
    other_rater.start()
    researcher_client = APIClient()
    researcher_client.credentials(HTTP_AUTHORIZATION=f"Token {study_services.researcher_grant(user=owner).key}")
    staff_client = Client()
    staff_client.force_login(staff)
    account_client = Client()
    account_user = User.objects.create_user("invited", password="pw")
    services.rater_invite(study=study, user=account_user)
    account_client.force_login(account_user)
    other_comparison = Comparison.objects.get(token=other_rater.token)
    values = {
        "pk": str(study.pk), "study_id": str(study.pk), "rater_id": str(other_comparison.rater_id),
        "signature": "not-a-real-signature", "token": str(other_comparison.token), "side": "left",
        "kind": "clear", "fmt": "csv", "plot": "ratings",  # plots come as png or svg: a .csv plot is a 404
    }
    return {
        "clients": {"anonymous": Client(), "rater": rater_session.client, "account_rater": account_client, "researcher": researcher_client, "staff": staff_client},
        "values": values,
        "other_comparison": other_comparison,
        "study": study,
    }


def test_every_url_answers_each_role_as_the_rules_say(world):
    failures = []
    checked = 0
    for route, name in routes():
        path = concrete(route, world["values"])
        allowed = rule_for(path)
        for role, client in world["clients"].items():
            status = client.get(path).status_code
            checked += 1
            if status not in allowed[role]:
                failures.append(f"{role:10} GET {path} ({name}) -> {status}, allowed {sorted(allowed[role])}")
    assert checked > len(ROLES) * 40
    assert failures == [], "\n" + "\n".join(failures)


def test_a_rater_never_reaches_another_raters_comparison(world):
    rater = world["clients"]["rater"]
    study = world["study"]
    other = world["other_comparison"]
    for side in ("left", "right"):
        assert rater.get(f"/rate/{study.pk}/image/{other.token}/{side}/").status_code in (403, 404)
    csrf = rater.cookies["csrftoken"].value
    body = '{"token": "%s", "answers": {"prompt_adherence": "left", "image_quality": "left"}, "response_ms": 5000}' % other.token
    response = rater.post(f"/rate/{study.pk}/vote/", body, content_type="application/json", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 403
    assert not other.votes.exists()
    tampered = str(other.token)[:-4] + "beef"
    body = body.replace(str(other.token), tampered)
    response = rater.post(f"/rate/{study.pk}/vote/", body, content_type="application/json", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code in (403, 404) and response.json()["message"]


def test_csrf_is_enforced_on_every_form_post(world):
    """Every non-API URL refuses a POST without a CSRF token from a logged-in browser session."""
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(get_user_model().objects.get(username="staff"))
    rater = Client(enforce_csrf_checks=True)
    rater.cookies = world["clients"]["rater"].cookies
    refused = []
    for route, name in routes():
        path = concrete(route, world["values"])
        if path.startswith("/api/"):
            continue  # token-authenticated, no cookies: CSRF does not apply
        for who, client in (("staff", strict), ("rater", rater)):
            status = client.post(path, {"anything": "1"}).status_code
            if status != 403:
                refused.append(f"{who} POST {path} ({name}) -> {status}")
    allowed_without_csrf = {"healthz", "livez"}
    assert [line for line in refused if not any(f"({name})" in line for name in allowed_without_csrf)] == []
