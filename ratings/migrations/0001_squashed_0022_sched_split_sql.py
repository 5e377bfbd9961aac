"""The ratings app's migrations 0001 to 0022, squashed (issue 23 item 8): four numbered 0007 and
four merges became one step. A fresh database gets the schema, the hot tables' autovacuum
settings and the scheduler's newest SQL (0022_sched_split_sql/, with the constants 0022 froze); a
database that applied all of them records this one as applied and runs nothing (``replaces``).
A database part of the way through them must first be upgraded to a release that still has them
(up to the commit before this one) and migrated there.

The old data migrations are left out but one, frozen: each rewrote rows of tables this migration
creates, which are empty where it runs. ``give_owners`` is kept (elidable) with the system
slugs copied in, so nothing here imports live code but the models' callables and the SQL files."""

import django.db.models.deletion
import ratings.models
import uuid
from django.conf import settings
from django.db import migrations, models

from ratings.scheduler import sql


# Vacuum the rater side's busiest tables sooner than PostgreSQL's defaults (was 0006): every
# submit rewrites a comparison and a pair slot, so dead rows pile up at the rate of votes.
AUTOVACUUM = {
    "ratings_comparison": "autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02",
    "ratings_pairslot": "autovacuum_vacuum_scale_factor = 0.05, autovacuum_vacuum_threshold = 1000",
}


def autovacuum_apply(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for table, settings in AUTOVACUUM.items():
            cursor.execute(f"ALTER TABLE {table} SET ({settings})")


def autovacuum_revert(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for table, settings in AUTOVACUUM.items():
            names = ", ".join(part.split("=")[0].strip() for part in settings.split(","))
            cursor.execute(f"ALTER TABLE {table} RESET ({names})")


# generation.presets.PRESETS and generation.tiny.TINY_FAMILY's slugs when the migrations were
# squashed (was 0007_spec_and_prompt_set_owners, which imported them live).
SYSTEM_SLUGS = frozenset({
    "dmd2-sdxl-4step", "hyper-sdxl-8step-lora", "lcm-lora-sdxl-4step", "lcm-sdxl-4step", "sd-turbo-1step",
    "sd35-large-turbo-4step", "sdxl-base-50step", "sdxl-dpmpp-8step", "sdxl-lightning-4step", "sdxl-turbo-1step",
    "sdxl-turbo-4step", "tiny-base-25step", "tiny-lcm-4step", "tiny-turbo-1step",
})


def give_owners(apps, schema_editor):
    """Specs and prompt sets: presets and the tiny family stay system-owned; anything else
    belongs to the owner of the first study that used it (every version of a slug to the same
    owner), or stays system-owned when no owned study used it."""
    ModelSpec = apps.get_model("generation", "ModelSpec")
    PromptSet = apps.get_model("generation", "PromptSet")
    Study = apps.get_model("ratings", "Study")
    slug_owner, prompt_set_owner = {}, {}
    for study in Study.objects.filter(owner__isnull=False).order_by("created_at", "pk").select_related("job"):
        for slug in study.job.specs.values_list("slug", flat=True):
            if slug not in SYSTEM_SLUGS:
                slug_owner.setdefault(slug, study.owner_id)
        prompt_set_owner.setdefault(study.job.prompt_set_id, study.owner_id)
    for slug, owner_id in slug_owner.items():
        ModelSpec.objects.filter(slug=slug).update(owner_id=owner_id)
    for prompt_set_id, owner_id in prompt_set_owner.items():
        PromptSet.objects.filter(pk=prompt_set_id).update(owner_id=owner_id)


class Migration(migrations.Migration):

    initial = True

    replaces = [
        ("ratings", "0001_initial"),
        ("ratings", "0002_api_study_sharing"),
        ("ratings", "0002_rater_voting"),
        ("ratings", "0003_merge_0002_api_study_sharing_0002_rater_voting"),
        ("ratings", "0004_hot_path_indexes"),
        ("ratings", "0005_scheduler_generic_plans"),
        ("ratings", "0006_hot_tables_autovacuum"),
        ("ratings", "0007_participation_flags_per_study"),
        ("ratings", "0007_spec_and_prompt_set_owners"),
        ("ratings", "0007_study_adaptive_sampling"),
        ("ratings", "0007_study_rater_title_attention_check_kinds"),
        ("ratings", "0008_votes_only_where_they_count"),
        ("ratings", "0009_merge_20261130_1757"),
        ("ratings", "0010_merge_20261130_1757"),
        ("ratings", "0011_merge_20261130_1758"),
        ("ratings", "0012_late_votes_take_the_serving_cap"),
        ("ratings", "0013_set_criterion"),
        ("ratings", "0014_crowd_outcomes"),
        ("ratings", "0015_study_operations"),
        ("ratings", "0016_hidden_images_never_return"),
        ("ratings", "0017_crowd_reports_identity_cap"),
        ("ratings", "0018_versus_reference_design"),
        ("ratings", "0019_budget_stops_serving"),
        ("ratings", "0020_study_unit"),
        ("ratings", "0021_decided_stop_rule"),
        ("ratings", "0022_sched_split_sql"),
    ]

    dependencies = [
        ('generation', '0001_squashed_0007_image_metrics'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Participation',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('started_at', models.DateTimeField(auto_now_add=True)),
                ('consented_at', models.DateTimeField(blank=True, null=True)),
                ('instructed_at', models.DateTimeField(blank=True, help_text='When the rater finished reading the instructions.', null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('answered', models.PositiveIntegerField(default=0, help_text='Answered comparisons, attention checks and repeats included.')),
                ('last_answered_at', models.DateTimeField(blank=True, null=True)),
                ('failed_checks', models.PositiveIntegerField(default=0)),
                ('flagged', models.BooleanField(default=False, help_text="Left out of this study's leaderboards by default.")),
                ('flag_reason', models.CharField(blank=True, choices=[('attention_checks', 'failed attention checks'), ('self_consistency', 'answered repeats inconsistently'), ('staff', 'flagged by staff')], max_length=20)),
                ('crowd_study_id', models.CharField(blank=True, help_text='Prolific STUDY_ID or MTurk hitId.', max_length=200)),
                ('crowd_session_id', models.CharField(blank=True, help_text='Prolific SESSION_ID or MTurk assignmentId.', max_length=200)),
                ('outcome', models.CharField(blank=True, choices=[('completed', 'completed'), ('screened_out', 'screened out (screener or attention checks)'), ('no_consent', 'did not consent'), ('quota_full', 'study full or stopped')], editable=False, help_text='Set once, when the participant was given an outcome code; never changed afterwards.', max_length=20)),
                ('outcome_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('outcome_reason', models.CharField(blank=True, editable=False, help_text='Why, e.g. which screener question was missed.', max_length=200)),
                ('screener_passed_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('crowd_submit_to', models.CharField(blank=True, editable=False, help_text='MTurk turkSubmitTo (one of EVALSITE_MTURK_SUBMIT_HOSTS): the finish page posts the assignment there.', max_length=100)),
                ('withdrawn_crowd_id', models.CharField(blank=True, editable=False, help_text="A withdrawn participant's platform id, kept only when they had been given an outcome code, since the platform then holds a submission to approve or return (ratings/payments.py).", max_length=200)),
                ('feedback', models.TextField(blank=True, help_text="The participant's free-text feedback, if any.", max_length=2000)),
                ('feedback_at', models.DateTimeField(blank=True, editable=False, help_text='When the feedback box was sent or skipped.', null=True)),
                ('crowd_id_digest', models.CharField(blank=True, db_index=True, editable=False, help_text='A keyed digest of the platform and participant id (not the id): kept after withdrawal so the same id rejoining the study meets its first outcome again instead of a fresh session (ratings/raters.py).', max_length=64)),
            ],
        ),
        migrations.CreateModel(
            name='AttentionCheck',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('degraded', 'A heavily blurred and noised copy'), ('unrelated_prompt', 'An image made for an unrelated prompt')], max_length=20)),
                ('seed', models.BigIntegerField()),
                ('decoy_file', models.FileField(blank=True, help_text="Degraded display copy (PNG at the study's display size).", max_length=300, upload_to='')),
                ('criteria', models.JSONField(help_text='Criteria whose answer is known (the real image wins).')),
                ('retired', models.BooleanField(default=False, help_text='Served to nobody any more: one of its images was hidden in the screening after someone was shown it (kept for the answers given; showing the image again serves it again).')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('decoy_image', models.ForeignKey(blank=True, help_text='Unrelated-prompt image.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='generation.image')),
                ('image', models.ForeignKey(help_text='The right answer.', on_delete=django.db.models.deletion.PROTECT, related_name='+', to='generation.image')),
                ('prompt', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='generation.prompt')),
            ],
        ),
        migrations.CreateModel(
            name='PaymentDecision',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('decision', models.CharField(choices=[('approve', 'approve (pay)'), ('reject', 'reject'), ('return', 'return (ask the participant to return the task)')], max_length=10)),
                ('reason', models.CharField(help_text='Why; goes into the participants export.', max_length=300)),
                ('decided_at', models.DateTimeField(editable=False)),
                ('decided_by', models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('participation', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='payment_decision', to='ratings.participation')),
            ],
        ),
        migrations.CreateModel(
            name='Rater',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('source', models.CharField(choices=[('account', 'Invited account'), ('prolific', 'Prolific'), ('mturk', 'MTurk')], default='account', max_length=10)),
                ('external_id', models.CharField(blank=True, help_text='Participant id from a crowd platform.', max_length=200)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('withdrawn_at', models.DateTimeField(blank=True, help_text='The rater withdrew: votes excluded, identifying data removed.', null=True)),
                ('user', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='rater', to=settings.AUTH_USER_MODEL)),
            ],
        ),
        migrations.AddField(
            model_name='participation',
            name='rater',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='participations', to='ratings.rater'),
        ),
        migrations.CreateModel(
            name='Study',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(help_text='For researchers and staff only; raters never see it (they see the rater title).', max_length=200)),
                ('rater_title', models.CharField(default='Image comparison study', help_text="What raters see as the study's title. Keep it neutral: never name a model or system.", max_length=200)),
                ('criteria', models.JSONField(default=ratings.models.default_criteria, help_text='Questions asked for every pair, in order.')),
                ('set_criteria', models.JSONField(blank=True, default=list, help_text='Questions asked of sets instead of pairs, e.g. diversity: for one prompt the rater sees the images of every seed of the study from one model beside those of another and answers which set is more varied. Needs at least two seeds; empty: none. Fixed once the study opens.')),
                ('allow_ties', models.BooleanField(default=False, help_text='Offer a tie answer; off means forced choice, as in ADD.')),
                ('votes_per_pair', models.PositiveIntegerField(default=3, help_text='Target number of answered comparisons per model pair, prompt and seed.')),
                ('quota_per_rater', models.PositiveIntegerField(default=50, help_text='Comparisons one rater is asked to answer.')),
                ('status', models.CharField(choices=[('draft', 'Draft'), ('generating', 'Generating images'), ('rating', 'Open for rating'), ('paused', 'Paused'), ('closed', 'Closed')], default='draft', max_length=12)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('consent_text', models.TextField(default='You are invited to take part in a research study on how people judge images made by computer programs from a text description. You will see a text prompt and two images, and answer which image follows the prompt better and which has higher quality. It takes about 10 minutes. We record your answers and how long each took; we do not record your name. Your participation is voluntary: you may stop at any time, and you may withdraw, which removes your answers from the results and deletes your participant id. Some images may be strange or of poor quality; you can report any image that is broken or offensive.', help_text='Shown before anything else; the rater must agree to continue.')),
                ('completion_url', models.CharField(blank=True, help_text='Where a rater goes on finishing, e.g. https://app.prolific.com/submissions/complete?cc={code}; {code} and {assignment_id} are filled in. Empty: show the completion code on the page.', max_length=500)),
                ('completion_code', models.CharField(default=ratings.models.new_completion_code, help_text="Code a rater gets on finishing (Prolific's completion code).", max_length=40)),
                ('screened_out_code', models.CharField(default=ratings.models.new_completion_code, help_text='Code of a participant screened out: failed the screener questions or the attention checks.', max_length=40)),
                ('no_consent_code', models.CharField(default=ratings.models.new_completion_code, help_text='Code of a participant who did not consent.', max_length=40)),
                ('quota_full_code', models.CharField(default=ratings.models.new_completion_code, help_text='Code of a participant who arrived when the study was full or stopped, before rating anything.', max_length=40)),
                ('bonus_per_pair', models.DecimalField(decimal_places=4, default=0, help_text="Bonus per answered pair (one submit, every question of the pair; attention checks and repeats count), in the crowd platform's currency (Prolific: the study's currency; MTurk: US dollars). The participants export suggests this times the pairs answered for each approved participant.", max_digits=8)),
                ('screener_questions', models.JSONField(blank=True, default=list, help_text='Comprehension questions after the instructions, each {"question": "Which image has higher quality?", "prompt": "shown above the images (optional)", "right_image": <id of one of the study\'s images>, "wrong_image": <id of another, or null for a blurred, noisy copy of the right one>}. A participant must answer every one right to rate; a wrong answer ends their session with the screened-out code. At most 5; empty: no screener.')),
                ('ask_feedback', models.BooleanField(default=False, help_text='Offer an optional feedback box (at most 2000 characters) on the finish page.')),
                ('link_key', models.CharField(default=ratings.models.new_link_key, help_text='Part of the signed study link; change it to revoke every link handed out.', max_length=40)),
                ('max_participants', models.PositiveIntegerField(blank=True, help_text='Cap on the number of raters; empty means no cap.', null=True)),
                ('attention_check_rate', models.FloatField(default=0.1, help_text='Share of served pairs that are attention checks (gold pairs with a known answer).')),
                ('min_seconds_per_vote', models.FloatField(default=3.0, help_text='A faster vote is refused with a message.')),
                ('attention_check_kinds', models.JSONField(default=ratings.models.default_attention_check_kinds, help_text='Kinds of attention check made on opening: degraded (a blurred, noisy copy; known answer: image quality) and unrelated_prompt (an image made for another prompt; known answer: prompt adherence). Use degraded alone when the images carry no recognisable content (random-weight test models): an unrelated image then looks just as related.')),
                ('flag_after_failed_checks', models.PositiveIntegerField(default=2, help_text='Failed attention checks after which a rater is flagged.')),
                ('reservation_seconds', models.PositiveIntegerField(default=600, help_text='How long a served pair stays reserved for its rater without activity.')),
                ('serve_level', models.PositiveIntegerField(default=0, editable=False, help_text="The lowest fill of the study's pair slots, where the scheduler's search starts; raised when none is left below it.")),
                ('repeat_share', models.FloatField(default=0.05, help_text='Share of served pairs that repeat one the rater already answered (self-consistency).')),
                ('min_self_consistency', models.FloatField(blank=True, help_text='Flag raters whose share of repeats answered the same way is below this (0 to 1); empty: never.', null=True)),
                ('min_repeats_to_judge', models.PositiveIntegerField(default=6, help_text='Repeated answers (all criteria) a rater needs before self-consistency can flag them.')),
                ('sampling', models.CharField(choices=[('uniform', 'Uniform (every slot filled evenly)'), ('adaptive', 'Adaptive (votes where the ranking is uncertain)')], default='uniform', help_text='uniform: every (prompt, seed, model pair) slot filled evenly; adaptive: model pairs drawn by pair_weights, votes going where the ranking is still uncertain.', max_length=10)),
                ('exploration', models.FloatField(default=0.2, help_text='Adaptive sampling: share of pairs served uniformly over all model pairs.')),
                ('stop_when', models.CharField(choices=[('target', 'Every slot at its vote target'), ('separated', 'Adjacent models separated'), ('width', 'Every interval narrower than a width'), ('decided', 'Every model decided against the reference')], default='target', help_text="target: fill every slot to votes_per_pair; separated: stop when adjacent models are separated at confidence 1 - stop_alpha; width: stop when every model's interval is narrower than stop_width Elo; decided (a study with a reference): stop when every model has an anytime-valid decision against the reference at versus_margin.", max_length=10)),
                ('stop_alpha', models.FloatField(default=0.05, help_text='Error level of the anytime-valid stopping rule.')),
                ('unit', models.CharField(choices=[('comparison', 'These prompts and these raters (each comparison independent)'), ('prompt', 'Prompts like these (votes clustered by prompt)'), ('prompt_rater', 'Prompts and raters like these (votes clustered by prompt and by rater)')], default='prompt', help_text="What the study's conclusions are about: comparison (these prompts and raters), prompt (prompts like these) or prompt_rater (prompts and raters like these). The stopping rule, the pair weights, the forecast and the leaderboard's default intervals use it.", max_length=12)),
                ('stop_top_k', models.PositiveIntegerField(blank=True, help_text='separated: only the top k adjacent pairs must be separated; empty: all.', null=True)),
                ('stop_width', models.FloatField(blank=True, help_text='width: the largest interval width allowed, in Elo points.', null=True)),
                ('vote_budget', models.PositiveIntegerField(blank=True, help_text="Hard cap on comparisons: serving stops once this many are answered or open on raters' screens (only late answers to lapsed pairs can pass it); required unless stop_when is target.", null=True)),
                ('budget_serves_left', models.PositiveIntegerField(blank=True, editable=False, help_text='New pairs the vote budget still lets the scheduler serve: set from the budget less the comparisons answered or open (on opening, at every refresh and on reopening), one taken per pair served; empty: not counted yet.', null=True)),
                ('pair_weights', models.JSONField(blank=True, editable=False, help_text='Current serving probability per model pair.', null=True)),
                ('pair_levels', models.JSONField(blank=True, editable=False, help_text="Lowest fill of each model pair's open slots at the last refresh, where adaptive serving's search starts.", null=True)),
                ('pair_weights_at', models.DateTimeField(blank=True, editable=False, help_text='When pair_weights and the stopping rule were last computed.', null=True)),
                ('pair_weights_votes', models.PositiveIntegerField(default=0, editable=False, help_text='Answered comparisons counted by that computation.')),
                ('stop_reason', models.CharField(blank=True, editable=False, help_text='Why the study stopped serving new pairs.', max_length=300)),
                ('stopped_at', models.DateTimeField(blank=True, editable=False, help_text='When the stopping rule or the budget stopped the study.', null=True)),
                ('design', models.CharField(choices=[('all_pairs', 'All pairs (every model against every other)'), ('versus_reference', 'Versus reference (every model against the reference)')], default='all_pairs', help_text="all_pairs: every model pair is served; versus_reference: only pairs of the reference against another model (plus other_pairs_share of the other pairs), for the question 'is each model as good as the reference?'.", max_length=20)),
                ('other_pairs_share', models.FloatField(default=0.0, help_text="versus_reference: share of the other model pairs' slots still served, for a full ranking (0 to 1).")),
                ('versus_margin', models.FloatField(default=0.05, help_text='The margin of the decisions against the reference, on the win-rate scale: non-inferior means a win rate above 0.5 minus this, equivalent within plus or minus this.')),
                ('stopped_by', models.CharField(blank=True, choices=[('rule', 'its stopping rule'), ('budget', 'its vote budget')], editable=False, help_text='What stopped the study: its stopping rule or its vote budget (empty while it serves).', max_length=10)),
                ('stop_comparisons', models.PositiveIntegerField(blank=True, editable=False, help_text='Comparisons answered when the study stopped (raters then finish the pairs they have open).', null=True)),
                ('images_reviewed_at', models.DateTimeField(blank=True, editable=False, help_text="When staff or the owner finished screening the study's images (or skipped it): crowd links work only after.", null=True)),
                ('images_review_skipped', models.BooleanField(default=False, editable=False, help_text='The screening was skipped on purpose (by images_reviewed_by), not done.')),
                ('cloned_from', models.ForeignKey(blank=True, editable=False, help_text='The study this one was cloned from (its settings; never its votes, raters or link secrets).', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='clones', to='ratings.study')),
                ('images_reviewed_by', models.ForeignKey(blank=True, editable=False, help_text='Who screened the images, or skipped screening.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('job', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='study', to='generation.generationjob')),
                ('owner', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='studies', to=settings.AUTH_USER_MODEL)),
                ('pilot_of', models.OneToOneField(blank=True, editable=False, help_text="Set on a pilot: the main study it pilots. A pilot's votes never count in the main study's results.", null=True, on_delete=django.db.models.deletion.PROTECT, related_name='pilot', to='ratings.study')),
                ('raters', models.ManyToManyField(blank=True, help_text='Rater accounts invited to this study.', related_name='studies', to='ratings.rater')),
                ('reference', models.ForeignKey(blank=True, help_text="The model every other is judged against (the teacher, or the production model); one of the study's models. Required by the versus_reference design; with all_pairs it adds the decision table only.", null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='generation.modelspec')),
                ('shared_with', models.ManyToManyField(blank=True, help_text='Researchers who see and run this study besides its owner.', related_name='shared_studies', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name_plural': 'studies',
            },
        ),
        migrations.AddField(
            model_name='participation',
            name='study',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='participations', to='ratings.study'),
        ),
        migrations.CreateModel(
            name='PairSlot',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('seed', models.BigIntegerField()),
                ('filled', models.PositiveIntegerField(default=0, help_text='Answered comparisons plus live reservations.')),
                ('random_key', models.FloatField(help_text='Random order among equally filled slots; redrawn on every reservation.')),
                ('retired', models.BooleanField(default=False, help_text="No longer served: an image of it is hidden, or raters' reports retired it.")),
                ('report_retired_at', models.DateTimeField(blank=True, help_text="When raters' reports retired it (staff serve it again from the operations page).", null=True)),
                ('reports_reviewed_at', models.DateTimeField(blank=True, help_text='When staff last served it again after reports: earlier reports no longer count.', null=True)),
                ('model_pair', models.SmallIntegerField(blank=True, help_text="Adaptive studies: the model pair's index in Study.pair_weights (stats.sampling.pair_index over specs by id).", null=True)),
                ('kind', models.CharField(choices=[('pair', 'Two images: one prompt and seed, two models'), ('set', 'Two sets of images: one prompt, every seed, two models')], default='pair', max_length=4)),
                ('image_a', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='generation.image')),
                ('image_b', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='generation.image')),
                ('prompt', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='generation.prompt')),
                ('study', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='pair_slots', to='ratings.study')),
            ],
        ),
        migrations.CreateModel(
            name='HiddenImage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('reason', models.CharField(choices=[('broken', 'Broken (blank, corrupt, garbled)'), ('offensive', 'Offensive or unsafe'), ('other', 'Other (say why in the note)')], max_length=12)),
                ('note', models.CharField(blank=True, max_length=500)),
                ('hidden_at', models.DateTimeField(auto_now_add=True)),
                ('hidden_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('image', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='generation.image')),
                ('study', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='hidden_images', to='ratings.study')),
            ],
        ),
        migrations.CreateModel(
            name='Comparison',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('seed', models.BigIntegerField()),
                ('left_is_a', models.BooleanField(help_text='Randomized per comparison: which image the rater saw on the left.')),
                ('token', models.UUIDField(default=uuid.uuid4, editable=False, help_text="Opaque id the rater's page submits.", unique=True)),
                ('served_at', models.DateTimeField(auto_now_add=True)),
                ('answered_at', models.DateTimeField(blank=True, null=True)),
                ('expires_at', models.DateTimeField(blank=True, help_text='The reservation lapses after this unless the rater is active.', null=True)),
                ('released_at', models.DateTimeField(blank=True, help_text='Reservation given back (expired or reported) without a vote.', null=True)),
                ('failed_check', models.BooleanField(blank=True, help_text='For an answered attention check: whether the rater got it wrong.', null=True)),
                ('is_repeat', models.BooleanField(default=False, help_text='A deliberate repeat of an answered pair, for self-consistency.')),
                ('report_reason', models.CharField(blank=True, choices=[('broken', 'An image is broken or does not load'), ('offensive', 'An image is offensive'), ('other', 'Something else is wrong')], max_length=20)),
                ('report_note', models.CharField(blank=True, max_length=500)),
                ('reported_at', models.DateTimeField(blank=True, null=True)),
                ('attention_check', models.ForeignKey(blank=True, db_index=False, help_text='Set for a gold pair: A is the right answer; for a degraded check B is shown as the degraded copy.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='comparisons', to='ratings.attentioncheck')),
                ('image_a', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='generation.image')),
                ('image_b', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='generation.image')),
                ('prompt', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='generation.prompt')),
                ('repeat_of', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='repeats', to='ratings.comparison')),
                ('slot', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='comparisons', to='ratings.pairslot')),
                ('rater', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='comparisons', to='ratings.rater')),
                ('study', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='comparisons', to='ratings.study')),
            ],
        ),
        migrations.AddField(
            model_name='attentioncheck',
            name='study',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='attention_checks', to='ratings.study'),
        ),
        migrations.CreateModel(
            name='Vote',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('criterion', models.CharField(max_length=50)),
                ('choice', models.CharField(choices=[('a', 'Image A'), ('b', 'Image B'), ('tie', 'Tie')], max_length=3)),
                ('response_ms', models.PositiveIntegerField(help_text='Milliseconds from the pair being shown to the submit.')),
                ('excluded', models.BooleanField(default=False)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('comparison', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='votes', to='ratings.comparison')),
            ],
        ),
        migrations.AddConstraint(
            model_name='rater',
            constraint=models.UniqueConstraint(condition=models.Q(('external_id', ''), _negated=True), fields=('source', 'external_id'), name='rater_unique_external_id'),
        ),
        migrations.AddConstraint(
            model_name='participation',
            constraint=models.UniqueConstraint(fields=('study', 'rater'), name='participation_unique_rater'),
        ),
        migrations.AddIndex(
            model_name='pairslot',
            index=models.Index(condition=models.Q(('retired', False)), fields=['study', 'filled', 'random_key'], name='pairslot_least_filled'),
        ),
        migrations.AddIndex(
            model_name='pairslot',
            index=models.Index(condition=models.Q(('model_pair__isnull', False), ('retired', False)), fields=['study', 'model_pair', 'filled', 'random_key'], name='pairslot_pair_least_filled'),
        ),
        migrations.AddConstraint(
            model_name='pairslot',
            constraint=models.UniqueConstraint(fields=('study', 'image_a', 'image_b', 'kind'), name='pairslot_unique_images_kind'),
        ),
        migrations.AddConstraint(
            model_name='hiddenimage',
            constraint=models.UniqueConstraint(fields=('study', 'image'), name='hiddenimage_unique_image'),
        ),
        migrations.AddIndex(
            model_name='comparison',
            index=models.Index(fields=['study', 'rater', 'answered_at'], name='ratings_com_study_i_8ec39e_idx'),
        ),
        migrations.AddIndex(
            model_name='comparison',
            index=models.Index(fields=['rater', 'slot'], name='comparison_rater_slot'),
        ),
        migrations.AddIndex(
            model_name='comparison',
            index=models.Index(condition=models.Q(('answered_at__isnull', True), ('released_at__isnull', True)), fields=['rater', 'study'], name='comparison_rater_open'),
        ),
        migrations.AddIndex(
            model_name='comparison',
            index=models.Index(condition=models.Q(('answered_at__isnull', True), ('released_at__isnull', True)), fields=['study', 'expires_at'], name='comparison_live_reservation'),
        ),
        migrations.AddIndex(
            model_name='comparison',
            index=models.Index(condition=models.Q(('attention_check__isnull', False)), fields=['attention_check'], name='comparison_attention_check'),
        ),
        migrations.AddIndex(
            model_name='comparison',
            index=models.Index(condition=models.Q(('repeat_of__isnull', False)), fields=['repeat_of'], name='comparison_repeat_of'),
        ),
        migrations.AddIndex(
            model_name='comparison',
            index=models.Index(condition=models.Q(('reported_at__isnull', False)), fields=['slot'], name='comparison_reported_slot'),
        ),
        migrations.AddIndex(
            model_name='comparison',
            index=models.Index(condition=models.Q(('reported_at__isnull', False)), fields=['study', 'reported_at'], name='comparison_reported_at'),
        ),
        migrations.AddConstraint(
            model_name='vote',
            constraint=models.UniqueConstraint(fields=('comparison', 'criterion'), name='vote_unique_criterion'),
        ),
        migrations.RunPython(autovacuum_apply, autovacuum_revert),
        migrations.RunPython(give_owners, migrations.RunPython.noop, elidable=True),
        # The scheduler's functions: the newest version, with the constants 0022 froze.
        migrations.RunPython(*sql.installer('0022_sched_split_sql', sha256='721eb3686d38b7dfc8c68ce7ac6698d75681649a0d320360d983d6a406176be9', constants={
            'ALLOWED_WITHOUT_TIES': 'left or right',
            'ALLOWED_WITH_TIES': 'left, right or tie',
            'BAD_ANSWER': "The answer to '{criterion}' must be {allowed}.",
            'CHOICE_A': 'a',
            'CHOICE_B': 'b',
            'CHOICE_TIE': 'tie',
            'FLAG_ATTENTION_CHECKS': 'attention_checks',
            'KIND_SET': 'set',
            'LAPSED_BATCH': 200,
            'MESSAGE_CLOSED': 'This study is not taking answers now (it is paused or closed); your answer was not recorded.',
            'MESSAGE_EXPIRED': 'This pair was open too long and went to another rater; here is a new one.',
            'MESSAGE_FINISHED': 'Your session in this study has ended (you finished or withdrew); your answer was not recorded.',
            'MESSAGE_QUOTA': 'You have answered every pair this study asks of you; this answer was not recorded.',
            'MESSAGE_REPORTED': 'You skipped this pair; here is another one.',
            'MESSAGE_TOO_FAST': 'Please take at least {seconds} seconds to look at both images before answering.',
            'MISSING_ANSWERS': 'Answer every question before submitting (missing: {missing}).',
            'OPEN_PAIRS': 2,
            'OUTCOME_CLOSED': 'closed',
            'OUTCOME_DUPLICATE': 'duplicate',
            'OUTCOME_EXPIRED': 'expired',
            'OUTCOME_FINISHED': 'finished',
            'OUTCOME_FORBIDDEN': 'forbidden',
            'OUTCOME_INVALID': 'invalid',
            'OUTCOME_OK': 'ok',
            'OUTCOME_QUOTA': 'quota',
            'OUTCOME_RECORDED': 'recorded',
            'OUTCOME_REPORTED': 'reported',
            'OUTCOME_TOO_FAST': 'too_fast',
            'SAMPLING_ADAPTIVE': 'adaptive',
            'SERVE_RETRIES': 4,
            'SERVE_RETRY_SECONDS': 0.02,
            'SIDE_LEFT': 'left',
            'SIDE_RIGHT': 'right',
            'SIDE_TIE': 'tie',
            'SLOT_UNCAPPED': 2147483647,
            'STATUS_RATING': 'rating',
            'STOP_TARGET': 'target',
            'UNIT_COMPARISON': 'comparison',
        })),
    ]
