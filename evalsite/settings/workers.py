"""Celery and Redis: the broker (or in-process tasks for the demo), queues, the beat schedule,
and the cache."""

from common.queues import DEFAULT_QUEUE, GPU_QUEUE
from ratings import conf as ratings_conf

from .env import env

_default = ratings_conf.DEFAULTS  # the app's defaults, declared once in ratings/conf.py

# Celery: a real broker when REDIS_URL is set, otherwise tasks run in-process (the demo).
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = DEFAULT_QUEUE
# Task modules besides the apps' tasks.py (which autodiscovery finds).
CELERY_IMPORTS = ["generation.metric_tasks"]
CELERY_TASK_ROUTES = {
    "generation.generate_batch": {"queue": GPU_QUEUE},
    "generation.spec_speed_measure": {"queue": GPU_QUEUE},  # loads the spec's pipeline
    "generation.metrics_*": {"queue": GPU_QUEUE},  # generation.metric_tasks
    "generation.reconcile_jobs": {"queue": DEFAULT_QUEUE},
    "generation.storage_orphans_delete": {"queue": DEFAULT_QUEUE},
}
# Stored image files no row references are deleted once EVALSITE_ORPHAN_AGE_S old (hourly, by beat).
# Re-queues the missing images of generation batches whose worker died (see generation.jobs.job_reconcile).
CELERY_BEAT_SCHEDULE = {
    "generation-reconcile-jobs": {
        "task": "generation.reconcile_jobs",
        "schedule": env.float("EVALSITE_RECONCILE_INTERVAL_S", default=60.0),
        "options": {"queue": DEFAULT_QUEUE},
    },
    "ratings-leaderboards-refresh": {
        "task": "ratings.leaderboards_refresh_stale",
        "schedule": 60.0,
        "options": {"queue": DEFAULT_QUEUE},
    },
    "generation-storage-orphans-delete": {
        "task": "generation.storage_orphans_delete",
        "schedule": 3600.0,
        "options": {"queue": DEFAULT_QUEUE},
    },
    # Adaptive pair weights and the stopping rule of studies with enough new votes (ratings/sampling.py).
    "ratings-sampling-refresh": {
        "task": "ratings.study_sampling_refresh_due",
        "schedule": env.float("RATINGS_SAMPLING_REFRESH_INTERVAL_S", default=_default["RATINGS_SAMPLING_REFRESH_INTERVAL_S"]),
        "options": {"queue": DEFAULT_QUEUE},
    },
    "ratings-serve-levels-repair": {
        "task": "ratings.serve_levels_repair",
        "schedule": 60.0,
        "options": {"queue": DEFAULT_QUEUE},
    },
}
# Longer than the longest batch, so Redis never hands a running batch to a second worker.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=6 * 3600),
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# A study's cached leaderboard is recomputed once this many new votes have come in.
LEADERBOARD_REFRESH_VOTES = env.int("LEADERBOARD_REFRESH_VOTES", default=_default["LEADERBOARD_REFRESH_VOTES"])
# An adaptive or rule-stopped study's pair weights and stopping rule are recomputed once this
# many new comparisons are answered (checked by beat every RATINGS_SAMPLING_REFRESH_INTERVAL_S).
RATINGS_SAMPLING_REFRESH_VOTES = env.int("RATINGS_SAMPLING_REFRESH_VOTES", default=_default["RATINGS_SAMPLING_REFRESH_VOTES"])

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
