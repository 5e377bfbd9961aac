"""The study operations in the API (issue 15): clone, pilot, models added to a draft, and the
screening; who may use each (owner, shared researcher, other researcher, staff); bad input is
a 400 (or 409) that says why and writes nothing."""

from __future__ import annotations

import pytest

from generation.models import Image
from ratings.models import HiddenImage, Study
from tests.factories import ModelSpecFactory, StudyWithImagesFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def open_study(researcher, four_prompts):
    study = StudyWithImagesFactory(name="Versus", specs__n=2, prompt_set=four_prompts, owner=researcher, screened=False, no_checks=True)
    return study


def test_clone_makes_a_draft_owned_by_the_caller_with_new_secrets(api, other_api, staff_api, open_study, other_researcher):
    assert other_api.post(f"/api/v1/studies/{open_study.pk}/clone/", {}, format="json").status_code == 404
    images = Image.objects.count()
    response = api.post(f"/api/v1/studies/{open_study.pk}/clone/", {"name": "Versus again"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "Versus again" and body["status"] == "draft" and body["owner"] == "ada" and body["cloned_from"] == open_study.pk
    assert [m["id"] for m in body["models"]] == [m.pk for m in open_study.job.specs.order_by("pk")]
    clone = Study.objects.get(pk=body["id"])
    assert clone.link_key != open_study.link_key and clone.completion_code != open_study.completion_code
    assert Image.objects.count() == images
    assert api.post(f"/api/v1/studies/{open_study.pk}/clone/", {"name": ""}, format="json").status_code == 400
    # Shared with grace: she may clone it, and owns her clone.
    api.post(f"/api/v1/studies/{open_study.pk}/share/", {"usernames": ["grace"]}, format="json")
    response = other_api.post(f"/api/v1/studies/{open_study.pk}/clone/", {}, format="json")
    assert response.status_code == 201 and response.json()["owner"] == "grace"
    assert staff_api.post(f"/api/v1/studies/{open_study.pk}/clone/", {}, format="json").status_code == 201


def test_models_are_added_to_a_draft_only(api, open_study):
    clone_id = api.post(f"/api/v1/studies/{open_study.pk}/clone/", {}, format="json").json()["id"]
    extra = ModelSpecFactory(slug="third-model")
    response = api.post(f"/api/v1/studies/{open_study.pk}/models/", {"models": ["third-model"]}, format="json")
    assert response.status_code == 409 and "draft only" in response.json()["detail"]
    response = api.post(f"/api/v1/studies/{clone_id}/models/", {"models": ["no-such-model"]}, format="json")
    assert response.status_code == 400 and "Unknown model spec" in response.json()["models"][0]
    response = api.post(f"/api/v1/studies/{clone_id}/models/", {"models": ["third-model"]}, format="json")
    assert response.status_code == 200, response.json()
    assert extra.pk in [m["id"] for m in response.json()["models"]]
    assert Study.objects.get(pk=open_study.pk).job.specs.count() == 2


def test_a_pilot_is_started_by_the_owner_or_staff_only(api, other_api, staff_api, open_study):
    api.post(f"/api/v1/studies/{open_study.pk}/share/", {"usernames": ["grace"]}, format="json")
    response = other_api.post(f"/api/v1/studies/{open_study.pk}/pilot/", {}, format="json")
    assert response.status_code == 403 and "owner and staff" in response.json()["detail"]
    response = api.post(f"/api/v1/studies/{open_study.pk}/pilot/", {"quota_per_rater": 0}, format="json")
    assert response.status_code == 400 and not Study.objects.filter(pilot_of=open_study).exists()
    response = api.post(f"/api/v1/studies/{open_study.pk}/pilot/", {"quota_per_rater": 10, "max_participants": 20}, format="json")
    assert response.status_code == 201, response.json()
    pilot = response.json()
    assert pilot["pilot_of"] == open_study.pk and pilot["quota_per_rater"] == 10 and pilot["status"] == "generating"
    assert pilot["shared_with"] == ["grace"] and pilot["screening"]["screened_with"] == open_study.pk
    assert other_api.get(f"/api/v1/studies/{pilot['id']}/").status_code == 200  # shared as its main study
    response = staff_api.post(f"/api/v1/studies/{open_study.pk}/pilot/", {}, format="json")
    assert response.status_code == 409 and "already has its pilot" in response.json()["detail"]


def test_screening_through_the_api(api, other_api, open_study):
    assert other_api.get(f"/api/v1/studies/{open_study.pk}/screening/").status_code == 404
    grid = api.get(f"/api/v1/studies/{open_study.pk}/screening/").json()
    assert len(grid["rows"]) == 4 and len(grid["rows"][0]["cells"]) == 2
    assert grid["review"]["crowd_links_open"] is False
    image = grid["rows"][0]["cells"][0]["image"]

    response = api.post(f"/api/v1/studies/{open_study.pk}/screening/hide/", {"images": [image], "reason": "nope"}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    response = api.post(f"/api/v1/studies/{open_study.pk}/screening/hide/", {"images": [image, 10**9], "reason": "broken"}, format="json")
    assert response.status_code == 400 and "Not images of this study" in response.json()["images"][0]
    assert not HiddenImage.objects.exists()
    response = api.post(f"/api/v1/studies/{open_study.pk}/screening/hide/", {"images": [image], "reason": "broken", "note": "blank"}, format="json")
    assert response.status_code == 200 and response.json()["hidden"] == 1 and response.json()["pairs_retired"] == 1
    grid = api.get(f"/api/v1/studies/{open_study.pk}/screening/").json()
    assert grid["rows"][0]["cells"][0]["hidden"] and sum(row["hidden"] for row in grid["hidden_per_model"]) == 1
    board = api.get(f"/api/v1/studies/{open_study.pk}/leaderboard/", {"rounds": 10}).json()
    assert [row["hidden"] for row in board["hidden_images"]] == [1, 0]
    assert other_api.post(f"/api/v1/studies/{open_study.pk}/screening/hide/", {"images": [image], "reason": "broken"}, format="json").status_code == 404

    response = api.post(f"/api/v1/studies/{open_study.pk}/screening/unhide/", {"images": [image]}, format="json")
    assert response.status_code == 200 and response.json()["shown"] == 1
    response = api.post(f"/api/v1/studies/{open_study.pk}/screening/review/", {}, format="json")
    assert response.status_code == 200 and response.json()["crowd_links_open"] and response.json()["reviewed_by"] == "ada"


def test_only_the_owner_or_staff_skip_the_screening(api, other_api, staff_api, open_study):
    api.post(f"/api/v1/studies/{open_study.pk}/share/", {"usernames": ["grace"]}, format="json")
    response = other_api.post(f"/api/v1/studies/{open_study.pk}/screening/review/", {"skip": True}, format="json")
    assert response.status_code == 403 and Study.objects.get(pk=open_study.pk).images_reviewed_at is None
    response = staff_api.post(f"/api/v1/studies/{open_study.pk}/screening/review/", {"skip": True}, format="json")
    assert response.status_code == 200 and response.json()["skipped"] and response.json()["reviewed_by"] == "staff"
    assert api.get(f"/api/v1/studies/{open_study.pk}/").json()["screening"]["crowd_links_open"] is True


def test_a_draft_cannot_be_marked_screened_before_its_images_exist(api, draft_study):
    response = api.post(f"/api/v1/studies/{draft_study.pk}/screening/review/", {}, format="json")
    assert response.status_code == 409 and "images are made" in response.json()["detail"]
    assert Study.objects.get(pk=draft_study.pk).images_reviewed_at is None


def test_crowd_links_through_the_api_say_where_they_go_and_whether_they_let_anyone_in(api, other_api, open_study, draft_study):
    from django.test import Client

    assert other_api.get(f"/api/v1/studies/{open_study.pk}/links/").status_code == 404  # a secret of the study's team
    body = api.get(f"/api/v1/studies/{open_study.pk}/links/").json()
    assert body["open_to_crowd"] is False and "not been screened" in body["problem"]
    prolific, mturk = body["prolific"]["url"], body["mturk"]["url"]
    assert prolific.startswith(f"http://testserver/rate/{open_study.pk}/join/") and "PROLIFIC_PID={{%PROLIFIC_PID%}}" in prolific
    assert "?" not in mturk and "turkSubmitTo" in body["mturk"]["use"] and "completion_url" in body["prolific"]["use"]
    assert api.post(f"/api/v1/studies/{open_study.pk}/screening/review/", {}, format="json").status_code == 200
    body = api.get(f"/api/v1/studies/{open_study.pk}/links/").json()
    assert body["open_to_crowd"] is True and body["problem"] == ""
    # The links work as handed out: Prolific fills its placeholders, MTurk appends its parameters.
    joined = Client().get(prolific.replace("{{%PROLIFIC_PID%}}", "P1").replace("{{%STUDY_ID%}}", "S1").replace("{{%SESSION_ID%}}", "X1"))
    assert joined.status_code == 302 and joined["Location"] == f"/rate/{open_study.pk}/"
    joined = Client().get(mturk + "?assignmentId=A1&hitId=H1&turkSubmitTo=https%3A%2F%2Fworkersandbox.mturk.com&workerId=W1")
    assert joined.status_code == 302 and joined["Location"] == f"/rate/{open_study.pk}/"
    body = api.get(f"/api/v1/studies/{draft_study.pk}/links/").json()
    assert body["open_to_crowd"] is False and "still a draft" in body["problem"]
