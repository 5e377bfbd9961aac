"""A study's images as a zip, with a JSON-lines file describing how each one was made."""

from __future__ import annotations

import json
import tempfile
import zipfile

from django.core.files.storage import default_storage

from generation.models import Image

from ..models import Study

METADATA_NAME = "metadata.jsonl"


def study_images(*, study: Study):
    job = study.job
    return (
        Image.objects.filter(spec__in=job.specs.all(), prompt__prompt_set=job.prompt_set, seed__in=job.seeds)
        .select_related("spec", "prompt")
        .order_by("spec__slug", "spec__version", "prompt__position", "seed")
    )


def image_metadata(image: Image, path: str) -> dict:
    spec = image.spec
    return {
        "file": path,
        "model": spec.slug,
        "model_name": spec.name,
        "model_version": spec.version,
        "external": spec.is_external,
        "config_hash": image.config_hash,
        "prompt": image.prompt.text,
        "prompt_position": image.prompt.position,
        "prompt_source_id": image.prompt.source_id,
        "category": image.prompt.category,
        "challenge": image.prompt.challenge,
        "seed": image.seed,
        "width": image.width,
        "height": image.height,
        "steps": spec.steps,
        "guidance_scale": spec.guidance_scale,
        "latency_s": image.latency_s,
        "batch_size": image.batch_size,
        "device": image.device,
        "gpu_name": image.gpu_name,
        "torch_version": image.torch_version,
        "diffusers_version": image.diffusers_version,
        # The hub snapshot commit of every weight used (base, component overrides, LoRA).
        "weights_revisions": image.weights_revisions,
        "created_at": image.created_at.isoformat(),
    }


def study_images_zip(*, study: Study):
    """A temporary file holding ``<model>/<prompt position>_<seed>.png`` for every image of
    the study and ``metadata.jsonl`` with one line per image; the caller closes it."""
    archive = tempfile.TemporaryFile()
    lines = []
    # PNGs are compressed already: storing them saves CPU and loses nothing.
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zipped:
        for image in study_images(study=study).iterator():
            folder = image.spec.slug if image.spec.version == 1 else f"{image.spec.slug}-v{image.spec.version}"
            path = f"{folder}/{image.prompt.position}_{image.seed}.png"
            with default_storage.open(image.file.name, "rb") as handle, zipped.open(path, "w") as member:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    member.write(chunk)
            lines.append(json.dumps(image_metadata(image, path), sort_keys=True))
        zipped.writestr(METADATA_NAME, "\n".join(lines) + ("\n" if lines else ""), compress_type=zipfile.ZIP_DEFLATED)
    archive.seek(0)
    return archive
