"""The settings the generation app reads, each with its default declared here once: the project's
settings read the environment variable of the same name with this default (evalsite/settings/),
and a project without the setting gets the default (``setting``)."""

from __future__ import annotations

from django.conf import settings

DEFAULTS = {
    # torch device for generation: "auto" picks CUDA when present, else the CPU.
    "EVALSITE_DEVICE": "auto",
    # Images per generation task (one task = one spec x a batch of prompt/seed pairs).
    "EVALSITE_BATCH_SIZE": 4,
    # A worker refreshes a running batch's heartbeat this often; a batch whose heartbeat is older
    # than the lease belongs to a dead worker and is re-queued by reconciliation.
    "EVALSITE_BATCH_HEARTBEAT_S": 10.0,
    "EVALSITE_BATCH_LEASE_S": 60.0,
    "EVALSITE_BATCH_MAX_ATTEMPTS": 3,
    # Workers encode and write images on a background thread while the next batch samples.
    "EVALSITE_WRITE_BEHIND": True,
    # Deflate level of stored PNGs, 0-9 (lossless at any level; zlib-ng's 2 is fast and compact,
    # its 1 much faster still but a third larger; see generation.png).
    "EVALSITE_PNG_COMPRESS_LEVEL": 2,
    # Automated metrics per image (generation.metrics): each scoring model's hub id or local
    # directory (an offline worker needs it in its cache); empty: that metric is off.
    "EVALSITE_METRIC_CLIP": "openai/clip-vit-large-patch14",
    "EVALSITE_METRIC_PICKSCORE": "yuvalkirstain/PickScore_v1",
    # PickScore's weights ship without an image processor and tokenizer; its card takes CLIP-H's.
    # Empty: the weights' own.
    "EVALSITE_METRIC_PICKSCORE_PROCESSOR": "laion/CLIP-ViT-H-14-laion2B-s32B-b79K",
    # Images scored per model call; a batch's rows are written together or not at all.
    "EVALSITE_METRIC_BATCH_SIZE": 32,
    # Stored image files no row references are deleted once this old: a worker killed between
    # writing files and committing rows leaves them; younger ones may be mid-commit.
    "EVALSITE_ORPHAN_AGE_S": 3600.0,
    # Upload limits: a zip of external images, a prompt file, and the pixels one upload decodes
    # per image and in all (2e9: about 1,900 images of 1024x1024; a tiny zip of 1-bit PNGs can
    # declare gigapixels).
    "EVALSITE_MAX_IMAGE_ZIP_BYTES": 2 * 1024**3,
    "EVALSITE_MAX_PROMPT_FILE_BYTES": 5 * 1024**2,
    "EVALSITE_MAX_UPLOAD_IMAGE_PIXELS": 4096 * 4096,
    "EVALSITE_MAX_UPLOAD_PIXELS": 2_000_000_000,
}


def setting(name: str):
    """The project's value of one of this app's settings, or its default here."""
    return getattr(settings, name, DEFAULTS[name])


def metric_source(name: str) -> str:
    """A scoring model's weights or processor setting (``EVALSITE_METRIC_*``), stripped; '' when
    the installation turned it off."""
    return (setting(name) or "").strip()
