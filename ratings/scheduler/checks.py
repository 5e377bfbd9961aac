"""A start-up check that the database runs the scheduler SQL the code expects (PostgreSQL only)."""

from __future__ import annotations

from django.core.checks import CheckMessage, Error, Warning, register
from django.db import DatabaseError, connection

from . import sql


@register()
def scheduler_sql_installed(app_configs=None, **kwargs) -> list[CheckMessage]:
    if connection.vendor != "postgresql":
        return []
    try:
        problems = sql.installed_problems(using=connection)
    except DatabaseError:
        return []  # unreachable or not migrated yet: Django's own checks and `migrate` say so
    return [
        Error(problem.message, id="ratings.E001") if problem.error else Warning(problem.message, id="ratings.W001")
        for problem in problems
        if not problem.pending
    ]
