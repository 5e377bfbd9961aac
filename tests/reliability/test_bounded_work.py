"""Bounded work for every caller (issue 18): each costly input answers a clear 4xx quickly,
with bounded memory. Peak memory is measured in a fresh subprocess (ru_maxrss before and after
the call), since the test process's own peak hides anything smaller than itself."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import textwrap
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from ratings import studies
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
MB = 1024**2


def huge_png(width: int, height: int, *, valid_pixels: bool) -> bytes:
    """A PNG declaring width x height RGB pixels. With ``valid_pixels`` its IDAT holds every
    row (zeros, streamed through zlib: ~0.1 % of the raw size), so decoding it would really
    allocate width x height x 3 bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor = zlib.compressobj(9)
    parts = []
    if valid_pixels:
        row_block = b"\0" * ((3 * width + 1) * 64)
        for _ in range(height // 64):
            parts.append(compressor.compress(row_block))
        parts.append(compressor.compress(b"\0" * ((3 * width + 1) * (height % 64))))
    else:
        parts.append(compressor.compress(b"\0" * (3 * width + 1)))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def peak_rss_of(setup: str, call: str) -> dict:
    """Run ``setup``, then ``call`` (which sets ``result``), after Django setup in a subprocess;
    returns {"result", "seconds", "extra_mb"}: the call's time and how far it raised the peak RSS."""
    script = "\n".join([
        "import json, resource, time",
        "import django",
        "django.setup()",
        textwrap.dedent(setup),
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024",
        "started = time.perf_counter()",
        textwrap.dedent(call),
        "seconds = time.perf_counter() - started",
        "extra_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before",
        'print(json.dumps({"result": result, "seconds": seconds, "extra_mb": extra_mb}))',
    ])
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "tests.settings"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def api(db):
    user = UserFactory(username="ada", password="a-long-password-1")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {studies.researcher_grant(user=user).key}")
    return client


def _zip_of(name: str, content: bytes):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr(name, content)
    buffer.seek(0)
    buffer.name = "images.zip"
    return buffer


@pytest.mark.parametrize("side", [13000, 30000])
def test_a_huge_image_in_an_upload_is_refused_from_its_header(api, side):
    spec = api.post("/api/v1/specs/external/", {"name": "Ext", "slug": "ext", "width": 64, "height": 64}, format="json").json()
    prompts = io.BytesIO(b"a red cube\n")
    prompts.name = "p.txt"
    prompt_set = api.post("/api/v1/prompt-sets/", {"name": "P", "file": prompts}, format="multipart").json()["prompt_set"]["id"]
    archive = _zip_of("0_0.png", huge_png(side, side, valid_pixels=side == 13000))
    started = time.perf_counter()
    response = api.post(f"/api/v1/specs/{spec['id']}/images/", {"prompt_set": prompt_set, "seeds": [0], "file": archive}, format="multipart")
    assert response.status_code == 400, response.content[:500]
    message = response.json()["file"][0]
    assert "0_0.png" in message and ("13000x13000 pixels" in message or "far more pixels" in message), message
    assert time.perf_counter() - started < 10


def test_a_huge_image_is_never_decoded_peak_memory():
    """13000x13000 RGB decoded is 507 MB; the check reads the header only."""
    measured = peak_rss_of(
        '''
        from tests.reliability.test_bounded_work import huge_png
        from generation.uploads import image_decode_checked
        raw = huge_png(13000, 13000, valid_pixels=True)
        ''',
        '''
        image, problem = image_decode_checked(raw, width=64, height=64, label="0_0.png", spec_name="Ext")
        result = problem
        ''',
    )
    print(f"13000x13000 upload check: {measured['seconds'] * 1000:.1f} ms, peak RSS +{measured['extra_mb']:.1f} MB")
    assert "13000x13000 pixels" in measured["result"]
    assert measured["extra_mb"] < 50 and measured["seconds"] < 2


def test_a_prompt_file_of_millions_of_lines_is_refused_quickly_with_bounded_memory(api):
    raw = b"a\n" * (5 * MB // 2)  # 5 MB of one-character lines: 2.6 million "prompts"
    upload = io.BytesIO(raw)
    upload.name = "many.txt"
    started = time.perf_counter()
    response = api.post("/api/v1/prompt-sets/", {"name": "Many", "file": upload}, format="multipart")
    assert response.status_code == 400
    assert "at most 10000 prompts" in response.json()["file"][0]
    assert time.perf_counter() - started < 10
    measured = peak_rss_of(
        '''
        from generation.prompt_imports import prompt_set_import
        from django.core.exceptions import ValidationError
        raw = b"a\\n" * (5 * 1024 * 1024 // 2)
        ''',
        '''
        try:
            prompt_set_import(name="Many", filename="many.txt", raw=raw)
            result = "accepted"
        except ValidationError as error:
            result = error.message_dict["file"][0]
        ''',
    )
    print(f"5 MB prompt file: {measured['seconds'] * 1000:.1f} ms, peak RSS +{measured['extra_mb']:.1f} MB")
    assert "at most 10000 prompts" in measured["result"]
    assert measured["extra_mb"] < 50 and measured["seconds"] < 2


def test_extra_call_kwargs_cannot_shadow_validated_fields(api, tiny_weights):
    body = {
        "name": "Sneaky", "slug": "sneaky", "weights": str(tiny_weights["tiny-turbo-1step"]), "pipeline_class": "StableDiffusionPipeline",
        "steps": 1, "height": 64, "width": 64, "extra_call_kwargs": {"height": 8200, "width": 8, "num_images_per_prompt": 64},
    }
    response = api.post("/api/v1/specs/", body, format="json")
    assert response.status_code == 400
    message = response.json()["extra_call_kwargs"][0]
    assert "height, num_images_per_prompt, width cannot be set here" in message
    body["extra_call_kwargs"] = {"eta": 0.0}
    assert api.post("/api/v1/specs/", body, format="json").status_code == 201


def test_local_weights_are_taken_only_under_the_models_directory_and_existence_elsewhere_is_not_told(api, tiny_weights, settings):
    def weights_error(weights, lora=None):
        body = {"name": "W", "slug": "w", "weights": weights, "pipeline_class": "StableDiffusionPipeline", "steps": 1}
        if lora:
            body["lora"] = {"weights": lora}
        response = api.post("/api/v1/specs/", body, format="json")
        assert response.status_code == 400, response.json()
        return response.json()

    existing_outside, missing_outside = str(ROOT / "evalsite"), str(ROOT / "no-such-directory-here")
    for field, make in (("weights", lambda path: weights_error(path)), ("lora", lambda path: weights_error(str(tiny_weights["tiny-turbo-1step"]), lora=path))):
        told_existing = make(existing_outside)[field][0].replace(existing_outside, "PATH")
        told_missing = make(missing_outside)[field][0].replace(missing_outside, "PATH")
        assert told_existing == told_missing, (told_existing, told_missing)
        assert "models directory" in told_existing
    # Escaping the directory with .. or a hub-looking relative path is the same answer.
    escape = str(settings.EVALSITE_MODELS_DIR / ".." / "..")
    assert "models directory" in weights_error(escape)["weights"][0]
    # Inside it, relative or absolute, weights are found.
    inside = api.post("/api/v1/specs/", {"name": "In", "slug": "inside", "weights": str(tiny_weights["tiny-turbo-1step"]), "pipeline_class": "StableDiffusionPipeline", "steps": 1}, format="json")
    assert inside.status_code == 201, inside.json()


def test_the_degraded_example_is_made_once_per_study(make_study, monkeypatch):
    from ratings import images
    from tests.ratings.rater_client import RaterSession, RecordingClient

    study = make_study(n_models=2, n_prompts=3)
    session = RaterSession(RecordingClient(), study)
    session.join_prolific("example01", "S", "SESSION-E")
    session.start()
    calls = []
    real = images.degrade_png
    monkeypatch.setattr(images, "degrade_png", lambda content, seed: calls.append(seed) or real(content, seed=seed))
    bodies = set()
    for _ in range(5):
        response = session.client.get(f"/rate/{study.pk}/example/degraded/")
        assert response.status_code == 200
        bodies.add(response.content)
    assert len(calls) <= 1 and len(bodies) == 1
