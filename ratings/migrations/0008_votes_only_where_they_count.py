from django.db import migrations

from ratings import scheduler_sql


class Migration(migrations.Migration):
    """The scheduler's functions as they are now: the vote function refuses votes on paused or
    closed studies, from finished or withdrawn participants, and past the rater's quota."""

    dependencies = [("ratings", "0007_spec_and_prompt_set_owners")]

    operations = [migrations.RunPython(scheduler_sql.install, migrations.RunPython.noop)]
