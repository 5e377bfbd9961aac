"""Who may use the REST API, and how its lists are paged.

The API is for researchers: staff, and members of the ``researchers`` group. A rater's login
(session or token) gets 403 on every endpoint, so nothing a rater can reach names a model.
"""

from __future__ import annotations

from contextlib import contextmanager

from rest_framework import exceptions, pagination, permissions, throttling

RESEARCHERS_GROUP = "researchers"


def is_researcher(user) -> bool:
    if not (user and user.is_authenticated and user.is_active):
        return False
    return user.is_staff or user.groups.filter(name=RESEARCHERS_GROUP).exists()


class IsResearcher(permissions.BasePermission):
    message = (
        "The API is for researchers and staff. Ask an administrator to add your account to the "
        f"'{RESEARCHERS_GROUP}' group (python manage.py create_researcher); rater accounts cannot use it."
    )

    def has_permission(self, request, view) -> bool:
        return is_researcher(request.user)


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


@contextmanager
def service_errors(*conflicts: type[Exception]):
    """Turn a service's Django ``ValidationError`` into a DRF 400 with the same field messages,
    and the given state errors into a 409 carrying their message."""
    from django.core.exceptions import ValidationError

    try:
        yield
    except ValidationError as error:
        detail = error.message_dict if hasattr(error, "error_dict") else {"non_field_errors": error.messages}
        raise exceptions.ValidationError(detail) from None
    except conflicts as error:
        raise Conflict(str(error)) from None


# What each throttle scope (settings.EVALSITE_THROTTLE_RATES) covers, in the 429's words.
THROTTLE_SCOPES = {
    "forecast": "forecast",
    "leaderboard_recompute": "leaderboard recompute",
    "export": "export",
    "upload": "upload (image zips and prompt sets)",
    "diversity": "diversity",
}
_PERIODS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}


class ResearcherThrottle(throttling.ScopedRateThrottle):
    """One user's rate of one expensive kind of request: the view's ``throttle_scope`` (none: not
    throttled), at the rate ``settings.EVALSITE_THROTTLE_RATES`` gives it, read per request. Counts
    live in the default cache (Redis in a deployment, so every web process shares them)."""

    def get_rate(self):
        from django.conf import settings

        return settings.EVALSITE_THROTTLE_RATES.get(self.scope)


def throttle_message(scope: str) -> str:
    from django.conf import settings

    rate = settings.EVALSITE_THROTTLE_RATES.get(scope, "")
    count, _, period = rate.partition("/")
    words = f"{count} per {_PERIODS.get(period[:1], period)}" if count else "a limited number"
    what = THROTTLE_SCOPES.get(scope, scope)
    return (
        f"Too many {what} requests from your account: each user may make {words} "
        f"(EVALSITE_THROTTLE_{scope.upper()}), so that no one slows the site for everyone. Nothing was done; ask again then."
    )


class ResearcherAPIMixin:
    """Researchers only; expensive actions name a ``throttle_scope`` and answer a 429 that says
    which limit was reached and when to ask again (the Retry-After header too)."""

    permission_classes = [IsResearcher]
    throttle_classes = [ResearcherThrottle]
    throttle_scope: str | None = None

    def throttled(self, request, wait):
        raise exceptions.Throttled(wait=wait, detail=throttle_message(self.throttle_scope or ""))


def api_exception_handler(exc, context):
    """DRF's handler, plus: a value the database cannot hold (a number or date out of range,
    which filters and fields can receive from any client) is the client's error, a 400 that
    says so, not a server error."""
    from django.db import DataError
    from rest_framework.views import exception_handler

    if isinstance(exc, DataError):
        reason = str(exc).splitlines()[0] if str(exc) else "out of range"
        exc = exceptions.ValidationError(
            {"non_field_errors": [f"A value in this request is outside what can be stored or compared ({reason}). Check numbers and dates."]}
        )
    return exception_handler(exc, context)
