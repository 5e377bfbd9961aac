"""The dashboard's queue and worker state, read from a real (private) Redis."""

from __future__ import annotations

import pytest

from evalsite.dashboard import broker


def test_broker_status_reads_queue_depth_from_redis_and_reports_no_worker(redis_server, settings):
    import redis

    from evalsite.celery import app
    from tests.conftest import reset_broker_connections

    client = redis.Redis.from_url(redis_server.url)
    client.delete("gpu", "default")
    client.rpush("gpu", "a", "b", "c")
    previous = (app.conf.broker_url, app.conf.task_always_eager)
    app.conf.broker_url, app.conf.task_always_eager = redis_server.url, False
    reset_broker_connections(app)
    try:
        status = broker.broker_status(timeout=0.3)
    finally:
        app.conf.broker_url, app.conf.task_always_eager = previous
        reset_broker_connections(app)
        client.delete("gpu")
    assert status["configured"] is True
    assert status["queues"] == {"gpu": 3, "default": 0}
    assert status["workers"] == [] and status["message"] == "No worker answered within 0.3 s."


def test_broker_status_says_when_redis_does_not_answer():
    from evalsite.celery import app
    from tests.processes import free_port

    previous = (app.conf.broker_url, app.conf.task_always_eager)
    app.conf.broker_url, app.conf.task_always_eager = f"redis://:secret@127.0.0.1:{free_port()}/0", False
    try:
        status = broker.broker_status(timeout=0.2)
    finally:
        app.conf.broker_url, app.conf.task_always_eager = previous
    assert status["configured"] is True and status["queues"] == {}
    assert status["message"].startswith("The broker at 127.0.0.1:") and "secret" not in status["message"]


@pytest.mark.slow
def test_broker_status_lists_a_live_worker(celery_worker):
    status = broker.broker_status(timeout=2.0)
    assert status["configured"] and len(status["workers"]) == 1
    assert status["workers"][0].startswith("test-")
