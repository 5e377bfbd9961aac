import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def existing_open_studies_skip_screening(apps, schema_editor):
    """Studies past generation when screening arrived keep their crowd links working: recorded as
    skipped (by nobody: before screening existed). Drafts and generating studies must be screened."""
    from django.utils import timezone

    Study = apps.get_model("ratings", "Study")
    Study.objects.filter(status__in=["rating", "paused", "closed"]).update(images_reviewed_at=timezone.now(), images_review_skipped=True)


class Migration(migrations.Migration):
    """Study operations (issue 15): pilots (a child study whose votes stay apart), clones, and
    screening the images before a crowd sees them (hidden images, the review record)."""

    dependencies = [
        ("generation", "0007_image_metrics"),
        ("ratings", "0014_crowd_outcomes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="study",
            name="pilot_of",
            field=models.OneToOneField(
                blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="pilot", to="ratings.study",
                help_text="Set on a pilot: the main study it pilots. A pilot's votes never count in the main study's results.",
            ),
        ),
        migrations.AddField(
            model_name="study",
            name="cloned_from",
            field=models.ForeignKey(
                blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="clones", to="ratings.study",
                help_text="The study this one was cloned from (its settings; never its votes, raters or link secrets).",
            ),
        ),
        migrations.AddField(
            model_name="study",
            name="images_reviewed_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True,
                help_text="When staff or the owner finished screening the study's images (or skipped it): crowd links work only after.",
            ),
        ),
        migrations.AddField(
            model_name="study",
            name="images_reviewed_by",
            field=models.ForeignKey(
                blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL,
                help_text="Who screened the images, or skipped screening.",
            ),
        ),
        migrations.AddField(
            model_name="study",
            name="images_review_skipped",
            field=models.BooleanField(default=False, editable=False, help_text="The screening was skipped on purpose (by images_reviewed_by), not done."),
        ),
        migrations.CreateModel(
            name="HiddenImage",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("reason", models.CharField(choices=[("broken", "Broken (blank, corrupt, garbled)"), ("offensive", "Offensive or unsafe"), ("other", "Other (say why in the note)")], max_length=12)),
                ("note", models.CharField(blank=True, max_length=500)),
                ("hidden_at", models.DateTimeField(auto_now_add=True)),
                ("hidden_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("image", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="generation.image")),
                ("study", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="hidden_images", to="ratings.study")),
            ],
        ),
        migrations.AddConstraint(
            model_name="hiddenimage",
            constraint=models.UniqueConstraint(fields=("study", "image"), name="hiddenimage_unique_image"),
        ),
        migrations.RunPython(existing_open_studies_skip_screening, migrations.RunPython.noop),
    ]
