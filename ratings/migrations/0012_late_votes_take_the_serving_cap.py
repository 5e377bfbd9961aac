from django.db import migrations

from ratings.scheduler import sql


class Migration(migrations.Migration):
    """The scheduler's functions of this migration's own .sql file: a late vote on a lapsed reservation is taken
    up to the slot cap the serving search uses (none for studies a stopping rule ends), and this
    merges the branches that added rater titles, per-study flags, owners and adaptive sampling."""

    dependencies = [("ratings", "0011_merge_20261130_1758")]

    operations = [migrations.RunPython(*sql.installer("0012_late_votes_take_the_serving_cap", sha256="f74d510616c2ea9428538b6e00ec1ff47e9ea9305788d51185f573d0f7ee2507"))]
