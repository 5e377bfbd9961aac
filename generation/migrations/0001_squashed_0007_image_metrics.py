"""The generation app's migrations 0001 to 0007, squashed (issue 23 item 8): a fresh database gets
the schema in one step; a database that applied all of them records this one as applied and runs
nothing (``replaces``). A database part of the way through them must first be upgraded to a
release that still has them (up to the commit before this one) and migrated there."""

import django.db.models.deletion
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    replaces = [
        ("generation", "0001_initial"),
        ("generation", "0002_api_external_specs"),
        ("generation", "0002_batches_and_speed"),
        ("generation", "0003_merge_0002_api_external_specs_0002_batches_and_speed"),
        ("generation", "0004_owners_and_sharing"),
        ("generation", "0004_plural_names"),
        ("generation", "0004_spec_revision_image_weights_revisions"),
        ("generation", "0005_merge_0004_owners_and_sharing_0004_plural_names"),
        ("generation", "0006_merge_20261130_1758"),
        ("generation", "0007_image_metrics"),
    ]

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Prompt',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveIntegerField()),
                ('text', models.TextField()),
                ('category', models.CharField(blank=True, max_length=100)),
                ('challenge', models.CharField(blank=True, max_length=100)),
                ('source_id', models.CharField(blank=True, help_text="The prompt's id in its source, if it has one.", max_length=100)),
            ],
            options={
                'ordering': ['prompt_set', 'position'],
            },
        ),
        migrations.CreateModel(
            name='ModelSpec',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(help_text='Human-readable name shown to researchers, never to raters.', max_length=200)),
                ('slug', models.SlugField(help_text='Stable identifier used by the API and the command line.', max_length=200)),
                ('version', models.PositiveIntegerField(default=1)),
                ('weights', models.CharField(help_text='Hugging Face hub id or a local directory.', max_length=500)),
                ('pipeline_class', models.CharField(help_text='diffusers pipeline class, e.g. StableDiffusionXLPipeline.', max_length=100)),
                ('scheduler_class', models.CharField(blank=True, help_text="diffusers scheduler class; empty keeps the pipeline's own.", max_length=100)),
                ('scheduler_config', models.JSONField(blank=True, default=dict, help_text='Scheduler config overrides, e.g. {"timestep_spacing": "trailing"}.')),
                ('lora', models.JSONField(blank=True, help_text='Optional LoRA: {"weights", "weight_name", "adapter_name", "scale", "fuse"}.', null=True)),
                ('component_overrides', models.JSONField(blank=True, default=dict, help_text='Components replacing the base pipeline\'s, e.g. {"unet": {"class": "UNet2DConditionModel", "weights": "...", "weight_name": "..."}}.')),
                ('dtype', models.CharField(choices=[('float32', 'float32'), ('float16', 'float16'), ('bfloat16', 'bfloat16')], default='float32', max_length=10)),
                ('variant', models.CharField(blank=True, help_text='Weight file variant, e.g. "fp16".', max_length=20)),
                ('revision', models.CharField(blank=True, help_text='Hub revision of the base weights (commit hash, tag or branch); empty means main. Each image records the commit it resolved to.', max_length=100)),
                ('steps', models.PositiveIntegerField(help_text='Number of sampling steps.')),
                ('guidance_scale', models.FloatField(default=0.0)),
                ('height', models.PositiveIntegerField(default=512)),
                ('width', models.PositiveIntegerField(default=512)),
                ('timesteps', models.JSONField(blank=True, help_text='Explicit timesteps, e.g. [999, 749, 499, 249].', null=True)),
                ('extra_call_kwargs', models.JSONField(blank=True, default=dict, help_text='Extra keyword arguments for the pipeline call.')),
                ('source', models.TextField(blank=True, help_text='Where these settings come from (model card, paper).')),
                ('is_external', models.BooleanField(default=False, help_text='A system whose images are uploaded (e.g. Midjourney, DALL-E 3), never generated here.')),
                ('config_hash', models.CharField(editable=False, help_text='SHA-256 of every setting that shapes an image.', max_length=64)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('owner', models.ForeignKey(blank=True, help_text='The researcher who made it; empty for system-owned (presets, the tiny family, command-line installs), which every researcher may use and nobody edits through the API.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='model_specs', to=settings.AUTH_USER_MODEL)),
                ('shared_with', models.ManyToManyField(blank=True, help_text='Researchers who may use it besides its owner.', related_name='shared_model_specs', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['slug', 'version'],
            },
        ),
        migrations.CreateModel(
            name='GenerationJob',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('seeds', models.JSONField(help_text='The seeds every model gets, e.g. [0, 1].')),
                ('display_size', models.PositiveIntegerField(default=512, help_text='Width in pixels of the display copies made for raters.')),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('running', 'Running'), ('done', 'Done')], default='pending', max_length=10)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('specs', models.ManyToManyField(related_name='jobs', to='generation.modelspec')),
            ],
        ),
        migrations.CreateModel(
            name='GenerationBatch',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('items', models.JSONField(help_text='[[prompt id, seed], ...] in sampling order.')),
                ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('done', 'Done'), ('failed', 'Failed'), ('superseded', 'Superseded by a re-queued batch'), ('abandoned', 'Abandoned after too many attempts')], default='queued', max_length=12)),
                ('attempt', models.PositiveIntegerField(default=1)),
                ('queued_at', models.DateTimeField(auto_now_add=True)),
                ('claimed_at', models.DateTimeField(blank=True, null=True)),
                ('heartbeat_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('worker', models.CharField(blank=True, max_length=200)),
                ('error', models.TextField(blank=True)),
                ('job', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='batches', to='generation.generationjob')),
                ('spec', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='batches', to='generation.modelspec')),
            ],
            options={
                'verbose_name_plural': 'generation batches',
            },
        ),
        migrations.CreateModel(
            name='Image',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('seed', models.BigIntegerField()),
                ('public_id', models.UUIDField(default=uuid.uuid4, editable=False, help_text='Opaque id used in rater-facing URLs.', unique=True)),
                ('file', models.FileField(max_length=300, upload_to='')),
                ('width', models.PositiveIntegerField()),
                ('height', models.PositiveIntegerField()),
                ('config_hash', models.CharField(max_length=64)),
                ('latency_s', models.FloatField(help_text='Seconds per image: batch wall time / batch size, excluding load and warm-up.')),
                ('batch_size', models.PositiveIntegerField()),
                ('device', models.CharField(max_length=50)),
                ('gpu_name', models.CharField(blank=True, max_length=200)),
                ('torch_version', models.CharField(max_length=50)),
                ('diffusers_version', models.CharField(max_length=50)),
                ('weights_revisions', models.JSONField(blank=True, default=dict, help_text='Hub snapshot commit of every weight used, e.g. {"weights": {"repo": "stabilityai/sdxl-turbo", "revision": "main", "commit": "..."}, "unet": {...}, "lora": {...}}; local weights are absent.')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('spec', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='images', to='generation.modelspec')),
                ('prompt', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='images', to='generation.prompt')),
            ],
        ),
        migrations.CreateModel(
            name='PromptSet',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=200)),
                ('source', models.CharField(blank=True, help_text='Format it was imported from, e.g. partiprompts.', max_length=50)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('owner', models.ForeignKey(blank=True, help_text='The researcher who made it; empty for system-owned (presets, the tiny family, command-line installs), which every researcher may use and nobody edits through the API.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='prompt_sets', to=settings.AUTH_USER_MODEL)),
                ('shared_with', models.ManyToManyField(blank=True, help_text='Researchers who may use it besides its owner.', related_name='shared_prompt_sets', to=settings.AUTH_USER_MODEL)),
            ],
        ),
        migrations.AddField(
            model_name='prompt',
            name='prompt_set',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='prompts', to='generation.promptset'),
        ),
        migrations.AddField(
            model_name='generationjob',
            name='prompt_set',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='jobs', to='generation.promptset'),
        ),
        migrations.CreateModel(
            name='SpeedMeasurement',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('device', models.CharField(max_length=50)),
                ('gpu_name', models.CharField(blank=True, max_length=200)),
                ('runs', models.PositiveIntegerField()),
                ('warmup_runs', models.PositiveIntegerField()),
                ('median_s', models.FloatField()),
                ('p10_s', models.FloatField()),
                ('p90_s', models.FloatField()),
                ('height', models.PositiveIntegerField()),
                ('width', models.PositiveIntegerField()),
                ('torch_version', models.CharField(max_length=50)),
                ('diffusers_version', models.CharField(max_length=50)),
                ('measured_at', models.DateTimeField(auto_now_add=True)),
                ('spec', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='speed_measurements', to='generation.modelspec')),
            ],
            options={
                'ordering': ['-measured_at'],
            },
        ),
        migrations.CreateModel(
            name='DisplayCopy',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('size', models.PositiveIntegerField(help_text='Width in pixels.')),
                ('file', models.FileField(max_length=300, upload_to='')),
                ('image', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='display_copies', to='generation.image')),
            ],
            options={
                'verbose_name_plural': 'display copies',
                'constraints': [models.UniqueConstraint(fields=('image', 'size'), name='displaycopy_unique_size')],
            },
        ),
        migrations.CreateModel(
            name='ImageMetric',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('metric', models.CharField(help_text='Which metric, e.g. clip_score or pickscore (generation.metrics.METRICS).', max_length=50)),
                ('weights', models.CharField(help_text="The scoring model's hub id or local directory, as the setting named it.", max_length=500)),
                ('weights_revision', models.CharField(blank=True, help_text='Hub snapshot commit of the weights, or "sha256:..." of a local directory\'s weight files.', max_length=100)),
                ('library_version', models.CharField(help_text='e.g. "transformers 4.46.0, torch 2.5.1".', max_length=100)),
                ('device', models.CharField(max_length=50)),
                ('value', models.FloatField()),
                ('computed_at', models.DateTimeField(auto_now_add=True)),
                ('image', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='metrics', to='generation.image')),
            ],
            options={
                'indexes': [models.Index(fields=['metric', 'weights'], name='imagemetric_metric_weights')],
                'constraints': [models.UniqueConstraint(fields=('image', 'metric', 'weights', 'weights_revision'), name='imagemetric_unique_image_metric_weights')],
            },
        ),
        migrations.AddConstraint(
            model_name='modelspec',
            constraint=models.UniqueConstraint(fields=('slug', 'version'), name='modelspec_unique_slug_version'),
        ),
        migrations.AddIndex(
            model_name='generationbatch',
            index=models.Index(fields=['job', 'status'], name='batch_job_status'),
        ),
        migrations.AddConstraint(
            model_name='image',
            constraint=models.UniqueConstraint(fields=('spec', 'prompt', 'seed'), name='image_unique_spec_prompt_seed'),
        ),
        migrations.AddConstraint(
            model_name='prompt',
            constraint=models.UniqueConstraint(fields=('prompt_set', 'position'), name='prompt_unique_position'),
        ),
    ]
