"""An image upload cannot exhaust the web worker (issue 25, item 6): a tiny zip of 1-bit
4096x4096 PNGs declares gigapixels. The import streams (decode, check, store and release one
image at a time), so its peak memory is that of one image whatever the count, and the pixels one
upload may decode are capped before any image is read. Peak memory is measured as the RSS
high-water mark (VmHWM, reset before the call) of a fresh process running the real import against
this test's database."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from rest_framework.test import APIClient

from generation.models import Image, ModelSpec, PromptSet
from ratings import studies
from tests.factories import PromptSetFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]
SIDE = 4096


def one_bit_png(side: int = SIDE) -> bytes:
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("1", (side, side), 1).save(buffer, format="PNG")
    return buffer.getvalue()


def zip_of_pngs(count: int, *, broken_last: bool = False) -> bytes:
    png = one_bit_png()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for position in range(count):
            content = png[: len(png) // 2] if broken_last and position == count - 1 else png
            zipped.writestr(f"{position}_0.png", content)
    return buffer.getvalue()


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def import_peak_in_subprocess(*, spec_id: int, prompt_set_id: int, archive: Path) -> dict:
    """The real ``external_images_import`` in a fresh process on this test's database: its
    result and how far it raised the process's peak RSS (VmHWM, reset just before), in MB."""
    script = textwrap.dedent(f'''
        import json, re, time
        import django
        django.setup()
        from django.core.exceptions import ValidationError
        from generation.models import ModelSpec, PromptSet
        from generation.uploads import external_images_import

        def peak_mb():
            return int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read())[1]) / 1024

        spec, prompt_set = ModelSpec.objects.get(pk={spec_id}), PromptSet.objects.get(pk={prompt_set_id})
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # the high-water mark starts again from what the process holds now
        before = peak_mb()
        started = time.perf_counter()
        with open({str(archive)!r}, "rb") as handle:
            try:
                result = len(external_images_import(spec=spec, prompt_set=prompt_set, seeds=[0], archive=handle).images)
            except ValidationError as error:
                result = error.message_dict["file"]
        print(json.dumps({{"result": result, "seconds": time.perf_counter() - started, "extra_mb": peak_mb() - before}}))
    ''')
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url()}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def external_spec(owner, slug: str) -> ModelSpec:
    from generation.uploads import external_spec_create

    return external_spec_create(name=slug, slug=slug, width=SIDE, height=SIDE, owner=owner)


@pytest.mark.slow
def test_many_one_bit_4096_images_take_the_memory_of_one(transactional_db, tmp_path):
    owner = UserFactory(username="mallory-up")
    few, many = 2, 10
    measured = {}
    for count in (few, many):
        prompt_set = PromptSetFactory(name=f"{count} prompts", size=count, owner=owner)
        spec = external_spec(owner, f"bits-{count}")
        archive = tmp_path / f"{count}.zip"
        archive.write_bytes(zip_of_pngs(count))
        measured[count] = import_peak_in_subprocess(spec_id=spec.pk, prompt_set_id=prompt_set.pk, archive=archive)
        assert measured[count]["result"] == count, measured[count]
        assert Image.objects.filter(spec=spec).count() == count
        print(f"{count} x 1-bit {SIDE}x{SIDE} PNGs ({archive.stat().st_size / 1024:.0f} KB zip): "
              f"{measured[count]['seconds']:.1f} s, peak RSS +{measured[count]['extra_mb']:.0f} MB")
    decoded_mb = SIDE * SIDE * 3 / 1024**2  # one image as RGB: 48 MB
    # Kept in memory together, ten images would take 480 MB more than two; streamed, the same.
    assert measured[many]["extra_mb"] - measured[few]["extra_mb"] < decoded_mb, measured
    assert measured[many]["extra_mb"] < 8 * decoded_mb, measured  # one image decoded, copied for encoding: about 230 MB


@pytest.mark.slow
def test_a_refused_image_after_stored_ones_leaves_no_file_and_no_row(transactional_db, tmp_path):
    owner = UserFactory(username="mallory-broken")
    prompt_set = PromptSetFactory(name="Three prompts", size=3, owner=owner)
    spec = external_spec(owner, "bits-broken")
    archive = tmp_path / "broken.zip"
    archive.write_bytes(zip_of_pngs(3, broken_last=True))
    before = set(_stored_files())
    measured = import_peak_in_subprocess(spec_id=spec.pk, prompt_set_id=prompt_set.pk, archive=archive)
    assert measured["result"] == ["2_0.png: not a readable image (OSError)."], measured
    assert not Image.objects.filter(spec=spec).exists()
    assert set(_stored_files()) == before


def _stored_files() -> list[str]:
    try:
        _, files = default_storage.listdir("images")
    except FileNotFoundError:
        return []
    return files


def test_an_upload_over_the_pixel_cap_is_refused_from_the_names_before_any_image_is_read(db, settings):
    settings.EVALSITE_MAX_UPLOAD_PIXELS = 3 * SIDE * SIDE
    user = UserFactory(username="mallory-cap")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {studies.researcher_grant(user=user).key}")
    prompt_set = PromptSetFactory(name="Forty prompts", size=40, owner=user)
    spec = client.post("/api/v1/specs/external/", {"name": "Bits", "slug": "bits", "width": SIDE, "height": SIDE}, format="json").json()
    archive = io.BytesIO(zip_of_pngs(40))
    archive.name = "images.zip"
    started = time.perf_counter()
    response = client.post(f"/api/v1/specs/{spec['id']}/images/", {"prompt_set": prompt_set.pk, "seeds": [0], "file": archive}, format="multipart")
    seconds = time.perf_counter() - started
    assert response.status_code == 400, response.content[:500]
    assert response.json() == {"file": [
        f"40 images of {SIDE}x{SIDE} pixels are 671,088,640 pixels; one upload takes at most 50,331,648 "
        "(EVALSITE_MAX_UPLOAD_PIXELS), that is 3 images of this size. Upload the seeds in several zips "
        "(one per seed, each covering every prompt)."
    ]}
    assert not Image.objects.exists()
    print(f"40 x {SIDE}x{SIDE} refused in {seconds * 1000:.0f} ms")
    assert PromptSet.objects.filter(pk=prompt_set.pk).exists()


def test_an_image_larger_than_the_per_image_cap_is_refused(db, settings):
    from django.core.exceptions import ValidationError

    from generation.uploads import external_images_import

    settings.EVALSITE_MAX_UPLOAD_IMAGE_PIXELS = 2048 * 2048
    owner = UserFactory(username="mallory-big")
    prompt_set = PromptSetFactory(name="One prompt", size=1, owner=owner)
    spec = external_spec(owner, "bits-big")
    with pytest.raises(ValidationError) as refused:
        external_images_import(spec=spec, prompt_set=prompt_set, seeds=[0], archive=io.BytesIO(zip_of_pngs(1)))
    assert refused.value.message_dict["file"] == [
        f"Images of {SIDE}x{SIDE} pixels are larger than one upload takes (4,194,304 pixels an image, EVALSITE_MAX_UPLOAD_IMAGE_PIXELS)."
    ]
