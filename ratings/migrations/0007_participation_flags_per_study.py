from django.db import migrations, models

from ratings.scheduler import sql


def flags_to_participations(apps, schema_editor):
    """A rater flagged before flags were per study stays flagged in every study they took part in."""
    Participation = apps.get_model("ratings", "Participation")
    Participation.objects.filter(rater__flagged=True).update(flagged=True, flag_reason="staff")


def flags_to_raters(apps, schema_editor):
    Rater = apps.get_model("ratings", "Rater")
    Rater.objects.filter(participations__flagged=True).update(flagged=True)


class Migration(migrations.Migration):
    """Flags move from the rater to the participation (a rater flagged in one study still counts
    in another); studies may flag raters who answer repeats inconsistently; the vote function is
    re-installed to flag the participation."""

    dependencies = [("ratings", "0006_hot_tables_autovacuum")]

    operations = [
        migrations.AddField(
            model_name="participation",
            name="flagged",
            field=models.BooleanField(default=False, help_text="Left out of this study's leaderboards by default."),
        ),
        migrations.AddField(
            model_name="participation",
            name="flag_reason",
            field=models.CharField(
                blank=True, max_length=20,
                choices=[("attention_checks", "failed attention checks"), ("self_consistency", "answered repeats inconsistently"), ("staff", "flagged by staff")],
            ),
        ),
        migrations.RunPython(flags_to_participations, flags_to_raters),
        migrations.RemoveField(model_name="rater", name="flagged"),
        migrations.AddField(
            model_name="study",
            name="min_self_consistency",
            field=models.FloatField(
                blank=True, null=True,
                help_text="Flag raters whose share of repeats answered the same way is below this (0 to 1); empty: never.",
            ),
        ),
        migrations.AddField(
            model_name="study",
            name="min_repeats_to_judge",
            field=models.PositiveIntegerField(default=6, help_text="Repeated answers (all criteria) a rater needs before self-consistency can flag them."),
        ),
        migrations.RunPython(*sql.installer("0007_participation_flags_per_study", sha256="9db1c88242838dab9022d06e2dcf2728f489e322f2dad3c1a4e72177d604e4d7")),
    ]
