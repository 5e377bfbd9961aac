"""What the queue looks like from the web process: tasks waiting per queue (Redis LLEN) and the
workers answering a ping, each with a short timeout so a dead broker never hangs a page."""

from __future__ import annotations

from urllib.parse import urlsplit

import redis

from common.queues import QUEUES
from evalsite.celery import app


def broker_status(*, timeout: float = 0.5) -> dict:
    """``{"configured", "message", "queues": {name: depth}, "workers": [names]}``."""
    broker_url = app.conf.broker_url or ""
    if app.conf.task_always_eager or not broker_url.startswith(("redis://", "rediss://")):
        return {
            "configured": False,
            "message": "No broker configured: tasks run inside the web process (the demo). Set REDIS_URL to use workers.",
            "queues": {},
            "workers": [],
        }
    status = {"configured": True, "message": "", "queues": {}, "workers": []}
    try:
        client = redis.Redis.from_url(broker_url, socket_timeout=timeout, socket_connect_timeout=timeout)
        status["queues"] = {queue: client.llen(queue) for queue in QUEUES}
    except redis.RedisError as error:
        status["message"] = f"The broker at {redis_location(broker_url)} does not answer ({error.__class__.__name__})."
        return status
    try:
        replies = app.control.inspect(timeout=timeout).ping() or {}
    except Exception as error:  # kombu raises several kinds; the page must still render
        status["message"] = f"Could not ask the workers ({error.__class__.__name__})."
        replies = {}
    status["workers"] = sorted(replies)
    if not replies and not status["message"]:
        status["message"] = f"No worker answered within {timeout:g} s."
    return status


def redis_location(url: str) -> str:
    """host:port of a Redis URL, without any password."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}"
