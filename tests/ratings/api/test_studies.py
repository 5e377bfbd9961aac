"""Studies through the API: create, start (once), open, pause, resume, close, progress,
raters with their statistics, flag and exclude, and the image export."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from generation.models import DisplayCopy, GenerationJob, Image
from ratings.models import Rater, Study, Vote


def create_payload(prompt_set_, models=("tiny-turbo-1step", "tiny-lcm-4step"), **overrides) -> dict:
    return {"name": "Turbo vs LCM", "models": list(models), "prompt_set": prompt_set_.pk, "seeds": [0, 1],
            "display_size": 64} | overrides


def test_create_study_with_models_by_slug_and_read_it_back(api, tiny_specs, prompt_set, researcher):
    response = api.post("/api/v1/studies/", create_payload(prompt_set, criteria=["image_quality"], allow_ties=True), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert sorted(m["slug"] for m in body["models"]) == ["tiny-lcm-4step", "tiny-turbo-1step"]
    assert (body["status"], body["owner"], body["seeds"], body["criteria"], body["allow_ties"], body["display_size"]) == (
        "draft", "ada", [0, 1], ["image_quality"], True, 64,
    )
    assert api.get(f"/api/v1/studies/{body['id']}/").json() == body
    assert Study.objects.get().owner == researcher


def test_create_a_study_with_a_set_criterion_and_read_it_back(api, tiny_specs, prompt_set):
    response = api.post("/api/v1/studies/", create_payload(prompt_set, set_criteria=["diversity"]), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["criteria"], body["set_criteria"]) == (["prompt_adherence", "image_quality"], ["diversity"])
    assert api.get(f"/api/v1/studies/{body['id']}/").json()["set_criteria"] == ["diversity"]
    plain = api.post("/api/v1/studies/", create_payload(prompt_set, name="No sets"), format="json").json()
    assert plain["set_criteria"] == []


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"models": ["tiny-turbo-1step", "midjourney-v9"]}, "models", "Unknown model spec 'midjourney-v9'. List them with GET /api/v1/specs/."),
        ({"models": ["tiny-turbo-1step", "tiny-turbo-1step@7"]}, "models", "Unknown model spec 'tiny-turbo-1step@7'. List them with GET /api/v1/specs/."),
        ({"models": ["tiny-turbo-1step", "tiny-turbo-1step@1"]}, "models", "'tiny-turbo-1step@1' is listed twice."),
        ({"models": ["tiny-turbo-1step"]}, "models", "Ensure this field has at least 2 elements."),
        ({"seeds": [3, 3]}, "seeds", "Seeds must be distinct."),
        ({"criteria": ["Image Quality"]}, "criteria", "Criteria are lower-case words joined by _, e.g. image_quality; not Image Quality."),
        ({"prompt_set": 424242}, "prompt_set", 'Invalid pk "424242" - object does not exist.'),
        ({"set_criteria": ["Diversity"]}, "set_criteria", "Criteria are lower-case words joined by _, e.g. image_quality; not Diversity."),
        (
            {"set_criteria": ["diversity"], "seeds": [9]}, "set_criteria",
            "A set criterion (diversity) compares the images of every seed of a prompt, so the study needs at least two seeds; "
            "it has 1 (9). Add seeds, or leave set_criteria empty.",
        ),
        ({"unit": "judge"}, "unit", "Unknown unit 'judge': use comparison, prompt or prompt_rater."),
        (
            {"set_criteria": ["image_quality"]}, "set_criteria",
            "Criteria names must be unique across criteria and set criteria; image_quality is given twice.",
        ),
    ],
)
def test_bad_study_requests_are_400_naming_the_field_and_create_nothing(api, tiny_specs, prompt_set, overrides, field, message):
    response = api.post("/api/v1/studies/", create_payload(prompt_set, **overrides), format="json")
    assert response.status_code == 400
    assert message in response.json()[field]
    assert Study.objects.count() == 0 and GenerationJob.objects.count() == 0


def test_a_new_study_is_about_prompts_like_these_unless_told_and_says_so(api, tiny_specs, prompt_set):
    """Issue 24: every study names its unit (default prompt) and its stopping rule in words."""
    body = api.post("/api/v1/studies/", create_payload(prompt_set), format="json").json()
    assert body["unit"] == "prompt" and "prompts like these" in body["unit_text"]
    assert body["stopping_rule"].startswith("Fixed design: every slot is filled to 3 comparisons")
    body = api.post("/api/v1/studies/", create_payload(
        prompt_set, unit="prompt_rater", sampling="adaptive", stop_when="separated", vote_budget=5000,
    ), format="json").json()
    assert body["unit"] == "prompt_rater" and "prompts and raters like these" in body["unit_text"]
    assert "two-way cluster-robust variance (prompt and rater)" in body["stopping_rule"] and "at most 5,000 comparisons" in body["stopping_rule"]
    progress = api.get(f"/api/v1/studies/{body['id']}/progress/").json()
    assert progress["sampling"]["unit"] == "prompt_rater" and progress["sampling"]["stopping_rule"] == body["stopping_rule"]


def test_start_queues_generation_once_and_a_second_start_is_409(api, draft_study, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/studies/{draft_study.pk}/start/")
    assert response.status_code == 202
    assert response.json() == {"status": "generating", "batches_queued": 2}  # 2 models x 4 prompts, batches of 4
    assert Image.objects.count() == 8
    assert DisplayCopy.objects.filter(size=64).count() == 8
    again = api.post(f"/api/v1/studies/{draft_study.pk}/start/")
    assert again.status_code == 409
    assert again.json() == {"detail": "Generation of study 'Draft' was already started (status: Generating images); it can be started only once."}


def test_create_with_start_true_generates_at_once(api, tiny_specs, four_prompts, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/studies/", create_payload(four_prompts, seeds=[5], start=True), format="json")
    assert response.status_code == 201 and response.json()["status"] == "generating"
    assert Image.objects.filter(seed=5).count() == 8


def test_lifecycle_open_pause_resume_close_and_refusals_in_between(api, draft_study, django_capture_on_commit_callbacks):
    url = f"/api/v1/studies/{draft_study.pk}"
    assert api.post(f"{url}/pause/").status_code == 409
    response = api.post(f"{url}/open/")
    assert response.status_code == 409
    assert response.json()["detail"] == "Only 0 of 8 images are made; open the study for rating when all exist."
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"{url}/start/")
    assert api.post(f"{url}/open/").json() == {"status": "rating"}
    assert api.post(f"{url}/resume/").json() == {"detail": "Study 'Draft' is open for rating, not paused; nothing to resume."}
    assert api.post(f"{url}/pause/").json() == {"status": "paused"}
    assert api.post(f"{url}/resume/").json() == {"status": "rating"}
    assert api.post(f"{url}/close/").json() == {"status": "closed"}
    response = api.post(f"{url}/close/")
    assert response.status_code == 409 and response.json()["detail"] == "Study 'Draft' is already closed."
    assert api.post(f"{url}/start/").status_code == 409
    assert api.post(f"{url}/open/").status_code == 409


def test_studies_filter_by_status_and_name(api, tiny_specs, prompt_set):
    for name in ("alpha", "beta"):
        api.post("/api/v1/studies/", create_payload(prompt_set, name=name), format="json")
    Study.objects.filter(name="beta").update(status=Study.Status.CLOSED)
    assert [s["name"] for s in api.get("/api/v1/studies/", {"status": "closed"}).json()["results"]] == ["beta"]
    assert [s["name"] for s in api.get("/api/v1/studies/", {"name": "ALP"}).json()["results"]] == ["alpha"]
    assert api.get("/api/v1/studies/", {"status": "nonsense"}).status_code == 400


def test_study_with_an_external_system_starts_only_once_its_images_are_uploaded(api, tiny_specs, four_prompts, django_capture_on_commit_callbacks):
    from tests.factories import external_images_zip

    prompt_set = four_prompts
    spec = api.post("/api/v1/specs/external/", {"name": "DALL-E 3", "slug": "dall-e-3", "width": 64, "height": 64}, format="json").json()
    study = api.post("/api/v1/studies/", create_payload(prompt_set, models=["tiny-turbo-1step", "dall-e-3"], seeds=[0]), format="json").json()
    response = api.post(f"/api/v1/studies/{study['id']}/start/")
    assert response.status_code == 400
    assert response.json() == {"specs": [f"DALL-E 3: 4 of the study's prompt x seed images are not uploaded yet (POST /api/v1/specs/{spec['id']}/images/)."]}
    assert Study.objects.get(pk=study["id"]).status == "draft" and Image.objects.count() == 0

    api.post(f"/api/v1/specs/{spec['id']}/images/", {"prompt_set": prompt_set.pk, "seeds": [0], "file": external_images_zip(prompt_set, [0])}, format="multipart")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/studies/{study['id']}/start/")
    # Only the generated model is queued: 4 images, one batch.
    assert response.json() == {"status": "generating", "batches_queued": 1}
    assert DisplayCopy.objects.filter(image__spec_id=spec["id"], size=64).count() == 4
    assert api.post(f"/api/v1/studies/{study['id']}/open/").json() == {"status": "rating"}


def test_progress_reports_images_comparisons_per_pair_raters_and_time_left(api, rated_study):
    progress = api.get(f"/api/v1/studies/{rated_study.pk}/progress/").json()
    assert progress["status"] == "rating"
    assert progress["images"]["done"] == progress["images"]["total"] == 12
    assert {row["model"]: (row["done"], row["total"]) for row in progress["images"]["per_model"]} == {
        "midjourney-v6": (4, 4), "dall-e-3": (4, 4), "ideogram-2": (4, 4),
    }
    pairs = progress["comparisons"]["per_pair"]
    assert len(pairs) == 3 and all(pair["target"] == 8 for pair in pairs)  # 4 prompts x 1 seed x 2 votes per pair
    assert sum(pair["comparisons"] for pair in pairs) == progress["comparisons"]["done"] == 12
    assert progress["comparisons"]["target"] == 24
    assert progress["votes"] == 24 and progress["raters_active"] == 2 and progress["comparisons_last_hour"] == 12
    assert progress["seconds_left"]["generation"] == 0.0
    # 12 comparisons left at 12 an hour.
    assert progress["seconds_left"]["rating"] == pytest.approx(3600)
    assert progress["seconds_left"]["total"] == pytest.approx(3600)
    assert progress["complete"] is False


def test_raters_list_flag_and_exclude(api, other_api, rated_study):
    url = f"/api/v1/studies/{rated_study.pk}/raters/"
    rows = api.get(url).json()["results"]
    assert [(r["name"], r["comparisons"], r["votes"], r["flagged"], r["excluded_votes"]) for r in rows] == [
        ("rater-1", 6, 12, False, 0), ("rater-2", 6, 12, False, 0),
    ]
    assert all(r["median_seconds_per_vote"] == 4.0 for r in rows)
    rater = Rater.objects.get(user__username="rater-1")
    flagged = api.post(f"{url}{rater.pk}/flag/", {}, format="json")
    assert flagged.status_code == 200 and flagged.json()["flagged"] is True
    excluded = api.post(f"{url}{rater.pk}/exclude/", {"excluded": True}, format="json").json()
    assert excluded["excluded_votes"] == 12
    assert Vote.objects.filter(comparison__rater=rater, excluded=True).count() == 12
    assert Vote.objects.filter(excluded=True).count() == 12  # the other rater's votes are untouched
    assert api.post(f"{url}{rater.pk}/exclude/", {"excluded": False}, format="json").json()["excluded_votes"] == 0
    assert api.post(f"{url}{rater.pk}/flag/", {"flagged": False}, format="json").json()["flagged"] is False
    assert api.post(f"{url}999999/flag/", {}, format="json").status_code == 404
    assert other_api.post(f"{url}{rater.pk}/flag/", {}, format="json").status_code == 404
    assert not rater.participations.get(study=rated_study).flagged


def test_images_export_is_a_zip_with_one_png_per_image_and_json_lines_metadata(api, rated_study):
    response = api.get(f"/api/v1/studies/{rated_study.pk}/export/images/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert f'filename="study-{rated_study.pk}-images.zip"' in response["Content-Disposition"]
    zipped = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    lines = [json.loads(line) for line in zipped.read("metadata.jsonl").decode().splitlines()]
    assert len(lines) == 12 and len(zipped.namelist()) == 13
    first = lines[0]
    image = Image.objects.get(spec__slug=first["model"], prompt__position=first["prompt_position"], seed=first["seed"])
    assert first["file"] == f"{first['model']}/{first['prompt_position']}_{first['seed']}.png"
    assert (first["config_hash"], first["prompt"], first["latency_s"]) == (image.config_hash, image.prompt.text, image.latency_s)
    with default_storage.open(image.file.name, "rb") as handle:
        assert zipped.read(first["file"]) == handle.read()
    assert PILImage.open(io.BytesIO(zipped.read(first["file"]))).size == (64, 64)
    assert {line["model"]: line["latency_s"] for line in lines} == {"midjourney-v6": 9.0, "dall-e-3": 12.0, "ideogram-2": 6.0}


def test_a_study_design_is_checked_once_by_the_service_and_its_errors_are_a_400_by_field(api, tiny_specs, prompt_set, monkeypatch):
    """Issue 23: sampling.design_errors runs once per create (in study_create), and what it finds
    answers as the serializer's errors did: {field: [message]}, nothing created."""
    from ratings import sampling

    calls = []
    checked = sampling.design_errors
    monkeypatch.setattr(sampling, "design_errors", lambda options, **kwargs: calls.append(kwargs) or checked(options, **kwargs))
    response = api.post("/api/v1/studies/", create_payload(prompt_set, stop_when="separated", exploration=0.5), format="json")
    assert response.status_code == 400 and len(calls) == 1
    assert response.json() == {"vote_budget": [
        "stop_when separated needs a vote_budget: the most comparisons to spend if the rule is never met."]}
    assert Study.objects.count() == 0 and GenerationJob.objects.count() == 0
    made = api.post("/api/v1/studies/", create_payload(prompt_set, stop_when="separated", vote_budget=500), format="json")
    assert made.status_code == 201 and len(calls) == 2 and made.json()["vote_budget"] == 500
