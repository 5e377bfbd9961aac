"""Vacuum the rater side's busiest tables sooner than PostgreSQL's defaults would.

Every submit rewrites a comparison and a pair slot, so dead rows pile up at the rate of votes;
with the default thresholds (20 % of a table) a large comparisons table waits hours for its
vacuum, and the scheduler's index scans step over the dead entries meanwhile (the load
benchmark lost 15 % of its throughput to the dead rows of a few earlier runs). PostgreSQL only.
"""

from django.db import migrations

SETTINGS = {
    "ratings_comparison": "autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02",
    "ratings_pairslot": "autovacuum_vacuum_scale_factor = 0.05, autovacuum_vacuum_threshold = 1000",
}


def apply(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for table, settings in SETTINGS.items():
            cursor.execute(f"ALTER TABLE {table} SET ({settings})")


def revert(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for table, settings in SETTINGS.items():
            names = ", ".join(part.split("=")[0].strip() for part in settings.split(","))
            cursor.execute(f"ALTER TABLE {table} RESET ({names})")


class Migration(migrations.Migration):
    dependencies = [("ratings", "0005_scheduler_generic_plans")]

    operations = [migrations.RunPython(apply, revert)]
