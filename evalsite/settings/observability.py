"""Operations: metrics, logs, alerts (evalsite.observability)."""

import logging

from .env import env
from .generation import EVALSITE_BATCH_HEARTBEAT_S

# /metrics answers direct connections from these networks (Prometheus inside the deployment)
# and staff; a request relayed by a proxy (X-Forwarded-For) counts as from outside.
# A token Prometheus sends as "Authorization: Bearer ..."; when set, it is required instead of the
# network rule (a published port behind Docker's proxy can make outside clients look internal).
EVALSITE_METRICS_TOKEN = env.str("EVALSITE_METRICS_TOKEN", default="")
EVALSITE_METRICS_NETWORKS = env.list(
    "EVALSITE_METRICS_NETWORKS", default=["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
)
# PROMETHEUS_MULTIPROC_DIR (gunicorn's workers merge their metrics through it) is made by
# evalsite.observability, which the project package imports before this module runs.
# Each Celery worker serves its metrics on this port (0: not served); never published outside.
EVALSITE_WORKER_METRICS_PORT = env.int("EVALSITE_WORKER_METRICS_PORT", default=0)
# The staff dashboard alerts when a running batch's heartbeat is older than this, or when the
# oldest queued batch has waited longer than this.
EVALSITE_ALERT_HEARTBEAT_S = env.float("EVALSITE_ALERT_HEARTBEAT_S", default=3 * EVALSITE_BATCH_HEARTBEAT_S)
EVALSITE_ALERT_QUEUE_WAIT_S = env.float("EVALSITE_ALERT_QUEUE_WAIT_S", default=600.0)
# "json": one JSON object per line with request_id and study_id (production); "text": readable lines.
EVALSITE_LOG_FORMAT = env.str("EVALSITE_LOG_FORMAT", default="text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # "redact": no crowd platform id or session id (PROLIFIC_PID, SESSION_ID, workerId, ...) in any line.
    "filters": {"context": {"()": "evalsite.observability.ContextFilter"}, "redact": {"()": "evalsite.observability.RedactFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(study_id)s %(process)d",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context", "redact"],
            "formatter": "json" if EVALSITE_LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": env.str("EVALSITE_LOG_LEVEL", default="INFO")},
    # Django's own handlers (a console in DEBUG, mail to ADMINS) would print a request unredacted:
    # its records go to the root's handler above instead.
    "loggers": {"django": {"handlers": [], "level": "INFO", "propagate": True}},
}
if EVALSITE_LOG_FORMAT == "json":
    # Python warnings become log records too, so a log collector reads nothing but JSON lines.
    logging.captureWarnings(True)
