"""Who reaches the API: researchers by token, staff; never anonymous visitors or raters. A
researcher reaches only their own studies and those shared with them."""

import pytest
from rest_framework.test import APIClient

from ratings import raters, studies
from ratings.models import Study
from tests.factories import UserFactory


def test_anonymous_requests_are_refused_with_401(db):
    response = APIClient().get("/api/v1/studies/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_a_raters_session_gets_403_on_every_kind_of_endpoint(client, draft_study):
    user = UserFactory(username="rater")
    raters.rater_invite(study=draft_study, user=user)
    client.force_login(user)
    for url in ["/api/v1/studies/", f"/api/v1/studies/{draft_study.pk}/", "/api/v1/specs/", "/api/v1/prompt-sets/",
                f"/api/v1/studies/{draft_study.pk}/progress/", f"/api/v1/studies/{draft_study.pk}/raters/"]:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "rater accounts cannot use it" in response.json()["detail"]
    response = client.post(f"/api/v1/studies/{draft_study.pk}/start/")
    assert response.status_code == 403
    draft_study.refresh_from_db()
    assert draft_study.status == Study.Status.DRAFT


def test_token_endpoint_gives_researchers_their_token_and_raters_none(researcher, db):
    studies.researcher_grant(user=researcher)
    response = APIClient().post("/api/v1/auth/token/", {"username": "ada", "password": "ada-password"})
    assert response.status_code == 200
    token = response.json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/studies/").status_code == 200

    UserFactory(username="rater", password="rater-password")
    response = APIClient().post("/api/v1/auth/token/", {"username": "rater", "password": "rater-password"})
    wrong = APIClient().post("/api/v1/auth/token/", {"username": "ada", "password": "wrong"})
    # A rater's right password gets the wrong password's answer: the endpoint confirms nothing (issue 18).
    assert response.status_code == wrong.status_code == 400 and response.json() == wrong.json()


def test_researcher_sees_own_and_shared_studies_only_and_staff_sees_all(api, other_api, staff_api, other_researcher, draft_study):
    assert [s["id"] for s in api.get("/api/v1/studies/").json()["results"]] == [draft_study.pk]
    assert other_api.get("/api/v1/studies/").json()["results"] == []
    assert other_api.get(f"/api/v1/studies/{draft_study.pk}/").status_code == 404
    assert other_api.post(f"/api/v1/studies/{draft_study.pk}/start/").status_code == 404
    assert staff_api.get(f"/api/v1/studies/{draft_study.pk}/").status_code == 200

    response = api.post(f"/api/v1/studies/{draft_study.pk}/share/", {"usernames": ["grace"]}, format="json")
    assert response.status_code == 200
    assert response.json()["shared_with"] == ["grace"]
    assert other_api.get(f"/api/v1/studies/{draft_study.pk}/").json()["name"] == "Draft"
    # A researcher the study is shared with runs it, but does not re-share it.
    assert other_api.post(f"/api/v1/studies/{draft_study.pk}/close/").status_code == 200
    response = other_api.post(f"/api/v1/studies/{draft_study.pk}/share/", {"usernames": ["grace"], "remove": True}, format="json")
    assert response.status_code == 403

    api.post(f"/api/v1/studies/{draft_study.pk}/share/", {"usernames": ["grace"], "remove": True}, format="json")
    assert other_api.get(f"/api/v1/studies/{draft_study.pk}/").status_code == 404


def test_sharing_refuses_unknown_users_and_non_researchers(api, draft_study):
    UserFactory(username="rater")
    response = api.post(f"/api/v1/studies/{draft_study.pk}/share/", {"usernames": ["nobody"]}, format="json")
    assert response.status_code == 400
    assert response.json() == {"usernames": [
        "No researcher named 'nobody': share only with researchers' usernames (an unknown name and a rater's account get this same answer)."
    ]}
    response = api.post(f"/api/v1/studies/{draft_study.pk}/share/", {"usernames": ["rater"]}, format="json")
    assert response.status_code == 400
    assert response.json()["usernames"][0].startswith("No researcher named 'rater':")
    assert draft_study.shared_with.count() == 0


def test_create_researcher_command_prints_a_working_token(db, capsys):
    from django.core.management import call_command

    call_command("create_researcher", "lin", "--password", "a-long-password")
    token = capsys.readouterr().out.strip().rsplit(" ", 1)[1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/specs/").status_code == 200
