"""The REST API: authentication, pagination, the OpenAPI schema, and how much work one caller
can cause (per-user rates, the forecast's inline bound)."""

from ratings import conf as ratings_conf

from .env import env

_default = ratings_conf.DEFAULTS  # the app's defaults, declared once in ratings/conf.py

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

# Per-user rates of the API's expensive requests (common.api.ResearcherThrottle; "N/second|minute|
# hour|day"): one researcher's script cannot take the web workers from everyone else. A request
# past its rate gets a 429 saying which limit and when to ask again.
EVALSITE_THROTTLE_RATES = {
    scope: env.str(f"EVALSITE_THROTTLE_{scope.upper()}", default=default)
    for scope, default in {
        "forecast": "30/minute",
        "leaderboard_recompute": "10/minute",
        "export": "30/minute",
        "upload": "30/hour",
        "diversity": "10/minute",
    }.items()
}
# A forecast whose simulation is estimated above this much work (runs x criteria x refits x
# models², ratings.forecasts) runs on the default queue; the request answers 202 and the same
# request later finds the result (cached by its inputs, as every forecast is).
EVALSITE_FORECAST_INLINE_WORK = env.int("EVALSITE_FORECAST_INLINE_WORK", default=_default["EVALSITE_FORECAST_INLINE_WORK"])
