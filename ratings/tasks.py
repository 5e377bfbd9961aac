"""Celery tasks of the ratings app (default queue): ids in, a service call, nothing else."""

from celery import shared_task

from . import leaderboards


@shared_task(name="ratings.leaderboards_refresh_stale")
def leaderboards_refresh_stale() -> list[int]:
    return leaderboards.leaderboards_refresh_stale()


@shared_task(name="ratings.leaderboard_recompute")
def leaderboard_recompute(study_id: int, method: str = "bt") -> None:
    from .models import Study

    leaderboards.study_leaderboard(study=Study.objects.get(pk=study_id), method=method, recompute=True)
