"""Who gets in: the secret key, hosts, HTTPS, passwords, the login lockout, the proxies trusted
for the client's address, and the Content-Security-Policy."""

import secrets

from common import conf as common_conf

from .base import DATA_DIR
from .env import env

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    # A per-installation key kept in the data directory, so nothing secret is committed and
    # sessions survive restarts without any setup.
    key_file = DATA_DIR / "secret_key.txt"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
    SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# Same-origin referrers only: nothing a rater loads tells another site where it came from, and
# form posts keep their Origin header (a no-referrer policy sends "null" and fails CSRF).
SECURE_REFERRER_POLICY = "same-origin"

# Behind HTTPS in production: secure cookies, HSTS and a redirect from plain HTTP.
EVALSITE_HTTPS = env.bool("EVALSITE_HTTPS", default=False)
if EVALSITE_HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("EVALSITE_HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # /healthz/ answers the container healthcheck over plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Django's standard password validators: long enough, not like the username, not a common
# password, not all digits.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login lockout (django-axes, attempts kept in the database; its app and middleware are in
# settings/base.py): after AXES_FAILURE_LIMIT wrong passwords for one username, or from one client
# address, that username or address is locked for AXES_COOLOFF_TIME, on /login/, the admin and
# /api/v1/auth/token/ alike; `manage.py axes_reset_username NAME` / `axes_reset_ip ADDRESS` lift it
# early. Behind HTTPS the site sits behind a proxy (EVALSITE_PROXY_COUNT of them): the client's
# address is then the entry the outermost proxy wrote into X-Forwarded-For
# (common.network.client_address, also used by the join throttles and the request log), or every
# visitor would share the proxy's address and its lock.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_ENABLED = env.bool("EVALSITE_LOGIN_LOCKOUT", default=True)
AXES_FAILURE_LIMIT = env.int("EVALSITE_LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = env.float("EVALSITE_LOGIN_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Empty (as .env.example leaves it) means the default: one proxy with HTTPS on, none without.
EVALSITE_PROXY_COUNT = env.int("EVALSITE_PROXY_COUNT", default=1 if EVALSITE_HTTPS else common_conf.DEFAULTS["EVALSITE_PROXY_COUNT"])
AXES_CLIENT_IP_CALLABLE = "common.network.client_address"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False

# Content-Security-Policy: scripts and styles from this site only (Swagger UI's start-up script
# is served as a file, see evalsite.api), no plugins, no framing. Style attributes stay allowed
# (progress bars and the display size are set in style=""). A study link's HIT page lets MTurk's
# pages frame it (EVALSITE_MTURK_FRAME_ANCESTORS, settings/crowd.py).
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
