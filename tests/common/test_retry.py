"""``common.retry``: the one backoff policy of tasks that meet a transient fault."""

from celery import Celery
from celery.exceptions import Retry
from django.db import OperationalError

from common.retry import MAX_RETRIES, TRANSIENT_ERRORS, retry_countdown, retry_transient


def test_backoff_doubles_from_five_seconds_up_to_ten_minutes():
    assert [retry_countdown(n) for n in range(9)] == [5, 10, 20, 40, 80, 160, 320, 600, 600]


def test_a_transient_fault_retries_the_task_with_the_backoff_and_other_errors_fail_it():
    app = Celery("retry-test", set_as_current=False)
    app.conf.task_always_eager = True
    calls = []

    @app.task(bind=True, max_retries=MAX_RETRIES)
    def flaky(self, error_kind):
        calls.append(self.request.retries)
        try:
            raise error_kind("the database restarted")
        except TRANSIENT_ERRORS as error:
            raise retry_transient(self, error)

    result = flaky.apply(args=[OperationalError], throw=False)  # eager apply replays each retry in-process
    assert isinstance(result.result, OperationalError)
    assert calls == list(range(MAX_RETRIES + 1))
    calls.clear()
    result = flaky.apply(args=[ValueError], throw=False)
    assert isinstance(result.result, ValueError) and calls == [0]


def test_retry_names_its_countdown():
    class Request:
        retries = 3

    class Task:
        request = Request()

        def retry(self, *, exc, countdown):
            return Retry(exc=exc, when=countdown)

    assert retry_transient(Task(), TimeoutError("storage")).when == 40
