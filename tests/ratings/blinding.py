"""What would unblind a rater, and a scan of everything a rater received for it.

Reusable: give ``scan_received`` the responses of any rater session (``RecordingClient.received``
or a browser's recorded responses) and the study; it returns every place a model's identity
shows up (name, slug, config hash, weights, storage file names, image ids), in URLs, headers
and bodies (HTML, JSON, image bytes).
"""

from __future__ import annotations

import io
import re

from generation.models import DisplayCopy, Image
from ratings.models import AttentionCheck


def model_identifiers(study) -> dict[str, str]:
    """Every string that names or identifies a model of the study, or an image of it -> what it is."""
    found: dict[str, str] = {study.name: "the study's name (researchers name studies after their models)"}
    for spec in study.job.specs.all():
        found[spec.name] = f"model name of spec {spec.pk}"
        found[spec.slug] = f"slug of spec {spec.pk}"
        found[spec.config_hash] = f"config hash of spec {spec.pk}"
        found[spec.weights] = f"weights of spec {spec.pk}"
    images = Image.objects.filter(spec__in=study.job.specs.all())
    for image in images:
        found[str(image.public_id)] = f"public id of image {image.pk}"
        found[image.file.name.rsplit("/", 1)[-1]] = f"file name of image {image.pk}"
    for copy in DisplayCopy.objects.filter(image__in=images):
        found[copy.file.name.rsplit("/", 1)[-1]] = f"display copy file of image {copy.image_id}"
    for check in AttentionCheck.objects.filter(study=study).exclude(decoy_file=""):
        found[check.decoy_file.name.rsplit("/", 1)[-1]] = f"degraded copy file of check {check.pk}"
    return found


def page_titles(received) -> dict[str, str]:
    """URL -> the <title> of every HTML page received."""
    titles = {}
    for response in received:
        if response.headers.get("Content-Type", "").startswith("text/html"):
            match = re.search(rb"<title>(.*?)</title>", response.body, re.S)
            if match:
                titles[f"{response.method} {response.url}"] = match.group(1).decode().strip()
    return titles


def scan_received(received, study) -> list[str]:
    """Places where a model identifier appears in what the rater received (case-insensitive)."""
    needles = {text.lower().encode(): what for text, what in model_identifiers(study).items() if len(text) >= 4}
    hits = []
    for response in received:
        places = {"URL": response.url.encode(), "headers": repr(sorted(response.headers.items())).encode(), "body": response.body}
        for place, content in places.items():
            lowered = content.lower()
            for needle, what in needles.items():
                if needle in lowered:
                    hits.append(f"{what} in the {place} of {response.method} {response.url}")
    return hits


def image_problems(received, display_size: int) -> list[str]:
    """Rater-facing images that differ in format or size, carry metadata, or have headers that
    could tell them apart (a file name, a date, a validator)."""
    from PIL import Image as PILImage

    problems = []
    for response in received:
        # Static files (the favicon) are the same for every study and every image.
        if not response.headers.get("Content-Type", "").startswith("image/") or response.url.startswith("/static/"):
            continue
        picture = PILImage.open(io.BytesIO(response.body))
        if (picture.format, picture.size, picture.mode) != ("PNG", (display_size, display_size), "RGB"):
            problems.append(f"{response.url}: {picture.format} {picture.size} {picture.mode}")
        if picture.info or re.search(rb"(tEXt|zTXt|iTXt|eXIf|tIME)", response.body[:4096]):
            problems.append(f"{response.url}: metadata {sorted(picture.info)}")
        for header in ("Content-Disposition", "ETag", "Last-Modified"):
            if header in response.headers:
                problems.append(f"{response.url}: header {header}")
    return problems
