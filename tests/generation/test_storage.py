"""Image files (generation/storage.py): names that say nothing but their kind, display copies at
the size a study asks for, one byte length per display size, and a sweep of unreferenced files
that keeps every file a row or an attention check needs."""

import re

import numpy as np
import pytest
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from generation import jobs, png, storage
from generation.models import DisplayCopy, Image

BLINDED = re.compile(r"^(images|display|decoys)/[0-9a-f]{32}\.png$")


@pytest.fixture
def private_storage(settings, tmp_path):
    """A storage of this test's own, so the sweep below sees only this test's files."""
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "media")}}}
    return default_storage


def picture(seed: int, size: int = 64):
    pixels = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    return PILImage.fromarray(pixels, "RGB")


def test_every_stored_name_is_random_and_says_only_its_kind(private_storage):
    names = [
        storage.original_save(pil_image=picture(0)),
        storage.display_copy_save(pil_image=picture(0), size=32),
        storage.decoy_save(content=png.encode_display(picture(1, 32))),
    ]
    assert [name.split("/")[0] for name in names] == ["images", "display", "decoys"]
    assert all(BLINDED.match(name) for name in names), names
    assert len(set(name.split("/")[1] for name in names)) == 3


def test_display_copies_of_one_size_have_one_byte_length_whatever_their_content(private_storage):
    # A busy image and a flat one: a compressed copy would differ in length and tell them apart.
    flat = PILImage.new("RGB", (64, 64), (200, 30, 30))
    lengths = {private_storage.size(storage.display_copy_save(pil_image=image, size=32)) for image in (picture(2), flat)}
    assert lengths == {png.display_length(32, 32)}


@pytest.mark.django_db
def test_a_display_copy_is_made_for_a_size_a_study_asks_for(tiny_specs, prompt_set, private_storage):
    job = jobs.job_create(specs=tiny_specs[:1], prompt_set=prompt_set, seeds=[0], display_size=32)
    image = jobs.image_batch_generate(job_id=job.pk, spec_id=tiny_specs[0].pk, items=[[prompt_set.prompts.first().pk, 0]])[0]
    copy = storage.image_display_copy_ensure(image=image, size=48)
    assert storage.image_display_copy_ensure(image=image, size=48).pk == copy.pk
    with private_storage.open(copy.file.name) as handle:
        assert PILImage.open(handle).size == (48, 48)
    assert set(image.display_copies.values_list("size", flat=True)) == {32, 48}


@pytest.mark.django_db
def test_the_sweep_deletes_files_no_row_references_and_keeps_images_copies_and_decoys(tiny_specs, prompt_set, private_storage):
    job = jobs.job_create(specs=tiny_specs[:1], prompt_set=prompt_set, seeds=[0], display_size=32)
    image = jobs.image_batch_generate(job_id=job.pk, spec_id=tiny_specs[0].pk, items=[[prompt_set.prompts.first().pk, 0]])[0]
    kept = {image.file.name, *DisplayCopy.objects.filter(image=image).values_list("file", flat=True)}
    # What a worker killed between writing files and committing rows leaves behind.
    left = {storage.original_save(pil_image=picture(3)), storage.display_copy_save(pil_image=picture(3), size=32)}
    # An attention check's decoy: a ratings row references it, which generation cannot see.
    decoy = storage.decoy_save(content=png.encode_display(picture(4, 32)))

    assert storage.storage_orphans_delete(older_than_s=3600) == 0, "young files may belong to a batch being committed"
    assert storage.storage_orphans_delete(older_than_s=0) == len(left)
    assert not any(private_storage.exists(name) for name in left)
    assert all(private_storage.exists(name) for name in kept | {decoy})
    assert Image.objects.filter(pk=image.pk).exists()
