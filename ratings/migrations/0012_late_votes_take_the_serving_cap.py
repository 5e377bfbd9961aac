from django.db import migrations

from ratings import scheduler_sql


class Migration(migrations.Migration):
    """The scheduler's functions as they are now: a late vote on a lapsed reservation is taken
    up to the slot cap the serving search uses (none for studies a stopping rule ends), and this
    merges the branches that added rater titles, per-study flags, owners and adaptive sampling."""

    dependencies = [("ratings", "0011_merge_20261130_1758")]

    operations = [migrations.RunPython(scheduler_sql.install, migrations.RunPython.noop)]
