"""When the database is briefly unreachable (a restart, a failover, a network cut), answer 503
with a message that says what to do, instead of a bare 500 that tells a rater nothing."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

UNAVAILABLE = (
    "The service is briefly unavailable and your answers may not have been saved; please press "
    "Submit again in a moment (an answer sent twice is only counted once)."
)
UNAVAILABLE_PAGE = "The service is briefly unavailable; please reload this page in a moment."
RETRY_AFTER_S = "5"


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.warning("database unavailable during %s %s: %s", request.method, request.path, exception)
        if request.content_type == "application/json" or "application/json" in request.headers.get("Accept", ""):
            response = JsonResponse({"status": "unavailable", "message": UNAVAILABLE}, status=503)
        else:
            response = HttpResponse(UNAVAILABLE_PAGE, content_type="text/plain; charset=utf-8", status=503)
        response["Retry-After"] = RETRY_AFTER_S
        return response
