from django.db import migrations

from ratings.scheduler import sql


class Migration(migrations.Migration):
    """The scheduler's functions of this migration's own .sql file: the vote function refuses votes on paused or
    closed studies, from finished or withdrawn participants, and past the rater's quota."""

    dependencies = [("ratings", "0007_spec_and_prompt_set_owners")]

    operations = [migrations.RunPython(*sql.installer("0008_votes_only_where_they_count", sha256="245e12d7441d9a51132d5351e2c391657d6bfe06c8d6cd3de239322117c205c6"))]
