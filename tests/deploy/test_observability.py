"""Metrics and logs an operator reads: /metrics for the internal network and staff only, a
worker's metrics server, JSON log lines with the request id and the study id, and the staff
dashboard's alerts on a stalled GPU worker or a queue that waits too long."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from generation import jobs
from generation.models import GenerationBatch
from tests.processes import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_metrics_answer_the_internal_network_and_staff_and_nobody_else(client, django_user_model):
    client.get("/healthz/")
    inside = client.get("/metrics", REMOTE_ADDR="10.1.2.3")
    assert inside.status_code == 200
    body = inside.content.decode()
    assert 'django_http_requests_latency_seconds_by_view_method_count{method="GET",view="healthz"}' in body
    assert "evalsite_votes_submitted_total" in body
    # Through the public proxy, or from the internet: the page does not exist.
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.5").status_code == 404
    rater = django_user_model.objects.create_user("rater", password="pw-12345678")
    client.force_login(rater)
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.5").status_code == 404
    staff = django_user_model.objects.create_user("operator", password="pw-12345678", is_staff=True)
    client.force_login(staff)
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.5").status_code == 200


@pytest.mark.django_db
def test_with_a_metrics_token_the_scraper_must_show_it_from_any_network(client, settings):
    settings.EVALSITE_METRICS_TOKEN = "scrape-secret-42"
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 404, "the internal network alone no longer suffices"
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.5", HTTP_AUTHORIZATION="Bearer scrape-secret-42").status_code == 200


def test_every_log_line_is_json_with_the_request_id_and_the_study_id(tmp_path):
    code = """
import django
django.setup()
from django.test import Client
client = Client()
client.get("/rate/4242/", HTTP_X_REQUEST_ID="req-abc-123")
client.get("/healthz/")
"""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "evalsite.settings", "EVALSITE_LOG_FORMAT": "json",
           "EVALSITE_DATA_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'logs.sqlite3'}"}
    env.pop("REDIS_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=300, capture_output=True)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    rate = [line for line in lines if line.get("path") == "/rate/4242/"]
    assert rate, result.stderr
    assert rate[0]["request_id"] == "req-abc-123" and rate[0]["study_id"] == "4242"
    assert rate[0]["logger"] == "evalsite.request" and rate[0]["level"] == "INFO" and "time" in rate[0]
    health = [line for line in lines if line.get("path") == "/healthz/"][0]
    assert len(health["request_id"]) == 32 and health["study_id"] == "" and health["status"] == 200
    assert all(line.startswith("{") for line in result.stderr.splitlines() if line.strip()), "every line is JSON"


def test_a_worker_process_logs_through_the_projects_logging_with_crowd_ids_redacted(tmp_path):
    """Celery sets up a worker's logging with its own handlers unless a setup_logging receiver
    does it: ours applies the project's LOGGING, so a task's log line is redacted like a request's."""
    code = """
import logging
from celery.utils.log import get_task_logger
from evalsite.celery import app
app.log.setup(loglevel="INFO")  # what `celery worker` calls at start
get_task_logger("ratings.tasks").warning("a task saw /join/?PROLIFIC_PID=5e9d8c7b6a5f4e3d2c1b0a97&STUDY_ID=s1")
"""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "evalsite.settings", "EVALSITE_LOG_FORMAT": "json", "EVALSITE_DATA_DIR": str(tmp_path)}
    env.pop("REDIS_URL", None)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "5e9d8c7b6a5f4e3d2c1b0a97" not in output, output
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert [line["message"] for line in lines if line["logger"] == "ratings.tasks"] == ["a task saw /join/?PROLIFIC_PID=[redacted]&STUDY_ID=[redacted]"], output


@pytest.mark.slow
def test_a_worker_serves_its_metrics_on_its_own_port(tmp_path, transactional_db):
    from tests.processes import CeleryWorker, RedisServer
    from tests.conftest import worker_database_url

    redis_server = RedisServer(tmp_path / "redis").start()
    port = free_port()
    worker = CeleryWorker(
        broker_url=redis_server.url, database_url=worker_database_url(), data_dir=str(tmp_path), queues="default",
        log_path=tmp_path / "worker.log", extra_env={"EVALSITE_WORKER_METRICS_PORT": str(port), "EVALSITE_LOG_FORMAT": "json"},
    )
    try:
        worker.start()
        body = wait_for(lambda: _get(f"http://127.0.0.1:{port}/metrics"), 20, "the worker's metrics")
        assert 'evalsite_queue_depth{queue="gpu"} 0.0' in body
        assert "evalsite_queue_oldest_wait_seconds" in body
        for name in ["evalsite_images_generated", "evalsite_seconds_per_image", "evalsite_batch_failures", "evalsite_batch_retries", "evalsite_queue_wait_seconds"]:
            assert f"# TYPE {name}" in body, name
        # The worker logs through the project's LOGGING (its filters redact crowd ids), not Celery's handlers.
        logged = [json.loads(line) for line in worker.log().splitlines() if line.startswith("{")]
        assert any(line["message"].endswith("ready.") and line["logger"].startswith("celery") for line in logged), worker.log()[-3000:]
    finally:
        worker.stop()
        redis_server.stop()


def _get(url: str) -> str | None:
    try:
        response = requests.get(url, timeout=5)
    except (requests.ConnectionError, requests.Timeout):  # not up yet, or slow on a loaded machine
        return None
    return response.text if response.ok else None


@pytest.mark.django_db
def test_the_dashboard_alerts_on_a_stalled_gpu_worker_and_a_queue_that_waits_too_long(client, django_user_model, tiny_specs, prompt_set, settings, django_capture_on_commit_callbacks):
    staff = django_user_model.objects.create_user("operator", password="pw-12345678", is_staff=True)
    client.force_login(staff)
    job = jobs.job_create(specs=tiny_specs[:1], prompt_set=prompt_set, seeds=[0], display_size=32)
    with django_capture_on_commit_callbacks():
        jobs.job_enqueue(job=job, batch_size=4)
    assert "role=\"alert\"" not in client.get("/dashboard/").content.decode(), "a fresh queue raises no alert"
    running, queued = GenerationBatch.objects.filter(job=job).order_by("pk")
    silent_since = timezone.now() - timedelta(seconds=settings.EVALSITE_ALERT_HEARTBEAT_S + 5)
    GenerationBatch.objects.filter(pk=running.pk).update(status="running", worker="gpu@node-7", claimed_at=silent_since, heartbeat_at=silent_since)
    GenerationBatch.objects.filter(pk=queued.pk).update(queued_at=timezone.now() - timedelta(seconds=settings.EVALSITE_ALERT_QUEUE_WAIT_S + 60))
    page = client.get("/dashboard/").content.decode()
    assert 'role="alert">GPU worker gpu@node-7 has sent no heartbeat for' in page
    assert "The gpu queue&#x27;s oldest batch has waited" in page
