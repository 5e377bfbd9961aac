"""/healthz/: the container healthcheck. 200 when the database answers, 503 otherwise."""

from django.db import DatabaseError, connection
from django.http import JsonResponse


def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return JsonResponse({"database": f"unreachable ({error.__class__.__name__})"}, status=503)
    return JsonResponse({"database": "ok"})
