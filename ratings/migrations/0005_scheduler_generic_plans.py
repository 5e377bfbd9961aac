from django.db import migrations

from ratings.scheduler import sql


class Migration(migrations.Migration):
    """The scheduler's functions of this migration's own .sql file: serving with generic plans only."""

    dependencies = [("ratings", "0004_hot_path_indexes")]

    operations = [migrations.RunPython(*sql.installer("0005_scheduler_generic_plans", sha256="f2d1d0160ae4e75cc2c91336cdb9d95382ade11a544484b00d3a8175518b61e2"))]
