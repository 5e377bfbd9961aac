"""External systems (Midjourney, DALL-E 3...): their specs, and importing their images from a
zip keyed by prompt and seed, as the LADD study compared SD3-Turbo against them.

An import checks names, prompt positions, seeds, coverage of every prompt x seed, file sizes and
the pixels it would decode (capped per image and per upload) before reading any image; then it
streams, one image at a time (decode, check, store, release), so its memory is that of one
image. A refused image deletes the files already stored and no row is written. Images are
re-encoded as PNG so no metadata of the external service reaches a rater.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count

from .catalog import MAX_IMAGE_SIDE
from . import storage
from .models import GenerationJob, Image, ModelSpec, PromptSet
from .configs import SPEC_DEFAULTS, config_hash
from .specs import slug_owner_check

EXTERNAL_PIPELINE = "external"
# "<prompt position>_<seed>.<ext>", e.g. 0_0.png, 17_3.jpg, in any folder of the zip.
IMAGE_NAME = re.compile(r"^(?P<position>\d+)_(?P<seed>-?\d+)\.(?P<ext>png|jpe?g|webp)$", re.IGNORECASE)
MAX_IMAGE_BYTES = 64 * 1024**2

MAX_ERRORS_LISTED = 20


def external_spec_create(*, name: str, slug: str, width: int, height: int, source: str = "", owner=None) -> ModelSpec:
    """A spec for a system whose images are uploaded; its config names only the system and size."""
    errors = {}
    for side, value in (("width", width), ("height", height)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_IMAGE_SIDE:
            errors[side] = [f"{side.capitalize()} must be a whole number of pixels from 1 to {MAX_IMAGE_SIDE}, not {value!r}."]
    if errors:
        raise ValidationError(errors)
    config = {**SPEC_DEFAULTS, "weights": f"external:{slug}", "pipeline_class": EXTERNAL_PIPELINE, "steps": 0, "height": height, "width": width}
    with transaction.atomic():
        version = slug_owner_check(slug=slug, owner=owner)
        return ModelSpec.objects.create(
            name=name,
            slug=slug,
            version=version,
            source=source,
            owner=owner,
            is_external=True,
            config_hash=config_hash(config),
            **config,
        )


@dataclass
class ImageImport:
    images: list[Image] = field(default_factory=list)
    prompts: int = 0
    seeds: list[int] = field(default_factory=list)


def _listed(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_ERRORS_LISTED:
        return problems
    return problems[:MAX_ERRORS_LISTED] + [f"... and {len(problems) - MAX_ERRORS_LISTED} more."]


def image_decode_checked(raw: bytes, *, width: int, height: int, label: str, spec_name: str):
    """(RGB image, None), or (None, the problem): the size is read from the header and checked
    before any pixel is decoded, so a huge image costs no memory (a 13000x13000 PNG would take
    500 MB decoded; one past Pillow's bomb limit raises before its size can even be read)."""
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        pil_image = PILImage.open(io.BytesIO(raw))
        if (pil_image.width, pil_image.height) != (width, height):
            return None, f"{label}: {pil_image.width}x{pil_image.height} pixels; {spec_name} is declared at {width}x{height}."
        pil_image.load()
        return pil_image.convert("RGB"), None
    except PILImage.DecompressionBombError:
        return None, f"{label}: the image declares far more pixels than {spec_name} takes ({width}x{height}); it was not decoded."
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        return None, f"{label}: not a readable image ({error.__class__.__name__})."


def upload_pixels_problems(*, images: int, width: int, height: int) -> list[str]:
    """Why an upload of ``images`` images of ``width`` x ``height`` is too much work for one
    request (the per-image and per-upload pixel caps), or nothing. Known from the zip's names and
    the spec's size before any image is read."""
    per_image, per_upload = settings.EVALSITE_MAX_UPLOAD_IMAGE_PIXELS, settings.EVALSITE_MAX_UPLOAD_PIXELS
    if width * height > per_image:
        return [f"Images of {width}x{height} pixels are larger than one upload takes ({per_image:,} pixels an image, "
                "EVALSITE_MAX_UPLOAD_IMAGE_PIXELS)."]
    if images * width * height > per_upload:
        most = max(1, per_upload // (width * height))
        return [f"{images} images of {width}x{height} pixels are {images * width * height:,} pixels; one upload takes at most "
                f"{per_upload:,} (EVALSITE_MAX_UPLOAD_PIXELS), that is {most} images of this size. Upload the seeds in several "
                "zips (one per seed, each covering every prompt)."]
    return []


def external_images_import(
    *, spec: ModelSpec, prompt_set: PromptSet, seeds: Sequence[int], archive, latency_s: float = 0.0
) -> ImageImport:
    """Import one image per prompt of ``prompt_set`` x seed from a zip, all or nothing.

    ``archive`` is a file object. Raises ``ValidationError`` ({"file": [...]} and friends)
    naming every problem found, and writes nothing then.
    """
    if not spec.is_external:
        raise ValidationError({"spec": [f"{spec} is generated by evalsite; images are uploaded only for external systems."]})
    seeds = sorted({int(seed) for seed in seeds})
    if not seeds:
        raise ValidationError({"seeds": ["Give at least one seed."]})
    zipped = _zip_open(archive)
    prompts = dict(prompt_set.prompts.values_list("position", "pk"))
    problems: list[str] = []
    found = _zip_images_found(zipped, prompts=prompts, seeds=seeds, prompt_set=prompt_set, problems=problems)
    problems += _coverage_problems(spec=spec, prompts=prompts, seeds=seeds, found=found)
    if not problems:
        problems += upload_pixels_problems(images=len(found), width=spec.width, height=spec.height)
    if problems:
        raise ValidationError({"file": _listed(problems)})
    images = _images_store(zipped, found, spec=spec, prompts=prompts, latency_s=latency_s)
    return ImageImport(images=images, prompts=len(prompts), seeds=seeds)


def _zip_open(archive) -> zipfile.ZipFile:
    size = getattr(archive, "size", None)
    if size is not None and size > settings.EVALSITE_MAX_IMAGE_ZIP_BYTES:
        raise ValidationError({"file": [f"The zip is {size} bytes; the limit is {settings.EVALSITE_MAX_IMAGE_ZIP_BYTES} bytes."]})
    try:
        return zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise ValidationError({"file": ["The file is not a zip archive."]}) from None


def _zip_images_found(zipped, *, prompts: dict, seeds: list[int], prompt_set, problems: list[str]) -> dict[tuple[int, int], zipfile.ZipInfo]:
    """(prompt position, seed) -> the zip's member for it, from the names alone; each misnamed,
    unexpected, repeated or oversized member is a problem appended to ``problems``."""
    found: dict[tuple[int, int], zipfile.ZipInfo] = {}
    for info in zipped.infolist():
        path = PurePosixPath(info.filename)
        if info.is_dir() or path.name.startswith(".") or "__MACOSX" in path.parts:
            continue
        match = IMAGE_NAME.match(path.name)
        if match is None:
            problems.append(f"{info.filename}: name it <prompt position>_<seed>.png (or .jpg, .webp), e.g. 0_0.png.")
            continue
        key = (int(match["position"]), int(match["seed"]))
        if key[0] not in prompts:
            problems.append(f"{info.filename}: prompt position {key[0]} is not in '{prompt_set}' (positions 0 to {len(prompts) - 1}).")
        elif key[1] not in seeds:
            problems.append(f"{info.filename}: seed {key[1]} is not one of the seeds given ({', '.join(map(str, seeds))}).")
        elif key in found:
            problems.append(f"{info.filename}: a second image for prompt {key[0]}, seed {key[1]} (first: {found[key].filename}).")
        elif info.file_size > MAX_IMAGE_BYTES:
            problems.append(f"{info.filename}: {info.file_size} bytes uncompressed; one image may be at most {MAX_IMAGE_BYTES} bytes.")
        else:
            found[key] = info
    return found


def _coverage_problems(*, spec: ModelSpec, prompts: dict, seeds: list[int], found: dict) -> list[str]:
    """Prompt x seed images the zip lacks, and those the spec already has."""
    problems = []
    wanted = {(position, seed) for position in prompts for seed in seeds}
    missing = sorted(wanted - set(found))
    if missing:
        problems.append(
            f"{len(missing)} of {len(wanted)} prompt x seed images are missing, e.g. "
            + ", ".join(f"{position}_{seed}" for position, seed in missing[:10])
            + "."
        )
    existing = set(
        Image.objects.filter(spec=spec, prompt_id__in=prompts.values(), seed__in=seeds).values_list("prompt__position", "seed")
    )
    if existing:
        problems.append(
            f"{spec} already has {len(existing)} of these images (e.g. {min(existing)[0]}_{min(existing)[1]}); "
            "upload to a new version of the spec instead."
        )
    return problems


def _images_store(zipped, found: dict, *, spec: ModelSpec, prompts: dict, latency_s: float) -> list[Image]:
    """Decode, check and store every found image, then write their rows; all or nothing."""
    # One image at a time: read, decode, check, store, release. Nothing decoded is kept, so the
    # memory an upload takes is that of its largest image, however many it holds; files already
    # stored are deleted if a later image is refused, and rows are written only when all passed.
    problems: list[str] = []
    saved: list[str] = []
    rows = []
    try:
        for (position, seed), info in sorted(found.items()):
            try:
                with zipped.open(info) as member:
                    raw = member.read(MAX_IMAGE_BYTES + 1)
            except (OSError, zipfile.BadZipFile, EOFError) as error:
                problems.append(f"{info.filename}: cannot be read from the zip ({error.__class__.__name__}).")
                continue
            pil_image, problem = image_decode_checked(raw, width=spec.width, height=spec.height, label=info.filename, spec_name=str(spec))
            del raw
            if problem:
                problems.append(problem)
                continue
            if not problems:  # once one image is refused nothing more is stored; the rest are only checked
                saved.append(storage.original_save(pil_image=pil_image))
                rows.append(
                    Image(
                        spec=spec, prompt_id=prompts[position], seed=seed, file=saved[-1], width=pil_image.width,
                        height=pil_image.height, config_hash=spec.config_hash, latency_s=float(latency_s), batch_size=1,
                        device="external", torch_version="", diffusers_version="",
                    )
                )
            pil_image.close()
            del pil_image
        if problems:
            raise ValidationError({"file": _listed(problems)})
        with transaction.atomic():
            return Image.objects.bulk_create(rows)
    except BaseException:
        storage.files_delete(*saved)
        raise


def job_external_missing(*, job: GenerationJob) -> list[tuple[ModelSpec, int]]:
    """(external spec, images still missing) for each external spec of the job lacking images."""
    prompt_ids = list(job.prompt_set.prompts.values_list("pk", flat=True))
    total = len(prompt_ids) * len(job.seeds)
    external = list(job.specs.filter(is_external=True).order_by("pk"))
    counts = dict(
        Image.objects.filter(spec__in=external, prompt_id__in=prompt_ids, seed__in=job.seeds)
        .values_list("spec_id")
        .annotate(n=Count("pk"))
        .values_list("spec_id", "n")
    )
    return [(spec, total - counts.get(spec.pk, 0)) for spec in external if counts.get(spec.pk, 0) < total]
