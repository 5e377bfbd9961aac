"""Model specs through the API: generated systems validated by the service, external systems
and their image zips, presets, pagination and filters."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from generation import specs
from generation.models import Image, ModelSpec


def tiny_spec_payload(tiny_weights, **overrides) -> dict:
    payload = {
        "name": "Tiny SD 4 steps", "slug": "tiny-sd-api", "weights": str(tiny_weights["tiny-turbo-1step"]),
        "pipeline_class": "StableDiffusionPipeline", "steps": 4, "height": 64, "width": 64,
        "scheduler_class": "EulerAncestralDiscreteScheduler", "scheduler_config": {"timestep_spacing": "trailing"},
    }
    return {**payload, **overrides}


def test_create_spec_then_read_it_and_a_second_create_makes_version_two(api, tiny_weights):
    response = api.post("/api/v1/specs/", tiny_spec_payload(tiny_weights), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["slug"], body["version"], body["steps"], body["is_external"], body["images"]) == ("tiny-sd-api", 1, 4, False, 0)
    assert body["scheduler_config"] == {"timestep_spacing": "trailing"}
    assert len(body["config_hash"]) == 64
    assert api.get(f"/api/v1/specs/{body['id']}/").json() == body
    again = api.post("/api/v1/specs/", tiny_spec_payload(tiny_weights, steps=1), format="json").json()
    assert again["version"] == 2 and again["config_hash"] != body["config_hash"]


def test_invalid_spec_is_a_400_with_the_services_own_field_messages_and_nothing_saved(api, tiny_weights):
    bad = tiny_spec_payload(tiny_weights, pipeline_class="NoSuchPipeline", steps=0, width=65, weights="/no/such/dir")
    response = api.post("/api/v1/specs/", bad, format="json")
    assert response.status_code == 400
    with pytest.raises(ValidationError) as expected:
        specs.model_spec_create(local_root=settings.EVALSITE_MODELS_DIR, **{k: v for k, v in bad.items()})  # as the API calls it
    assert response.json() == expected.value.message_dict
    assert set(response.json()) == {"pipeline_class", "steps", "weights"}
    assert ModelSpec.objects.count() == 0


def test_missing_required_fields_are_named(api, db):
    response = api.post("/api/v1/specs/", {"name": "x"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"slug", "weights", "pipeline_class", "steps"}


def test_spec_list_is_paginated_and_filtered(api, tiny_specs):
    response = api.get("/api/v1/specs/", {"page_size": 2})
    body = response.json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    assert len(api.get(body["next"]).json()["results"]) == 1
    lcm = api.get("/api/v1/specs/", {"pipeline_class": "LatentConsistencyModelPipeline"}).json()["results"]
    assert [s["slug"] for s in lcm] == [s.slug for s in tiny_specs if s.pipeline_class == "LatentConsistencyModelPipeline"]
    assert api.get("/api/v1/specs/", {"is_external": "true"}).json()["count"] == 0


def png_bytes(width: int, height: int, colour=(200, 30, 30), fmt="PNG", **save) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (width, height), colour).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def zip_of(members: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for name, content in members.items():
            zipped.writestr(name, content)
    buffer.seek(0)
    buffer.name = "images.zip"
    return buffer


@pytest.fixture
def midjourney(api, db):
    response = api.post("/api/v1/specs/external/", {"name": "Midjourney v6", "slug": "midjourney-v6", "width": 64, "height": 64}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def full_zip(prompt_set, seeds, size=64, **extra) -> io.BytesIO:
    members = {f"mj/{p}_{s}.png": png_bytes(size, size) for p in range(prompt_set.prompts.count()) for s in seeds}
    return zip_of({**members, **extra})


def stored_files() -> set[str]:
    return set(default_storage.listdir("images")[1]) if default_storage.exists("images") else set()


def test_external_images_upload_imports_every_prompt_and_seed_as_metadata_free_png(api, midjourney, prompt_set):
    exif = PILImage.Exif()
    exif[0x010F] = "Midjourney"  # the camera "Make" tag: metadata that would name the system
    members = {f"mj/{p}_{s}.png": png_bytes(64, 64) for p in range(8) for s in (0, 1)}
    del members["mj/0_0.png"]
    members["mj/0_0.jpg"] = png_bytes(64, 64, fmt="JPEG", exif=exif.tobytes())
    members["__MACOSX/mj/._0_0.jpg"] = b"resource fork junk"
    archive = zip_of(members)
    response = api.post(f"/api/v1/specs/{midjourney['id']}/images/", {"prompt_set": prompt_set.pk, "seeds": [0, 1], "file": archive, "latency_s": 12.5}, format="multipart")
    assert response.status_code == 201, response.json()
    assert response.json() == {"spec": midjourney["id"], "prompt_set": prompt_set.pk, "seeds": [0, 1], "images": 16}
    images = Image.objects.filter(spec_id=midjourney["id"])
    assert images.count() == 16
    assert {(i.prompt.position, i.seed) for i in images} == {(p, s) for p in range(8) for s in (0, 1)}
    first = images.get(prompt__position=0, seed=0)
    with default_storage.open(first.file.name, "rb") as handle:
        stored = PILImage.open(handle)
        assert stored.format == "PNG" and not stored.info.get("exif") and stored.size == (64, 64)
    assert first.latency_s == 12.5 and first.device == "external"
    assert api.get(f"/api/v1/specs/{midjourney['id']}/").json()["images"] == 16


@pytest.mark.parametrize(
    "case, expected",
    [
        ("not a zip", "The file is not a zip archive."),
        ("missing", "2 of 16 prompt x seed images are missing, e.g. 7_0, 7_1."),
        ("wrong size", "mj/3_1.png: 32x32 pixels; Midjourney v6 is declared at 64x64."),
        ("bad name", "mj/cat.png: name it <prompt position>_<seed>.png (or .jpg, .webp), e.g. 0_0.png."),
        ("unknown seed", "mj/0_9.png: seed 9 is not one of the seeds given (0, 1)."),
        ("unknown prompt", "mj/8_0.png: prompt position 8 is not in 'Eight prompts' (positions 0 to 7)."),
        ("not an image", "mj/2_0.png: not a readable image (UnidentifiedImageError)."),
    ],
)
def test_bad_image_zips_are_refused_naming_the_problem_and_write_nothing(api, midjourney, prompt_set, case, expected):
    if case == "not a zip":
        archive = io.BytesIO(b"PK but not really")
        archive.name = "images.zip"
    else:
        archive = full_zip(prompt_set, [0, 1])
        members = {info.filename: zipfile.ZipFile(archive).read(info) for info in zipfile.ZipFile(archive).infolist()}
        if case == "missing":
            del members["mj/7_0.png"], members["mj/7_1.png"]
        elif case == "wrong size":
            members["mj/3_1.png"] = png_bytes(32, 32)
        elif case == "bad name":
            members["mj/cat.png"] = png_bytes(64, 64)
        elif case == "unknown seed":
            members["mj/0_9.png"] = png_bytes(64, 64)
        elif case == "unknown prompt":
            members["mj/8_0.png"] = png_bytes(64, 64)
        elif case == "not an image":
            members["mj/2_0.png"] = b"this is text, not pixels"
        archive = zip_of(members)
    before = stored_files()
    response = api.post(f"/api/v1/specs/{midjourney['id']}/images/", {"prompt_set": prompt_set.pk, "seeds": [0, 1], "file": archive}, format="multipart")
    assert response.status_code == 400
    assert expected in response.json()["file"]
    assert Image.objects.count() == 0
    assert stored_files() == before


def test_uploading_twice_or_to_a_generated_spec_is_refused(api, midjourney, prompt_set, tiny_specs):
    url = f"/api/v1/specs/{midjourney['id']}/images/"
    assert api.post(url, {"prompt_set": prompt_set.pk, "seeds": [0], "file": full_zip(prompt_set, [0])}, format="multipart").status_code == 201
    response = api.post(url, {"prompt_set": prompt_set.pk, "seeds": [0], "file": full_zip(prompt_set, [0])}, format="multipart")
    assert response.status_code == 400
    assert "Midjourney v6 already has 8 of these images" in response.json()["file"][0]
    response = api.post(f"/api/v1/specs/{tiny_specs[0].pk}/images/", {"prompt_set": prompt_set.pk, "seeds": [0], "file": full_zip(prompt_set, [0])}, format="multipart")
    assert response.status_code == 403
    assert "system-owned" in response.json()["detail"]
    own = api.post("/api/v1/specs/", {"name": "Mine", "slug": "mine-generated", "weights": str(tiny_specs[0].weights), "pipeline_class": tiny_specs[0].pipeline_class, "steps": 1, "height": 64, "width": 64}, format="json")
    assert own.status_code == 201, own.json()
    response = api.post(f"/api/v1/specs/{own.json()['id']}/images/", {"prompt_set": prompt_set.pk, "seeds": [0], "file": full_zip(prompt_set, [0])}, format="multipart")
    assert response.status_code == 400
    assert "images are uploaded only for external systems" in response.json()["spec"][0]
    assert Image.objects.count() == 8


def test_upload_form_errors_name_their_fields(api, midjourney, db):
    response = api.post(f"/api/v1/specs/{midjourney['id']}/images/", {"prompt_set": 999, "seeds": []}, format="multipart")
    assert response.status_code == 400
    assert set(response.json()) == {"prompt_set", "seeds", "file"}
    assert api.post("/api/v1/specs/987654/images/", {}, format="multipart").status_code == 404


def test_external_spec_needs_a_size(api, db):
    response = api.post("/api/v1/specs/external/", {"name": "DALL-E 3", "slug": "dall-e-3", "width": 0}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"width", "height"}


def test_presets_lists_the_installed_specs_of_the_shipped_presets(api, tiny_specs):
    from django.core.management import call_command

    from generation.presets import PRESETS

    assert api.get("/api/v1/specs/presets/").json()["count"] == 0  # shipped, not installed yet
    call_command("install_presets")
    listed = api.get("/api/v1/specs/presets/", {"page_size": 100}).json()
    assert sorted(spec["slug"] for spec in listed["results"]) == sorted(preset["slug"] for preset in PRESETS)
    assert "tiny-turbo-1step" not in {spec["slug"] for spec in listed["results"]}
    one_step = api.get("/api/v1/specs/presets/", {"steps": 1}).json()
    assert one_step["count"] == sum(1 for preset in PRESETS if preset["config"]["steps"] == 1) > 0
