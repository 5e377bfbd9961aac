"""Adaptive pair sampling and the stopping rule (issue 13): the study's settings, each pair
slot's model pair (backfilled here for adaptive studies; the refresh sets it for a study made
adaptive later) with an index to serve one model pair least-filled first,
and the scheduler's functions re-installed (their slot search reads the new fields)."""

from django.db import migrations, models

from ratings.scheduler import sql


def pair_index_of(n_models: int, lo: int, hi: int) -> int:
    """The index of model pair (lo, hi), lo < hi, in stats.sampling.pair_index order."""
    return lo * n_models - lo * (lo + 1) // 2 + (hi - lo - 1)


def backfill_model_pairs(apps, schema_editor):
    Study = apps.get_model("ratings", "Study")
    PairSlot = apps.get_model("ratings", "PairSlot")
    for study in Study.objects.filter(sampling="adaptive"):  # uniform studies' slots need none
        spec_ids = sorted(study.job.specs.values_list("pk", flat=True))
        position = {spec_id: i for i, spec_id in enumerate(spec_ids)}
        rows = PairSlot.objects.filter(study=study).values_list("pk", "image_a__spec_id", "image_b__spec_id")
        per_pair = {}
        for pk, spec_a, spec_b in rows:
            lo, hi = sorted((position[spec_a], position[spec_b]))
            per_pair.setdefault(pair_index_of(len(spec_ids), lo, hi), []).append(pk)
        for model_pair, pks in per_pair.items():
            PairSlot.objects.filter(pk__in=pks).update(model_pair=model_pair)


class Migration(migrations.Migration):

    dependencies = [
        ('generation', '0003_merge_0002_api_external_specs_0002_batches_and_speed'),
        ('ratings', '0006_hot_tables_autovacuum'),
    ]

    operations = [
        migrations.AddField(
            model_name='pairslot',
            name='model_pair',
            field=models.SmallIntegerField(blank=True, null=True, help_text="Adaptive studies: the model pair's index in Study.pair_weights (stats.sampling.pair_index over specs by id)."),
        ),
        migrations.AddField(
            model_name='study',
            name='exploration',
            field=models.FloatField(default=0.2, help_text='Adaptive sampling: share of pairs served uniformly over all model pairs.'),
        ),
        migrations.AddField(
            model_name='study',
            name='pair_levels',
            field=models.JSONField(blank=True, editable=False, help_text="Lowest fill of each model pair's open slots at the last refresh, where adaptive serving's search starts.", null=True),
        ),
        migrations.AddField(
            model_name='study',
            name='pair_weights',
            field=models.JSONField(blank=True, editable=False, help_text='Current serving probability per model pair.', null=True),
        ),
        migrations.AddField(
            model_name='study',
            name='pair_weights_at',
            field=models.DateTimeField(blank=True, editable=False, help_text='When pair_weights and the stopping rule were last computed.', null=True),
        ),
        migrations.AddField(
            model_name='study',
            name='pair_weights_votes',
            field=models.PositiveIntegerField(default=0, editable=False, help_text='Answered comparisons counted by that computation.'),
        ),
        migrations.AddField(
            model_name='study',
            name='sampling',
            field=models.CharField(choices=[('uniform', 'Uniform (every slot filled evenly)'), ('adaptive', 'Adaptive (votes where the ranking is uncertain)')], default='uniform', help_text='uniform: every (prompt, seed, model pair) slot filled evenly; adaptive: model pairs drawn by pair_weights, votes going where the ranking is still uncertain.', max_length=10),
        ),
        migrations.AddField(
            model_name='study',
            name='stop_alpha',
            field=models.FloatField(default=0.05, help_text='Error level of the anytime-valid stopping rule.'),
        ),
        migrations.AddField(
            model_name='study',
            name='stop_reason',
            field=models.CharField(blank=True, editable=False, help_text='Why the study stopped serving new pairs.', max_length=300),
        ),
        migrations.AddField(
            model_name='study',
            name='stop_top_k',
            field=models.PositiveIntegerField(blank=True, help_text='separated: only the top k adjacent pairs must be separated; empty: all.', null=True),
        ),
        migrations.AddField(
            model_name='study',
            name='stop_when',
            field=models.CharField(choices=[('target', 'Every slot at its vote target'), ('separated', 'Adjacent models separated'), ('width', 'Every interval narrower than a width')], default='target', help_text="target: fill every slot to votes_per_pair; separated: stop when adjacent models are separated at confidence 1 - stop_alpha; width: stop when every model's interval is narrower than stop_width Elo.", max_length=10),
        ),
        migrations.AddField(
            model_name='study',
            name='stop_width',
            field=models.FloatField(blank=True, help_text='width: the largest interval width allowed, in Elo points.', null=True),
        ),
        migrations.AddField(
            model_name='study',
            name='stopped_at',
            field=models.DateTimeField(blank=True, editable=False, help_text='When the stopping rule or the budget stopped the study.', null=True),
        ),
        migrations.AddField(
            model_name='study',
            name='vote_budget',
            field=models.PositiveIntegerField(blank=True, help_text='Hard cap on answered comparisons (checked by the background refresh, so it may be passed by the votes of one refresh interval); required unless stop_when is target.', null=True),
        ),
        migrations.AddIndex(
            model_name='pairslot',
            index=models.Index(condition=models.Q(('model_pair__isnull', False), ('retired', False)), fields=['study', 'model_pair', 'filled', 'random_key'], name='pairslot_pair_least_filled'),
        ),
        migrations.RunPython(backfill_model_pairs, migrations.RunPython.noop),
        migrations.RunPython(*sql.installer("0007_study_adaptive_sampling", sha256="5179dd83519f6de3cb7d5a3a59ee61d166c204bd6cd721f7af22685f94138b5a")),
    ]
