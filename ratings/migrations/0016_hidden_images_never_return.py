from django.db import migrations, models

from ratings.scheduler import sql


class Migration(migrations.Migration):
    """A hidden image is never served again (issue 15, part 5): AttentionCheck.retired, set by the
    screening on the checks of a hidden image that someone was already shown, and the scheduler's
    functions of this migration's own .sql file, which serve no retired check and repeat no pair
    whose slot is retired."""

    dependencies = [("ratings", "0015_study_operations")]

    operations = [
        migrations.AddField(
            model_name="attentioncheck",
            name="retired",
            field=models.BooleanField(
                default=False,
                help_text="Served to nobody any more: one of its images was hidden in the screening after someone was shown it "
                "(kept for the answers given; showing the image again serves it again).",
            ),
        ),
        migrations.RunPython(*sql.installer("0016_hidden_images_never_return", sha256="f096215bd8000725a8c0176f753cc5ddea52e560ece53123cc27009bbe3e00ad")),
    ]
