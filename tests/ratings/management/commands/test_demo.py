"""The demo command's console: one line per request (issue 26: each request was logged twice,
by runserver's ``django.server`` and by the site's own ``evalsite.request``)."""

import logging

import pytest

from ratings.management.commands.demo import quiet_console

pytestmark = pytest.mark.django_db

QUIETED = ("celery.app.trace", "kombu.connection", "matplotlib", "matplotlib.font_manager", "evalsite.request")


@pytest.fixture
def restored_log_levels(monkeypatch):
    levels = {name: logging.getLogger(name).level for name in (*QUIETED, "django.server")}
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.setenv("DJANGO_RUNSERVER_HIDE_WARNING", "true")
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def request_lines(client, caplog) -> dict[str, int]:
    caplog.clear()
    with caplog.at_level(logging.INFO):
        client.get("/healthz/")
    return {name: sum(1 for r in caplog.records if r.name == name and "/healthz/" in r.getMessage()) for name in ("evalsite.request",)}


def test_the_demo_console_logs_each_request_once(client, caplog, restored_log_levels):
    assert request_lines(client, caplog) == {"evalsite.request": 1}  # the site logs requests outside the demo
    quiet_console()
    assert request_lines(client, caplog) == {"evalsite.request": 0}
    # runserver's own line (method, path, status, size) is the one the demo keeps.
    assert logging.getLogger("django.server").isEnabledFor(logging.INFO)
