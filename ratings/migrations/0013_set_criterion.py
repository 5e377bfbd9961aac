from django.db import migrations, models

from ratings.scheduler import sql


class Migration(migrations.Migration):
    """Set criteria (issue 16): Study.set_criteria, pair slots of kind 'set' (one per prompt and model
    pair, beside the first seed's pair slot, hence the kind in the unique constraint), and the
    scheduler's functions of this migration's own .sql file, which ask a set comparison its set criteria."""

    dependencies = [("ratings", "0012_late_votes_take_the_serving_cap")]

    operations = [
        migrations.AddField(
            model_name="study",
            name="set_criteria",
            field=models.JSONField(
                blank=True, default=list,
                help_text="Questions asked of sets instead of pairs, e.g. diversity: for one prompt the rater sees the images of every "
                "seed of the study from one model beside those of another and answers which set is more varied. Needs at least two "
                "seeds; empty: none. Fixed once the study opens.",
            ),
        ),
        migrations.AddField(
            model_name="pairslot",
            name="kind",
            field=models.CharField(
                choices=[("pair", "Two images: one prompt and seed, two models"), ("set", "Two sets of images: one prompt, every seed, two models")],
                default="pair", max_length=4,
            ),
        ),
        migrations.RemoveConstraint(model_name="pairslot", name="pairslot_unique_images"),
        migrations.AddConstraint(
            model_name="pairslot",
            constraint=models.UniqueConstraint(fields=("study", "image_a", "image_b", "kind"), name="pairslot_unique_images_kind"),
        ),
        migrations.RunPython(*sql.installer("0013_set_criterion", sha256="3a04eb88c805a3c99ed6c48fa95394b23542504fb02cff0e7b1b5851b5772315")),
    ]
