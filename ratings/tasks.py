"""Celery tasks of the ratings app (default queue): ids in, a service call, nothing else."""

from celery import shared_task

from . import sampling, scheduler
from .results import leaderboards


@shared_task(name="ratings.leaderboards_refresh_stale")
def leaderboards_refresh_stale() -> list[int]:
    return leaderboards.leaderboards_refresh_stale()


@shared_task(name="ratings.leaderboard_recompute", time_limit=1800)
def leaderboard_recompute(study_id: int, options: dict | None = None) -> None:
    """A leaderboard variant too heavy for a request (``leaderboards.INLINE_ROUNDS``)."""
    from .models import Study

    leaderboards.study_leaderboard(study=Study.objects.get(pk=study_id), recompute=True, in_task=True, **(options or {}))


@shared_task(name="ratings.serve_levels_repair")
def serve_levels_repair() -> list[int]:
    return scheduler.serve_levels_repair()


@shared_task(name="ratings.study_sampling_refresh")
def study_sampling_refresh(study_id: int) -> bool:
    """Refit one study's votes: its pair weights and its stopping rule; True if it stopped."""
    from .models import Study

    return sampling.study_sampling_refresh(study=Study.objects.get(pk=study_id)).stopped


@shared_task(name="ratings.study_sampling_refresh_due")
def study_sampling_refresh_due() -> list[int]:
    return sampling.study_sampling_refresh_due()


@shared_task(name="ratings.study_diversity_compute", time_limit=3600)
def study_diversity_compute(study_id: int, embeddings: bool = False) -> None:
    """Diversity across seeds of a study's models (pixels; with ``embeddings``, CLIP embeddings:
    queued on the gpu queue by ``automated.study_diversity_enqueue``)."""
    from .models import Study
    from .results.automated import study_diversity_compute as compute

    compute(study=Study.objects.select_related("job").get(pk=study_id), embeddings=embeddings)
