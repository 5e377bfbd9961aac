"""The one retry policy of tasks that meet a transient fault: the database or the broker
restarting, a network storage timeout. Such a task is retried with exponential backoff (5 s,
10 s, 20 s, ... capped at 10 minutes), at most ``MAX_RETRIES`` times; any other error fails it."""

from __future__ import annotations

from django.db import InterfaceError, OperationalError

# Faults that pass: the database or broker restarting, a network storage timeout.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)
MAX_RETRIES = 5


def retry_countdown(retries: int) -> int:
    """Seconds before retry number ``retries + 1``: 5, 10, 20, ... at most 600."""
    return min(600, 5 * 2**retries)


def retry_transient(task, error: BaseException):
    """Retry the bound ``task`` after ``error`` (one of ``TRANSIENT_ERRORS``), backing off: use as
    ``except TRANSIENT_ERRORS as error: raise retry_transient(self, error)``."""
    return task.retry(exc=error, countdown=retry_countdown(task.request.retries))
