"""Celery tasks of the ratings app (default queue): ids in, a service call, nothing else. Services
queue them by name (``ratings.queueing``)."""

from celery import shared_task

from . import queueing, rater_flags, sampling, scheduler
from .forecasts import forecast_compute as compute_forecast
from .models import Study
from .results import leaderboards
from .results.automated import study_diversity_compute as compute_diversity
from .results.automated import study_diversity_done


@shared_task(name=queueing.LEADERBOARDS_REFRESH_STALE)
def leaderboards_refresh_stale() -> list[int]:
    rater_flags.raters_flag_inconsistent_due()  # a new flag drops the study's cached leaderboards: refreshed below
    return leaderboards.leaderboards_refresh_stale()


@shared_task(name=queueing.LEADERBOARD_RECOMPUTE, time_limit=1800)
def leaderboard_recompute(study_id: int, options: dict | None = None) -> None:
    """A leaderboard variant too heavy for a request (``leaderboards.INLINE_ROUNDS``)."""
    leaderboards.study_leaderboard(study=Study.objects.get(pk=study_id), recompute=True, in_task=True, **(options or {}))


@shared_task(name=queueing.SERVE_LEVELS_REPAIR)
def serve_levels_repair() -> list[int]:
    return scheduler.serve_levels_repair()


@shared_task(name=queueing.STUDY_SAMPLING_REFRESH)
def study_sampling_refresh(study_id: int) -> bool:
    """Refit one study's votes: its pair weights and its stopping rule; True if it stopped."""
    return sampling.study_sampling_refresh(study=Study.objects.get(pk=study_id)).stopped


@shared_task(name=queueing.STUDY_SAMPLING_REFRESH_DUE)
def study_sampling_refresh_due() -> list[int]:
    return sampling.study_sampling_refresh_due()


@shared_task(name=queueing.STUDY_DIVERSITY_COMPUTE, time_limit=3600)
def study_diversity_compute(study_id: int, embeddings: bool = False) -> None:
    """Diversity across seeds of a study's models (pixels; with ``embeddings``, CLIP embeddings:
    queued on the gpu queue by ``automated.study_diversity_enqueue``, once per study at a time)."""
    try:
        compute_diversity(study=Study.objects.select_related("job").get(pk=study_id), embeddings=embeddings)
    finally:
        study_diversity_done(study_id=study_id)


@shared_task(name=queueing.FORECAST_COMPUTE, time_limit=600)
def forecast_compute(key: str, options: dict, study_id: int | None = None) -> None:
    """A forecast too heavy for a request (``ratings.forecasts``), kept in the cache under ``key``."""
    compute_forecast(key=key, options=options, study_id=study_id)
