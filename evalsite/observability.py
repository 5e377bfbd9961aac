"""Operating the deployment: Prometheus metrics, structured logs with a request id and a study
id, and the dashboard's alerts.

- The web exposes ``/metrics`` (django-prometheus: requests, latency by view; plus votes
  submitted) to the internal network and to staff only.
- Each Celery worker serves its own metrics (prometheus-client) on
  ``EVALSITE_WORKER_METRICS_PORT``, which docker-compose.yml never publishes: images generated,
  seconds per image by spec and device, batch failures and retries, queue depth and wait.
- Log records carry ``request_id`` and ``study_id`` (``EVALSITE_LOG_FORMAT=json`` writes them as
  JSON lines), and never a crowd participant's platform id or session id (``RedactFilter``).
"""

from __future__ import annotations

import contextvars
import ipaddress
import logging
import os
import re
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from prometheus_client import Counter

from common.network import client_address
from common.queues import QUEUES

logger = logging.getLogger(__name__)
# One line per request (method, path, status, view, client address, duration_ms, request_id, study_id).
request_logger = logging.getLogger("evalsite.request")

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
study_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("study_id", default="")

# prometheus_client writes a metric's file in PROMETHEUS_MULTIPROC_DIR (gunicorn's workers merge
# their metrics through it) when the metric is made, at this module's import: the project package
# imports the Celery app, which imports this module, before any settings run, so the directory is
# made here, for every process started with the variable (a manage.py command in the container).
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
VOTES_SUBMITTED = Counter("evalsite_votes_submitted", "Vote submissions answered with success (rate() gives votes per second).")

# The view a rater submits answers to; a 2xx from it is a recorded submission.
VOTE_VIEW = "ratings:vote"
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
STUDY_KWARGS = ("study_id", "study", "study_pk", "slug")


class ContextFilter(logging.Filter):
    """Adds the current request id and study id (empty outside a request) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        if not hasattr(record, "study_id"):
            record.study_id = study_id_var.get()
        return True


# What identifies a crowd participant, or resumes their session, in a study link (Prolific,
# MTurk): never written to a log. Matched as a query parameter (also percent-encoded inside
# another URL) and as a key of a printed dict, JSON object or QueryDict.
# Django's session cookie, should a request's cookies ever be printed, likewise.
CROWD_ID_PARAMETERS = ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID", "workerId", "assignmentId", "hitId", "sessionid")
REDACTED = "[redacted]"
_CROWD_ID = re.compile(
    r"(?:(?<![A-Za-z0-9_])|(?<=%3F)|(?<=%3f)|(?<=%26))(" + "|".join(CROWD_ID_PARAMETERS) + r")"
    r"(=|%3D|['\"]?\s*[:=]\s*\[?\s*['\"]?)([^&\s'\"<>,;}\]]+)"
)
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "request_id", "study_id"}


def redact(text: str) -> str:
    """``text`` with the value of every crowd id and session id parameter replaced by [redacted]."""
    return _CROWD_ID.sub(lambda match: f"{match[1]}{match[2]}{REDACTED}", text)


def _request_line(request) -> str:
    try:
        return f"{request.method} {request.get_full_path()}"
    except Exception:  # not a Django request after all
        return repr(request)


class RedactFilter(logging.Filter):
    """Removes crowd participants' platform ids and session ids (``CROWD_ID_PARAMETERS``) from
    every record a handler writes: the message and its arguments, Django's ``request`` (whose
    printed form carries the full query string of a 4xx join), every other extra, a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = redact(message), ()
        for name, value in list(vars(record).items()):
            if name in _RECORD_ATTRIBUTES or value is None or isinstance(value, (bool, int, float)):
                continue
            if name == "request":
                record.request = redact(_request_line(value))
            elif isinstance(value, str):
                setattr(record, name, redact(value))
            else:
                setattr(record, name, redact(str(value)))
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class RequestContextMiddleware:
    """Gives each request an id (the proxy's ``X-Request-ID`` when it is a sane token, else a new
    one), returns it in the response header, puts it and the URL's study id into every log line
    of the request, and counts successful vote submissions."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        request_token = request_id_var.set(request_id)
        study_token = study_id_var.set("")
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            match = getattr(request, "resolver_match", None)
            view = match.view_name if match is not None else ""
            if request.method == "POST" and 200 <= response.status_code < 300 and view == VOTE_VIEW:
                VOTES_SUBMITTED.inc()
            response["X-Request-ID"] = request_id
            request_logger.info(
                "%s %s %s", request.method, request.path, response.status_code,
                extra={"method": request.method, "path": request.path, "status": response.status_code, "view": view,
                       "client": client_address(request),
                       "duration_ms": round(1000 * (time.perf_counter() - started), 1)},
            )
            return response
        finally:
            request_id_var.reset(request_token)
            study_id_var.reset(study_token)

    def process_view(self, request, view_func, view_args, view_kwargs):
        for name in STUDY_KWARGS:
            if name in view_kwargs:
                study_id_var.set(str(view_kwargs[name]))
                break
        return None


def _client_is_internal(request: HttpRequest) -> bool:
    """A direct connection from an allowed network. A request that came through a proxy (it has
    ``X-Forwarded-For``) is from outside, whatever the proxy's own address."""
    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network, strict=False) for network in settings.EVALSITE_METRICS_NETWORKS)


def _scraper_allowed(request: HttpRequest) -> bool:
    """With ``EVALSITE_METRICS_TOKEN`` set, a scraper shows it as a bearer token (from any
    network); without one, a direct connection from the internal networks is enough."""
    token = settings.EVALSITE_METRICS_TOKEN
    if token:
        import hmac

        return hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}")
    return _client_is_internal(request)


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics of the web process, for the internal network (or the holder of the
    metrics token) and staff only; anyone else gets a 404, as for a page that does not exist."""
    user = getattr(request, "user", None)
    if not (_scraper_allowed(request) or (user is not None and user.is_authenticated and user.is_staff)):
        raise Http404("No such page.")
    from django_prometheus.exports import ExportToDjangoView

    return ExportToDjangoView(request)


# --- Celery workers ---------------------------------------------------------------------------


def worker_metrics_start(port: int, *, address: str = "0.0.0.0") -> bool:
    """Serve this worker process's metrics on ``address:port`` (a thread); False if the port is
    taken (another worker on the same host), which is logged and not fatal."""
    from prometheus_client import REGISTRY, start_http_server

    import generation.telemetry  # noqa: F401  (registers the generation metrics before the first batch)

    if not getattr(worker_metrics_start, "_collector", None):
        worker_metrics_start._collector = QueueCollector()
        REGISTRY.register(worker_metrics_start._collector)
    try:
        start_http_server(port, addr=address)
    except OSError as error:
        logger.warning("worker metrics not served: port %s is not free (%s)", port, error)
        return False
    logger.info("worker metrics on http://%s:%s/metrics", address, port)
    return True


class QueueCollector:
    """Queue depth (tasks waiting in Redis per queue) and wait (age of the oldest generation batch
    still queued), read when Prometheus scrapes."""

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        import redis
        from celery import current_app

        depth = GaugeMetricFamily("evalsite_queue_depth", "Tasks waiting in the broker, per queue.", labels=["queue"])
        try:
            client = redis.Redis.from_url(current_app.conf.broker_url, socket_timeout=1, socket_connect_timeout=1)
            for queue in QUEUES:
                depth.add_metric([queue], client.llen(queue))
        except (redis.RedisError, ValueError) as error:
            logger.warning("queue depth unknown: %s", error)
        yield depth
        wait = GaugeMetricFamily("evalsite_queue_oldest_wait_seconds", "Seconds the oldest queued generation batch has waited.")
        wait.add_metric([], _oldest_queued_batch_seconds())
        yield wait


def _oldest_queued_batch_seconds() -> float:
    from django.db import close_old_connections, connection
    from django.utils import timezone

    # Late: the Celery app imports this module before Django's apps (and their models) are ready.
    from generation.selectors import oldest_queued_batch_at

    try:
        queued_at = oldest_queued_batch_at()
    except Exception as error:  # the scrape must answer even when the database does not
        logger.warning("queue wait unknown: %s", error)
        return float("nan")
    finally:
        close_old_connections()
        connection.close()
    return (timezone.now() - queued_at).total_seconds() if queued_at else 0.0


def alerts() -> list[str]:
    """What the staff dashboard shows in red: a GPU worker whose batch heartbeat stalled, a queue
    whose oldest batch waited past the threshold."""
    from django.utils import timezone

    # Late: the Celery app imports this module before Django's apps (and their models) are ready.
    from generation.selectors import oldest_queued_batch_at, stalled_batches

    now = timezone.now()
    messages = []
    for batch in stalled_batches(older_than_s=settings.EVALSITE_ALERT_HEARTBEAT_S):
        silent = (now - batch.heartbeat_at).total_seconds()
        messages.append(
            f"GPU worker {batch.worker or '(unknown)'} has sent no heartbeat for {silent:.0f} s on batch {batch.pk} "
            f"({batch.spec.slug}): it may have died or hung; its images are re-queued once the lease "
            f"({settings.EVALSITE_BATCH_LEASE_S:.0f} s) runs out."
        )
    queued_at = oldest_queued_batch_at()
    if queued_at is not None:
        waited = (now - queued_at).total_seconds()
        if waited > settings.EVALSITE_ALERT_QUEUE_WAIT_S:
            messages.append(
                f"The gpu queue's oldest batch has waited {waited:.0f} s (alert above "
                f"{settings.EVALSITE_ALERT_QUEUE_WAIT_S:.0f} s): no GPU worker is taking work, or too few are running."
            )
    return messages
