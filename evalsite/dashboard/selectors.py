"""Reads the staff dashboard needs beyond the API's: the live leaderboard, speed per model and
the media a study uses. Slow ones are cached briefly, since the page refreshes itself."""

from __future__ import annotations

import statistics

from django.core.cache import cache
from django.core.files.storage import default_storage

from generation.models import DisplayCopy
from ratings.image_exports import study_images
from ratings.models import Study

MEDIA_CACHE_SECONDS = 60


def study_leaderboard_live(*, study: Study) -> dict:
    """The Bradley-Terry leaderboard (the integrator's ``ratings.leaderboards``), or win rates
    without intervals where that is not installed; ``{"method", "models": rows, "note"}``."""
    try:
        from ratings.leaderboards import study_leaderboard
    except ImportError:
        return _win_rate_board(study)
    try:
        board = study_leaderboard(study=study, method="bt")
    except ValueError as error:  # no votes yet
        return {"method": "bt", "models": [], "note": str(error)}
    return {**board, "note": ""}


def _win_rate_board(study: Study) -> dict:
    from ratings.selectors import study_win_rates

    board = study_win_rates(study=study)
    rows = []
    for criterion, result in board["criteria"].items():
        for rank, row in enumerate(result["models"], start=1):
            rows.append(
                {"model": row["spec"].slug, "criterion": criterion, "rating": row["win_rate"], "ci_low": None,
                 "ci_high": None, "rank": rank if row["win_rate"] is not None else None, "votes": row["votes"]}
            )
    return {"method": "winrate", "models": rows, "note": "Win rates without intervals: the ratings engine is not installed."}


def study_seconds_per_image(*, study: Study) -> dict[str, float]:
    """Model slug -> median measured seconds per image; uploaded images without a latency are left out."""
    latencies: dict[str, list[float]] = {}
    for slug, latency in study_images(study=study).filter(latency_s__gt=0).values_list("spec__slug", "latency_s"):
        latencies.setdefault(slug, []).append(latency)
    return {slug: statistics.median(values) for slug, values in latencies.items()}


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
