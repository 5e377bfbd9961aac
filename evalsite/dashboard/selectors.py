"""Reads the staff dashboard needs beyond the API's: the live leaderboard, speed per model and
the media a study uses. Slow ones are cached briefly, since the page refreshes itself."""

from __future__ import annotations

from django.core.cache import cache
from django.core.files.storage import default_storage

from generation.models import DisplayCopy
from generation.selectors import spec_seconds_per_image
from ratings.results.image_exports import study_images
from ratings.results.leaderboards import study_leaderboard
from ratings.results.votes import model_label
from ratings.models import Study

MEDIA_CACHE_SECONDS = 60


def study_leaderboard_live(*, study: Study) -> dict:
    """The study's cached Bradley-Terry leaderboard (refreshed every few hundred votes)."""
    return study_leaderboard(study=study, method="bt")


def study_seconds_per_image(*, study: Study) -> dict[str, float]:
    """Model (named as on the leaderboard) -> seconds per image, as the exports and plots use
    (``generation.selectors.spec_seconds_per_image``); models without a figure are left out."""
    speeds = {model_label(spec): spec_seconds_per_image(spec) for spec in study.job.specs.all()}
    return {name: speed[0] for name, speed in speeds.items() if speed is not None}


def study_speed_devices(*, study: Study) -> set[str]:
    """The devices the study's seconds per image were timed on (a GPU's name, or CPU)."""
    speeds = (spec_seconds_per_image(spec) for spec in study.job.specs.all())
    return {speed[1] for speed in speeds if speed is not None}


def rating_speed_points(*, board: dict, seconds: dict[str, float]) -> list[dict]:
    """One point per model: its combined rating (or its first criterion's) and its speed."""
    rows = board.get("models", [])
    criteria = [row["criterion"] for row in rows]
    criterion = "mean" if "mean" in criteria else (criteria[0] if criteria else None)
    return [
        {"model": row["model"], "rating": row["rating"], "seconds": seconds.get(row["model"])}
        for row in rows
        if row["criterion"] == criterion
    ]


def study_media_bytes(*, study: Study) -> int:
    """Bytes the study's images and display copies take in storage (cached for a minute)."""
    images = study_images(study=study)
    key = f"dashboard:media:{study.pk}:{images.count()}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    names = list(images.values_list("file", flat=True))
    names += list(DisplayCopy.objects.filter(image__in=images).values_list("file", flat=True))
    total = 0
    for name in names:
        try:
            total += default_storage.size(name)
        except (OSError, NotImplementedError):
            continue
    cache.set(key, total, MEDIA_CACHE_SECONDS)
    return total
