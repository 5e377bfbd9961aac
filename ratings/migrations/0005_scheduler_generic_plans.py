from django.db import migrations

from ratings import scheduler_sql


class Migration(migrations.Migration):
    """The scheduler's functions as they are now: serving with generic plans only."""

    dependencies = [("ratings", "0004_hot_path_indexes")]

    operations = [migrations.RunPython(scheduler_sql.install, migrations.RunPython.noop)]
