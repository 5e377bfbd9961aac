"""Image files: the one place that names stored files and makes display copies.

A stored name says nothing a rater could use to tell models apart: every original is
``images/<random hex>.png``, every display copy ``display/<random hex>.png`` and every
attention-check decoy ``decoys/<random hex>.png`` (a folder of their own: the sweep of
unreferenced files knows only generation's rows, and would delete a decoy it cannot see). Originals are compressed PNGs; display copies are
uncompressed, so every display copy of one size has one byte length (see ``generation.png``).
Both are pixels only, with no metadata.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import png
from .models import DisplayCopy, GenerationJob, Image

logger = logging.getLogger(__name__)

ORIGINALS = "images"
DISPLAY = "display"
DECOYS = "decoys"
# Folders whose files a row of this app references; swept by storage_orphans_delete.
STORED_PREFIXES = (ORIGINALS, DISPLAY)


def _blinded_name(prefix: str) -> str:
    return f"{prefix}/{uuid.uuid4().hex}.png"


def display_resize(pil_image, size: int):
    """``pil_image`` scaled to ``size`` pixels wide (aspect kept), or itself if it already is."""
    from PIL import Image as PILImage

    height = round(pil_image.height * size / pil_image.width)
    if (pil_image.width, pil_image.height) == (size, height):
        return pil_image
    return pil_image.resize((size, height), PILImage.Resampling.LANCZOS)


def original_save(*, pil_image) -> str:
    """Store a full-size image; returns its stored name."""
    content = png.encode(pil_image, settings.EVALSITE_PNG_COMPRESS_LEVEL)
    return default_storage.save(_blinded_name(ORIGINALS), ContentFile(content))


def display_copy_save(*, pil_image, size: int) -> str:
    """Store ``pil_image`` resized to ``size`` pixels wide as a display copy; returns its name."""
    content = png.encode_display(display_resize(pil_image, size))
    return default_storage.save(_blinded_name(DISPLAY), ContentFile(content))


def decoy_save(*, content: bytes) -> str:
    """Store an attention check's decoy (PNG bytes already encoded as a display copy, e.g. by
    ``ratings.images.degrade_png``); returns its name."""
    return default_storage.save(_blinded_name(DECOYS), ContentFile(content))


def files_delete(*names: str) -> None:
    for name in names:
        default_storage.delete(name)


def original_open(name: str):
    """The stored original ``name`` as a loaded Pillow image."""
    from PIL import Image as PILImage

    with default_storage.open(name, "rb") as handle:
        pil_image = PILImage.open(handle)
        pil_image.load()
    return pil_image


def image_display_copy_ensure(*, image: Image, size: int) -> DisplayCopy:
    """A display copy of ``image`` at ``size`` pixels wide, made from the stored original if needed."""
    existing = image.display_copies.filter(size=size).first()
    if existing is not None:
        return existing
    name = display_copy_save(pil_image=original_open(image.file.name), size=size)
    try:
        with transaction.atomic():
            return DisplayCopy.objects.create(image=image, size=size, file=name)
    except IntegrityError:
        files_delete(name)
        return image.display_copies.get(size=size)


def job_display_copies_ensure(*, job: GenerationJob) -> int:
    """Make the display copies the job's size needs for images that already exist (uploaded
    images, or images made for another study at another size); returns the number made."""
    prompt_ids = list(job.prompt_set.prompts.values_list("pk", flat=True))
    lacking = (
        Image.objects.filter(spec__in=job.specs.all(), prompt_id__in=prompt_ids, seed__in=job.seeds)
        .exclude(display_copies__size=job.display_size)
        .only("pk", "file")
    )
    made = 0
    for image in lacking:
        name = display_copy_save(pil_image=original_open(image.file.name), size=job.display_size)
        _, created = DisplayCopy.objects.get_or_create(image=image, size=job.display_size, defaults={"file": name})
        if not created:
            files_delete(name)
        made += created
    return made


def storage_orphans_delete(*, older_than_s: float) -> int:
    """Delete stored image files no row references, older than ``older_than_s`` seconds; returns
    how many. A worker killed between writing a batch's files and committing its rows leaves
    such files (with random names nothing else knows); the age keeps files of a batch that is
    still being committed. Lists the storage (the operator's credentials; raters never can)."""
    referenced = set(Image.objects.values_list("file", flat=True)) | set(DisplayCopy.objects.values_list("file", flat=True))
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    deleted = 0
    for prefix in STORED_PREFIXES:
        try:
            _, names = default_storage.listdir(prefix)
        except FileNotFoundError:
            continue
        for name in names:
            key = f"{prefix}/{name}"
            if key in referenced or default_storage.get_modified_time(key) > cutoff:
                continue
            default_storage.delete(key)
            deleted += 1
    if deleted:
        logger.warning("deleted %d stored image file(s) that no row referenced (left by a worker that died mid-batch)", deleted)
    return deleted
