"""``common.queues.task_send``: a task is enqueued by its name, routed as the workers route it,
and where tasks run in-process it runs without its caller importing the tasks module."""

import json
import os
import subprocess
import sys
from pathlib import Path

import redis

from common.queues import DEFAULT_QUEUE, GPU_QUEUE
from generation import queueing as generation_queueing
from ratings import queueing as ratings_queueing
from tests.conftest import tasks_sent_to, worker_database_url

ROOT = Path(__file__).resolve().parents[2]


def _waiting(client, queue: str) -> list[tuple[str, list]]:
    """(task name, args) of every message waiting in ``queue``, oldest first."""
    messages = [json.loads(raw) for raw in reversed(client.lrange(queue, 0, -1))]
    return [(message["headers"]["task"], message["headers"]["argsrepr"]) for message in messages]


def test_a_task_is_sent_by_name_to_the_queue_its_name_routes_to(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    with tasks_sent_to(redis_server.url):
        generation_queueing.generate_batch_send(7)
        generation_queueing.metrics_compute_job_send(3, "clip_score")
        ratings_queueing.forecast_compute_send("key", {"runs": 10}, None)
        ratings_queueing.study_diversity_compute_send(5, True, queue=GPU_QUEUE)
    assert _waiting(client, GPU_QUEUE) == [
        ("generation.generate_batch", "(7,)"),
        ("generation.metrics_compute_job", "(3, 'clip_score')"),
        ("ratings.study_diversity_compute", "(5, True)"),
    ]
    assert _waiting(client, DEFAULT_QUEUE) == [("ratings.forecast_compute", "('key', {'runs': 10}, None)")]


def test_in_process_a_task_runs_though_nothing_imported_its_module(db):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "evalsite.settings", "DATABASE_URL": worker_database_url(), "CELERY_TASK_ALWAYS_EAGER": "1"}
    env.pop("REDIS_URL", None)
    code = """
import sys, django
django.setup()
from common.queues import task_send
before = 'generation.tasks' in sys.modules
print(before, task_send('generation.reconcile_jobs').get(), 'generation.tasks' in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == ["False", "0", "True"]
