"""Who may use the REST API, and how its lists are paged.

The API is for researchers: staff, and members of the ``researchers`` group. A rater's login
(session or token) gets 403 on every endpoint, so nothing a rater can reach names a model.
"""

from __future__ import annotations

from contextlib import contextmanager

from rest_framework import exceptions, pagination, permissions

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


class ResearcherAPIMixin:
    permission_classes = [IsResearcher]


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
