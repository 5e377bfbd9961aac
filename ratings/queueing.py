"""Enqueueing the ratings app's tasks by name (``common.queues.task_send``): the services that
queue work (``results.leaderboards``, ``results.automated``, ``forecasts``) never import
``ratings.tasks``, which calls them. Each name here is the one its task registers under, and the
name beat (``CELERY_BEAT_SCHEDULE``) and the deployed workers route by."""

from __future__ import annotations

from common.queues import task_send

LEADERBOARDS_REFRESH_STALE = "ratings.leaderboards_refresh_stale"
LEADERBOARD_RECOMPUTE = "ratings.leaderboard_recompute"
SERVE_LEVELS_REPAIR = "ratings.serve_levels_repair"
STUDY_SAMPLING_REFRESH = "ratings.study_sampling_refresh"
STUDY_SAMPLING_REFRESH_DUE = "ratings.study_sampling_refresh_due"
STUDY_DIVERSITY_COMPUTE = "ratings.study_diversity_compute"
FORECAST_COMPUTE = "ratings.forecast_compute"


def leaderboard_recompute_send(study_id: int, options: dict):
    return task_send(LEADERBOARD_RECOMPUTE, (study_id, options))


def study_diversity_compute_send(study_id: int, embeddings: bool, **options):
    """``options``: how to send it (``queue=`` for the embeddings, which load a model on the gpu queue)."""
    return task_send(STUDY_DIVERSITY_COMPUTE, (study_id, embeddings), **options)


def forecast_compute_send(key: str, options: dict, study_id: int | None):
    return task_send(FORECAST_COMPUTE, (key, options, study_id))
