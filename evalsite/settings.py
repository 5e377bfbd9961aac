"""Django settings for evalsite, read from environment variables with working defaults.

With nothing set: SQLite in ``EVALSITE_DATA_DIR`` and Celery tasks run in-process (the demo).
With ``DATABASE_URL=postgres://...`` and ``REDIS_URL=redis://...``: PostgreSQL and a real broker.
Every variable is listed with a one-line explanation in ``.env.example``.
"""

import os
from pathlib import Path

import dj_database_url

from common.queues import DEFAULT_QUEUE, GPU_QUEUE

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


DATA_DIR = Path(os.environ.get("EVALSITE_DATA_DIR", BASE_DIR / "data")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    # A per-installation key kept in the data directory, so nothing secret is committed and
    # sessions survive restarts without any setup.
    key_file = DATA_DIR / "secret_key.txt"
    if not key_file.exists():
        import secrets

        key_file.write_text(secrets.token_urlsafe(50))
    SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")
# Same-origin referrers only: nothing a rater loads tells another site where it came from, and
# form posts keep their Origin header (a no-referrer policy sends "null" and fails CSRF).
SECURE_REFERRER_POLICY = "same-origin"

# Behind HTTPS in production: secure cookies, HSTS and a redirect from plain HTTP.
EVALSITE_HTTPS = env_bool("EVALSITE_HTTPS", False)
if EVALSITE_HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("EVALSITE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # /healthz/ answers the container healthcheck over plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "evalsite.dashboard",
    "common",
    "generation",
    "ratings",
]

MIDDLEWARE = [
    # Outermost: every request is counted and timed, and has its request id for the logs.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "evalsite.observability.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Innermost, so a view's database outage becomes a 503 with a retry message.
    "evalsite.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "evalsite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "evalsite" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "evalsite.wsgi.application"
ASGI_APPLICATION = "evalsite.asgi.application"

DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'evalsite.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")))}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The demo's web server and in-process tasks write from more than one thread.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Password validators, login lockout and the Content-Security-Policy: see the block at the end.

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "evalsite" / "static"]
STATIC_ROOT = Path(os.environ.get("EVALSITE_STATIC_ROOT", BASE_DIR / "staticfiles"))
WHITENOISE_USE_FINDERS = True

MEDIA_ROOT = Path(os.environ.get("EVALSITE_MEDIA_ROOT", DATA_DIR / "media"))
MEDIA_URL = "/media/"

# Images go through Django's storage API: "local" (MEDIA_ROOT) or "s3" (django-storages,
# configured by the AWS_* variables in .env.example).
EVALSITE_STORAGE = os.environ.get("EVALSITE_STORAGE", "local")
if EVALSITE_STORAGE == "s3":
    STORAGES = {
        "default": {"BACKEND": "storages.backends.s3.S3Storage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    }
    AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
    AWS_S3_ENDPOINT_URL = os.environ.get("AWS_S3_ENDPOINT_URL") or None
    AWS_S3_REGION_NAME = os.environ.get("AWS_S3_REGION_NAME") or None
    # Objects are private and carry no metadata beyond their content type; raters never get a
    # bucket URL: the web streams images by opaque key (ratings.views), so a signed URL is never
    # handed out, and keys are random (images/<uuid>.png).
    AWS_QUERYSTRING_AUTH = True
    AWS_DEFAULT_ACL = None
    AWS_S3_FILE_OVERWRITE = False
    AWS_S3_OBJECT_PARAMETERS: dict = {}
else:
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

# Where tiny (random-weight) pipelines and other local model weights are written.
EVALSITE_MODELS_DIR = Path(os.environ.get("EVALSITE_MODELS_DIR", DATA_DIR / "models")).resolve()
# torch device for generation: "auto" picks CUDA when present, else the CPU.
EVALSITE_DEVICE = os.environ.get("EVALSITE_DEVICE", "auto")
# Images per generation task (one task = one spec x a batch of prompt/seed pairs).
EVALSITE_BATCH_SIZE = int(os.environ.get("EVALSITE_BATCH_SIZE", "4"))
# A worker refreshes a running batch's heartbeat this often; a batch whose heartbeat is older
# than the lease belongs to a dead worker and is re-queued by reconciliation.
EVALSITE_BATCH_HEARTBEAT_S = float(os.environ.get("EVALSITE_BATCH_HEARTBEAT_S", "10"))
EVALSITE_BATCH_LEASE_S = float(os.environ.get("EVALSITE_BATCH_LEASE_S", "60"))
EVALSITE_BATCH_MAX_ATTEMPTS = int(os.environ.get("EVALSITE_BATCH_MAX_ATTEMPTS", "3"))
# Workers encode and write images on a background thread while the next batch samples.
EVALSITE_WRITE_BEHIND = env_bool("EVALSITE_WRITE_BEHIND", True)
# Deflate level of stored PNGs, 0-9 (lossless at any level; zlib-ng's 2 is fast and compact,
# its 1 much faster still but a third larger; see generation.png).
EVALSITE_PNG_COMPRESS_LEVEL = int(os.environ.get("EVALSITE_PNG_COMPRESS_LEVEL", "2"))
# Automated metrics per image (generation.metrics), computed on the gpu queue after generation:
# each scoring model's hub id or local directory (an offline worker needs it in its cache).
EVALSITE_METRIC_CLIP = os.environ.get("EVALSITE_METRIC_CLIP", "openai/clip-vit-large-patch14")
EVALSITE_METRIC_PICKSCORE = os.environ.get("EVALSITE_METRIC_PICKSCORE", "yuvalkirstain/PickScore_v1")
# PickScore's weights ship without an image processor and tokenizer; its card takes CLIP-H's.
# Empty: the weights' own.
EVALSITE_METRIC_PICKSCORE_PROCESSOR = os.environ.get("EVALSITE_METRIC_PICKSCORE_PROCESSOR", "laion/CLIP-ViT-H-14-laion2B-s32B-b79K")
# Images scored per model call; a batch's rows are written together or not at all.
EVALSITE_METRIC_BATCH_SIZE = int(os.environ.get("EVALSITE_METRIC_BATCH_SIZE", "32"))

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Celery: a real broker when REDIS_URL is set, otherwise tasks run in-process (the demo).
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
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
    "generation.metrics_*": {"queue": GPU_QUEUE},  # generation.metric_tasks
    "generation.reconcile_jobs": {"queue": DEFAULT_QUEUE},
    "generation.storage_orphans_delete": {"queue": DEFAULT_QUEUE},
}
# Stored image files no row references are deleted once this old (hourly, by beat): a worker
# killed between writing files and committing rows leaves them; younger ones may be mid-commit.
EVALSITE_ORPHAN_AGE_S = float(os.environ.get("EVALSITE_ORPHAN_AGE_S", "3600"))
# Re-queues the missing images of generation batches whose worker died (see generation.jobs.job_reconcile).
CELERY_BEAT_SCHEDULE = {
    "generation-reconcile-jobs": {
        "task": "generation.reconcile_jobs",
        "schedule": float(os.environ.get("EVALSITE_RECONCILE_INTERVAL_S", "60")),
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
        "schedule": float(os.environ.get("RATINGS_SAMPLING_REFRESH_INTERVAL_S", "60")),
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
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", str(6 * 3600))),
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# A study's cached leaderboard is recomputed once this many new votes have come in.
LEADERBOARD_REFRESH_VOTES = int(os.environ.get("LEADERBOARD_REFRESH_VOTES", "200"))
# An adaptive or rule-stopped study's pair weights and stopping rule are recomputed once this
# many new comparisons are answered (checked by beat every RATINGS_SAMPLING_REFRESH_INTERVAL_S).
RATINGS_SAMPLING_REFRESH_VOTES = int(os.environ.get("RATINGS_SAMPLING_REFRESH_VOTES", "100"))

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "common.api.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "common.api.api_exception_handler",
}

# The OpenAPI schema at /api/schema/ and Swagger UI at /api/docs/, served from the sidecar's
# static files so the docs work offline.
SPECTACULAR_SETTINGS = {
    "TITLE": "evalsite API",
    "DESCRIPTION": (
        "Queue pairwise human-preference studies of text-to-image models, follow their progress, "
        "and download leaderboards, votes and images. Authenticate with `Authorization: Token <key>`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
}

# Upload limits of the API: a zip of external images, and a prompt file.
EVALSITE_MAX_IMAGE_ZIP_BYTES = int(os.environ.get("EVALSITE_MAX_IMAGE_ZIP_BYTES", str(2 * 1024**3)))
EVALSITE_MAX_PROMPT_FILE_BYTES = int(os.environ.get("EVALSITE_MAX_PROMPT_FILE_BYTES", str(5 * 1024**2)))

# --- Operations: metrics, logs, alerts (evalsite.observability) ---
# /metrics answers direct connections from these networks (Prometheus inside the deployment)
# and staff; a request relayed by a proxy (X-Forwarded-For) counts as from outside.
# A token Prometheus sends as "Authorization: Bearer ..."; when set, it is required instead of the
# network rule (a published port behind Docker's proxy can make outside clients look internal).
EVALSITE_METRICS_TOKEN = os.environ.get("EVALSITE_METRICS_TOKEN", "")
EVALSITE_METRICS_NETWORKS = env_list("EVALSITE_METRICS_NETWORKS", "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16")
# gunicorn's workers merge their metrics through this directory (docker-compose.yml sets it for
# the web); any process started with it (a manage.py command in the container) needs it to exist.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
# Each Celery worker serves its metrics on this port (0: not served); never published outside.
EVALSITE_WORKER_METRICS_PORT = int(os.environ.get("EVALSITE_WORKER_METRICS_PORT", "0"))
# The staff dashboard alerts when a running batch's heartbeat is older than this, or when the
# oldest queued batch has waited longer than this.
EVALSITE_ALERT_HEARTBEAT_S = float(os.environ.get("EVALSITE_ALERT_HEARTBEAT_S", str(3 * EVALSITE_BATCH_HEARTBEAT_S)))
EVALSITE_ALERT_QUEUE_WAIT_S = float(os.environ.get("EVALSITE_ALERT_QUEUE_WAIT_S", "600"))
# "json": one JSON object per line with request_id and study_id (production); "text": readable lines.
EVALSITE_LOG_FORMAT = os.environ.get("EVALSITE_LOG_FORMAT", "text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "evalsite.observability.ContextFilter"}},
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
            "filters": ["context"],
            "formatter": "json" if EVALSITE_LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("EVALSITE_LOG_LEVEL", "INFO")},
}

# --- Who gets in, and how much work one caller can cause (issue 18) ----------------------------
# New crowd participants one study takes per minute: a leaked link cannot fill a study's
# participant cap with invented ids in a burst.
EVALSITE_JOINS_PER_MINUTE = int(os.environ.get("EVALSITE_JOINS_PER_MINUTE", "60"))
# Where the finish page may post an MTurk assignment (the link's turkSubmitTo): MTurk's live and
# sandbox hosts; any other is refused, as it would make the page an open redirect (ratings/crowd.py).
EVALSITE_MTURK_SUBMIT_HOSTS = env_list("EVALSITE_MTURK_SUBMIT_HOSTS", "https://www.mturk.com,https://workersandbox.mturk.com")
# The MTurk pages that show a HIT's ExternalQuestion in a frame: only they may frame a study
# link's HIT page (every other page refuses framing). Live and sandbox, workers and requesters.
EVALSITE_MTURK_FRAME_ANCESTORS = env_list(
    "EVALSITE_MTURK_FRAME_ANCESTORS",
    "https://worker.mturk.com,https://workersandbox.mturk.com,https://www.mturk.com,https://requester.mturk.com,"
    "https://requestersandbox.mturk.com",
)

# Django's standard password validators: long enough, not like the username, not a common
# password, not all digits.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login lockout (django-axes, attempts kept in the database): after AXES_FAILURE_LIMIT wrong
# passwords for one username, or from one client address, that username or address is locked
# for AXES_COOLOFF_TIME, on /login/, the admin and /api/v1/auth/token/ alike;
# `manage.py axes_reset_username NAME` / `axes_reset_ip ADDRESS` lift it early. Behind HTTPS the
# site sits behind a proxy (EVALSITE_PROXY_COUNT of them): the client's address is then read
# from X-Forwarded-For, or every visitor would share the proxy's address and its lock.
INSTALLED_APPS += ["axes", "csp"]
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.clickjacking.XFrameOptionsMiddleware") + 1, "csp.middleware.CSPMiddleware")
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
AXES_ENABLED = env_bool("EVALSITE_LOGIN_LOCKOUT", True)
AXES_FAILURE_LIMIT = int(os.environ.get("EVALSITE_LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = float(os.environ.get("EVALSITE_LOGIN_COOLOFF_HOURS", "0.25"))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Empty (as .env.example leaves it) means the default: one proxy with HTTPS on, none without.
AXES_IPWARE_PROXY_COUNT = int(os.environ.get("EVALSITE_PROXY_COUNT") or ("1" if EVALSITE_HTTPS else "0"))
if AXES_IPWARE_PROXY_COUNT:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False

# Content-Security-Policy: scripts and styles from this site only (Swagger UI's start-up script
# is served as a file, see evalsite.api), no plugins, no framing. Style attributes stay allowed
# (progress bars and the display size are set in style="").
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
if EVALSITE_LOG_FORMAT == "json":
    import logging

    # Python warnings become log records too, so a log collector reads nothing but JSON lines.
    logging.captureWarnings(True)
