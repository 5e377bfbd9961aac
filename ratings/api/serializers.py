"""Serializers of the studies API: studies, their progress, raters and moderation."""

from __future__ import annotations

import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from generation.api.serializers import ShareSerializer, UsablePromptSetField  # noqa: F401  (one sharing form for studies, specs, prompt sets)
from generation.models import ModelSpec

from ..models import ATTENTION_CHECK_KINDS, DEFAULT_RATER_TITLE, HiddenImage, Study, default_attention_check_kinds, default_criteria
from ..results.leaderboards import BREAKDOWNS, INLINE_ROUNDS, MAX_ROUNDS, RESAMPLE_UNITS
from ..results.leaderboards import MAX_SEED as MAX_LEADERBOARD_SEED
from ..models import SAMPLING_CHOICES, STOP_CHOICES
from ..sampling import FORECAST_MAX_BUDGET, FORECAST_MAX_CRITERIA, FORECAST_MAX_MODELS, FORECAST_MAX_RUNS, design_errors
from ..studies import MAX_SEED, MAX_SEEDS

CRITERION = re.compile(r"^[a-z][a-z0-9_]{0,49}$")


class SpecBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelSpec
        fields = ["id", "slug", "version", "name", "is_external"]


# Sampling and stopping (issue 13): settings, then what the background refresh wrote.
SAMPLING_FIELDS = [
    "sampling", "exploration", "stop_when", "stop_alpha", "stop_top_k", "stop_width", "vote_budget",
    "pair_weights", "pair_weights_at", "pair_weights_votes", "stop_reason", "stopped_at",
]


class ScreeningStateSerializer(serializers.Serializer):
    screened_with = serializers.IntegerField(allow_null=True, help_text="A pilot: the main study whose screening applies.")
    reviewed_at = serializers.DateTimeField(allow_null=True)
    reviewed_by = serializers.CharField(allow_null=True)
    skipped = serializers.BooleanField(help_text="The screening was skipped on purpose, not done.")
    crowd_links_open = serializers.BooleanField(help_text="Crowd links (Prolific, MTurk) can enter once the study is open.")
    text = serializers.CharField()


class StudySerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    shared_with = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)
    models = SpecBriefSerializer(source="job.specs", many=True, read_only=True)
    prompt_set = serializers.IntegerField(source="job.prompt_set_id", read_only=True)
    seeds = serializers.ListField(source="job.seeds", child=serializers.IntegerField(), read_only=True)
    display_size = serializers.IntegerField(source="job.display_size", read_only=True)
    pilot = serializers.SerializerMethodField(help_text="The id of this study's pilot, if it has one (its votes are kept apart).")
    screening = serializers.SerializerMethodField(help_text="Whether the images were screened (or the screening skipped): crowd links work only then.")

    class Meta:
        model = Study
        fields = [
            "id", "name", "rater_title", "status", "owner", "shared_with", "models", "prompt_set", "seeds", "criteria",
            "set_criteria", "allow_ties", "display_size", "votes_per_pair", "quota_per_rater", "attention_check_kinds",
            "min_self_consistency", "min_repeats_to_judge", "created_at",
            *SAMPLING_FIELDS,
            "pilot_of", "pilot", "cloned_from", "screening",
        ]
        read_only_fields = fields

    def get_pilot(self, study) -> int | None:
        return Study.objects.filter(pilot_of=study).values_list("pk", flat=True).first()

    @extend_schema_field(ScreeningStateSerializer)
    def get_screening(self, study) -> dict:
        from ..screening import screening_state

        return ScreeningStateSerializer(screening_state(study=study)).data


def resolve_spec(reference: str, *, user) -> ModelSpec | None:
    """``slug`` (its latest version) or ``slug@version``, among the specs ``user`` may use."""
    from generation.selectors import spec_resolve

    return spec_resolve(reference=reference, user=user)


class StudyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, help_text="For researchers only; raters never see it.")
    rater_title = serializers.CharField(
        max_length=200, default=DEFAULT_RATER_TITLE,
        help_text="The study's title as raters see it: neutral, naming no model (refused if it names one).",
    )
    models = serializers.ListField(
        child=serializers.CharField(max_length=210), min_length=2,
        help_text='Model spec slugs (latest version) or "slug@version", at least two.',
    )
    prompt_set = UsablePromptSetField(help_text="A prompt set you own, that is shared with you, or a system-owned one.")
    seeds = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=MAX_SEED), min_length=1, max_length=MAX_SEEDS,
        help_text=f"Seeds every model gets for every prompt: distinct whole numbers from 0 to {MAX_SEED}, at most {MAX_SEEDS}.",
    )
    criteria = serializers.ListField(
        child=serializers.CharField(max_length=50), min_length=1, default=default_criteria,
        help_text="Questions asked for every pair, e.g. prompt_adherence, image_quality.",
    )
    set_criteria = serializers.ListField(
        child=serializers.CharField(max_length=50), default=list,
        help_text="Questions asked of sets instead of pairs, e.g. diversity (\"Which set of images is more varied?\"): for one "
        "prompt the rater sees the images of every seed from one model beside those of another, blinded as pairs are. "
        "Needs at least two seeds; names unique across criteria and set_criteria. Default: none.",
    )
    allow_ties = serializers.BooleanField(default=False)
    display_size = serializers.IntegerField(default=512, min_value=64, max_value=2048, help_text="Width in pixels every image is shown at.")
    votes_per_pair = serializers.IntegerField(default=3, min_value=1, max_value=100)
    quota_per_rater = serializers.IntegerField(default=50, min_value=1, max_value=10000)
    attention_check_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=ATTENTION_CHECK_KINDS), min_length=1, default=default_attention_check_kinds,
        help_text="Attention checks to use: degraded (a blurred, noisy copy) and unrelated_prompt (an image made for another "
        "prompt). Use degraded alone when the images carry no recognisable content.",
    )
    min_self_consistency = serializers.FloatField(
        required=False, allow_null=True, default=None, min_value=0, max_value=1,
        help_text="Flag raters (in this study) whose share of deliberate repeats answered the same way is below this.",
    )
    min_repeats_to_judge = serializers.IntegerField(default=6, min_value=1, max_value=1000, help_text="Repeated answers needed before that flag.")
    start = serializers.BooleanField(default=False, help_text="Start generating images right away.")
    sampling = serializers.ChoiceField(
        choices=SAMPLING_CHOICES, default="uniform",
        help_text="uniform: every (prompt, seed, model pair) filled evenly; adaptive: model pairs chosen where the ranking is still uncertain.",
    )
    exploration = serializers.FloatField(default=0.2, min_value=0, max_value=1, help_text="Adaptive: share of pairs served uniformly.")
    stop_when = serializers.ChoiceField(
        choices=STOP_CHOICES, default="target",
        help_text="target: votes_per_pair per slot; separated: adjacent models separated at 1 - stop_alpha; width: intervals under stop_width Elo.",
    )
    stop_alpha = serializers.FloatField(default=0.05, help_text="Error level of the stopping rule, between 0 and 0.5.")
    stop_top_k = serializers.IntegerField(required=False, allow_null=True, default=None, help_text="separated: only the top k adjacent pairs.")
    stop_width = serializers.FloatField(required=False, allow_null=True, default=None, help_text="width: widest interval allowed, Elo points.")
    vote_budget = serializers.IntegerField(
        required=False, allow_null=True, default=None,
        help_text="Most comparisons the study may use; required for stop_when separated or width.",
    )

    def validate_models(self, references: list[str]) -> list[ModelSpec]:
        specs, errors = [], []
        for reference in references:
            spec = resolve_spec(reference, user=self.context["request"].user)
            if spec is None:
                errors.append(f"Unknown model spec '{reference}'. List them with GET /api/v1/specs/.")
            elif spec in specs:
                errors.append(f"'{reference}' is listed twice.")
            else:
                specs.append(spec)
        if errors:
            raise serializers.ValidationError(errors)
        return specs

    def validate_seeds(self, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise serializers.ValidationError("Seeds must be distinct.")
        return seeds

    def validate_criteria(self, criteria: list[str]) -> list[str]:
        bad = [c for c in criteria if not CRITERION.match(c)]
        if bad:
            raise serializers.ValidationError(f"Criteria are lower-case words joined by _, e.g. image_quality; not {', '.join(bad)}.")
        return criteria

    def validate_set_criteria(self, set_criteria: list[str]) -> list[str]:
        return self.validate_criteria(set_criteria)

    def validate(self, data: dict) -> dict:
        errors = design_errors(
            n_models=len(data.get("models", [])), sampling_rule=data["sampling"], exploration=data["exploration"],
            stop_when=data["stop_when"], stop_alpha=data["stop_alpha"], stop_top_k=data.get("stop_top_k"),
            stop_width=data.get("stop_width"), vote_budget=data.get("vote_budget"),
        )
        if errors:
            raise serializers.ValidationError({field: [message] for field, message in errors.items()})
        data["sampling_rule"] = data.pop("sampling")
        return data


class ReopenSerializer(serializers.Serializer):
    vote_budget = serializers.IntegerField(min_value=1, help_text="The new budget: above the current one and the comparisons answered so far.")


class SamplingStateSerializer(serializers.Serializer):
    sampling = serializers.CharField()
    stop_when = serializers.CharField()
    vote_budget = serializers.IntegerField(allow_null=True)
    stopped = serializers.BooleanField(help_text="No new pairs are served; raters finish their open pairs.")
    stopped_at = serializers.DateTimeField(allow_null=True)
    stop_reason = serializers.CharField(help_text="Why the study stopped (its rule or its budget).")
    pair_weights_at = serializers.DateTimeField(allow_null=True)
    pair_weights_votes = serializers.IntegerField()


class ForecastQuerySerializer(serializers.Serializer):
    price_per_vote = serializers.FloatField(required=False, min_value=0, max_value=1_000_000, help_text="Price of one comparison, for the cost.")
    crowd_size = serializers.IntegerField(required=False, min_value=1, max_value=1_000_000, help_text="Raters answering at once, for the time.")
    seconds_per_vote = serializers.FloatField(required=False, min_value=0.1, max_value=3600, default=10.0,
                                              help_text="Seconds one rater takes per comparison, for the time.")
    runs = serializers.IntegerField(required=False, min_value=10, max_value=FORECAST_MAX_RUNS, default=50,
                                    help_text=f"Simulated studies (10 to {FORECAST_MAX_RUNS}).")


class ForecastCreateSerializer(ForecastQuerySerializer):
    """A study not created yet: its models' assumed strengths, criteria and rules."""

    models = serializers.IntegerField(required=False, min_value=2, max_value=FORECAST_MAX_MODELS,
                                      help_text=f"Number of models (2 to {FORECAST_MAX_MODELS}), spaced elo_gap apart; or give elo.")
    elo_gap = serializers.FloatField(required=False, default=50.0, min_value=1, max_value=1000, help_text="Assumed Elo gap between neighbours.")
    elo = serializers.ListField(
        required=False, child=serializers.JSONField(),
        help_text="Assumed Elo ratings: one list of numbers for every criterion, or one list per criterion (e.g. from an earlier study).",
    )
    criteria = serializers.IntegerField(default=2, min_value=1, max_value=FORECAST_MAX_CRITERIA)
    sampling = serializers.ChoiceField(choices=SAMPLING_CHOICES, default="adaptive")
    exploration = serializers.FloatField(default=0.2, min_value=0, max_value=1)
    stop_when = serializers.ChoiceField(choices=STOP_CHOICES, default="separated", help_text="separated or width (target needs no forecast).")
    stop_alpha = serializers.FloatField(default=0.05)
    stop_top_k = serializers.IntegerField(required=False, allow_null=True, default=None)
    stop_width = serializers.FloatField(required=False, allow_null=True, default=None)
    vote_budget = serializers.IntegerField(min_value=1, max_value=FORECAST_MAX_BUDGET,
                                           help_text=f"Most comparisons (at most {FORECAST_MAX_BUDGET:,} here).")
    allow_ties = serializers.BooleanField(default=False, help_text="Simulated raters answer tie 10% of the time.")

    def validate(self, data: dict) -> dict:
        elo = data.get("elo")
        if data["stop_when"] == "target":
            raise serializers.ValidationError({"stop_when": [
                "A study with stop_when target needs votes_per_pair x slots comparisons: nothing to forecast; "
                "use separated or width."
            ]})
        if elo is None and data.get("models") is None:
            raise serializers.ValidationError({"models": ["Give the number of models (with elo_gap) or their assumed elo ratings."]})
        if elo is not None:
            rows = elo if elo and all(isinstance(row, list) for row in elo) else [elo]
            numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) and abs(x) <= 10_000 for row in rows for x in row)
            sizes = {len(row) for row in rows}
            if not numbers or len(sizes) != 1:
                raise serializers.ValidationError({"elo": [
                    "Give Elo ratings between -10000 and 10000: one list, or one list per criterion, all of the same length."
                ]})
            n_models = sizes.pop()
            if not 2 <= n_models <= FORECAST_MAX_MODELS:
                raise serializers.ValidationError({"elo": [f"Give 2 to {FORECAST_MAX_MODELS} models' ratings, not {n_models}."]})
            if len(rows) > FORECAST_MAX_CRITERIA:
                raise serializers.ValidationError({"elo": [f"At most {FORECAST_MAX_CRITERIA} criteria."]})
            data["elo_rows"] = rows if len(rows) > 1 else rows * data["criteria"]
        else:
            n_models = data["models"]
            row = [i * data["elo_gap"] for i in range(n_models)]
            data["elo_rows"] = [row] * data["criteria"]
        errors = design_errors(
            n_models=n_models, sampling_rule=data["sampling"], exploration=data["exploration"], stop_when=data["stop_when"],
            stop_alpha=data["stop_alpha"], stop_top_k=data.get("stop_top_k"), stop_width=data.get("stop_width"),
            vote_budget=data.get("vote_budget"),
        )
        if errors:
            raise serializers.ValidationError({field: [message] for field, message in errors.items()})
        return data


class ForecastAmountSerializer(serializers.Serializer):
    median = serializers.FloatField(allow_null=True, help_text="None before the study's first votes.")
    low = serializers.FloatField(allow_null=True, help_text="5th percentile")
    high = serializers.FloatField(allow_null=True, help_text="95th percentile")


class ForecastSerializer(serializers.Serializer):
    comparisons = ForecastAmountSerializer(help_text="Comparisons still needed: median and 90% range.")
    budget_hits = serializers.FloatField(help_text="Share of simulated runs stopped by the budget, not the rule.")
    runs = serializers.IntegerField()
    cost = ForecastAmountSerializer(required=False)
    hours = ForecastAmountSerializer(required=False)
    done = serializers.IntegerField(required=False, help_text="Comparisons answered so far.")
    pilot_comparisons = serializers.IntegerField(
        required=False, help_text="The study's pilot's comparisons that informed the models' strengths (never counted towards the rule).",
    )
    text = serializers.CharField()




class StartSerializer(serializers.Serializer):
    status = serializers.CharField()
    batches_queued = serializers.IntegerField(help_text="Generation tasks queued on the gpu queue.")


class StatusSerializer(serializers.Serializer):
    status = serializers.CharField()


class ModelImagesSerializer(serializers.Serializer):
    spec_id = serializers.IntegerField()
    model = serializers.CharField()
    spec = serializers.CharField()
    done = serializers.IntegerField()
    total = serializers.IntegerField()


class PairProgressSerializer(serializers.Serializer):
    model_a = serializers.CharField()
    model_b = serializers.CharField()
    comparisons = serializers.IntegerField(help_text="Answered comparisons (one vote per criterion each).")
    target = serializers.IntegerField()


class ImagesProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    per_model = ModelImagesSerializer(many=True)


class ComparisonsProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    target = serializers.IntegerField()
    per_pair = PairProgressSerializer(many=True)


class SecondsLeftSerializer(serializers.Serializer):
    generation = serializers.FloatField(allow_null=True)
    rating = serializers.FloatField(allow_null=True)
    total = serializers.FloatField(allow_null=True, help_text="None until there is a rate to estimate from.")


class ProgressSerializer(serializers.Serializer):
    study = serializers.IntegerField()
    status = serializers.CharField()
    images = ImagesProgressSerializer()
    comparisons = ComparisonsProgressSerializer()
    votes = serializers.IntegerField()
    raters_active = serializers.IntegerField(help_text="Raters served or answering in the last 15 minutes.")
    comparisons_last_hour = serializers.IntegerField()
    images_last_hour = serializers.IntegerField()
    seconds_left = SecondsLeftSerializer()
    complete = serializers.BooleanField(help_text="Every image made and every pair at its vote target.")
    sampling = SamplingStateSerializer(help_text="Sampling and stopping: whether and why the study stopped serving.")


class RaterRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    source = serializers.CharField()
    comparisons = serializers.IntegerField()
    votes = serializers.IntegerField()
    median_seconds_per_vote = serializers.FloatField(allow_null=True)
    attention_accuracy = serializers.FloatField(allow_null=True)
    agreement = serializers.FloatField(allow_null=True, help_text="Share of votes matching the other raters' majority.")
    flagged = serializers.BooleanField(help_text="Flagged in this study (flags are per study).")
    flag_reason = serializers.CharField(help_text="attention_checks, self_consistency or staff; empty when not flagged.")
    excluded_votes = serializers.IntegerField()
    repeats = serializers.IntegerField(help_text="Deliberate repeats answered (one per criterion).")
    self_consistency = serializers.FloatField(allow_null=True, help_text="Share of repeats answered as the first time.")
    self_consistency_by_criterion = serializers.DictField(
        help_text="Per criterion: repeats, same, share, and Krippendorff's alpha of (first, repeat)."
    )


class ParticipantRowSerializer(serializers.Serializer):
    """One participant in the review and payment export (rules in ratings/payments.py)."""

    participation_id = serializers.IntegerField()
    platform = serializers.CharField(help_text="prolific, mturk, or account (an invited login).")
    crowd_id = serializers.CharField(allow_null=True, help_text="Prolific PID or MTurk worker id (an account's username).")
    crowd_study_id = serializers.CharField(allow_null=True, help_text="Prolific STUDY_ID or MTurk hitId.")
    crowd_session_id = serializers.CharField(allow_null=True, help_text="Prolific SESSION_ID or MTurk assignmentId.")
    withdrawn = serializers.BooleanField(help_text="Withdrew: only the ids the platform needs to settle their submission, if any.")
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    active_minutes = serializers.FloatField(allow_null=True, help_text="Gaps between consecutive answers, each at most 5 minutes.")
    pairs_answered = serializers.IntegerField(allow_null=True, help_text="Attention checks and repeats included.")
    attention_checks_passed = serializers.IntegerField(allow_null=True)
    attention_checks_failed = serializers.IntegerField(allow_null=True)
    self_consistency = serializers.FloatField(allow_null=True, help_text="Share of deliberate repeats answered as the first time.")
    flagged = serializers.BooleanField(allow_null=True)
    outcome = serializers.CharField(help_text="completed, screened_out, no_consent, quota_full; empty while the session is open.")
    outcome_reason = serializers.CharField(allow_null=True)
    suggested_decision = serializers.CharField(help_text="approve, reject or return.")
    suggested_reason = serializers.CharField()
    decision = serializers.CharField(help_text="approve, reject or return: staff's override if any, else the suggestion.")
    decision_reason = serializers.CharField()
    decided_by = serializers.CharField(help_text="Who overrode the suggestion in the admin; empty if nobody did.")
    decided_at = serializers.DateTimeField(allow_null=True)
    bonus = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="bonus_per_pair x pairs answered if approved, else 0.")
    feedback = serializers.CharField(allow_null=True, help_text="The participant's feedback from the finish page.")


class FlagSerializer(serializers.Serializer):
    flagged = serializers.BooleanField(default=True)


class ExcludeSerializer(serializers.Serializer):
    excluded = serializers.BooleanField(default=True)


class LeaderboardQuerySerializer(serializers.Serializer):
    method = serializers.ChoiceField(
        choices=["bt", "elo", "winrate"], default="bt",
        error_messages={"invalid_choice": "Unknown method '{input}': use bt, elo or winrate."},
    )
    rounds = serializers.IntegerField(
        default=1000, min_value=1, max_value=MAX_ROUNDS,
        help_text=f"Bootstrap rounds (orderings for elo). More than {INLINE_ROUNDS} are computed in the background: the answer is 202, ask again later.",
    )
    seed = serializers.IntegerField(default=0, min_value=0, max_value=MAX_LEADERBOARD_SEED)
    include_flagged = serializers.BooleanField(default=False)
    resample = serializers.ChoiceField(
        choices=list(RESAMPLE_UNITS), default="comparison",
        error_messages={"invalid_choice": "Unknown resampling unit '{input}': use comparison, prompt or rater."},
        help_text="Bootstrap unit for every method: comparison (intervals about these prompts and raters), prompt (prompts like these) or rater (raters like these).",
    )
    by = serializers.ChoiceField(
        choices=list(BREAKDOWNS), required=False,
        error_messages={"invalid_choice": "Unknown breakdown '{input}': use category or challenge."}, help_text="Add a leaderboard per prompt category (or challenge): by_category.")
    recompute = serializers.BooleanField(default=False, help_text="Recompute now instead of reading the cached leaderboard.")


class LeaderboardExportQuerySerializer(LeaderboardQuerySerializer):
    fmt = serializers.ChoiceField(
        choices=["json", "csv", "md", "latex"], default="csv",
        error_messages={"invalid_choice": "Unknown format '{input}': use json, csv, md or latex."},
    )
    rounds = serializers.IntegerField(default=1000, min_value=1, max_value=INLINE_ROUNDS)
    recompute = None


class LeaderboardRowSerializer(serializers.Serializer):
    model = serializers.CharField()
    criterion = serializers.CharField()
    rating = serializers.FloatField(allow_null=True)
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)
    rank = serializers.IntegerField(allow_null=True)
    votes = serializers.IntegerField()


class PairRowSerializer(serializers.Serializer):
    model_a = serializers.CharField()
    model_b = serializers.CharField()
    criterion = serializers.CharField()
    wins_a = serializers.IntegerField()
    wins_b = serializers.IntegerField()
    ties = serializers.IntegerField()
    win_rate = serializers.FloatField(allow_null=True, help_text="Win rate of model_a over model_b, a tie counting half.")
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)
    p_value = serializers.FloatField(help_text="Exact two-sided binomial p on the decisive votes.")
    p_holm = serializers.FloatField(help_text="Holm-adjusted over the pairs of the criterion.")
    significant = serializers.BooleanField(help_text="p_holm < 0.05.")


class MeasureRowSerializer(serializers.Serializer):
    model = serializers.CharField()
    mean = serializers.FloatField(allow_null=True, help_text="Mean over prompts (the seeds of a prompt averaged first).")
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)
    prompts = serializers.IntegerField(help_text="Prompts the model has a value for.")


class MetricTableSerializer(serializers.Serializer):
    metric = serializers.CharField(help_text="clip_score or pickscore.")
    label = serializers.CharField()
    weights = serializers.CharField(help_text="The scoring weights (hub id or local directory) of the values shown.")
    images = serializers.IntegerField(help_text="Images of the study scored with these weights.")
    interval = serializers.CharField()
    models = MeasureRowSerializer(many=True, help_text="Best first.")


class MetricAgreementSerializer(serializers.Serializer):
    metric = serializers.CharField()
    criterion = serializers.CharField()
    accuracy = serializers.FloatField(allow_null=True, help_text="Share of decisive counted votes where the metric scores the chosen image higher (a metric tie counts half).")
    ci_low = serializers.FloatField(allow_null=True, help_text="95% bootstrap interval over prompts.")
    ci_high = serializers.FloatField(allow_null=True)
    votes = serializers.IntegerField(help_text="Decisive votes counted.")
    metric_ties = serializers.IntegerField()
    skipped = serializers.IntegerField(help_text="Votes left out: human ties and images without a score.")
    spearman = serializers.FloatField(allow_null=True, help_text="Rank correlation of the metric's model means with the criterion's ratings.")
    spearman_p = serializers.FloatField(allow_null=True)
    kendall = serializers.FloatField(allow_null=True)
    kendall_p = serializers.FloatField(allow_null=True)
    models = serializers.IntegerField()


class DiversityMeasureSerializer(serializers.Serializer):
    description = serializers.CharField()
    interval = serializers.CharField()
    models = MeasureRowSerializer(many=True)


class DiversitySerializer(serializers.Serializer):
    computed_at = serializers.CharField(required=False)
    seeds = serializers.IntegerField()
    measures = serializers.DictField(child=DiversityMeasureSerializer(), help_text="pixel (1 - mean pairwise MS-SSIM) and, where CLIP weights load, embedding (Vendi score).")
    notes = serializers.ListField(child=serializers.CharField())


class DiversityCellSerializer(serializers.Serializer):
    mean = serializers.FloatField(allow_null=True)
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)


class HumanDiversityRowSerializer(serializers.Serializer):
    model = serializers.CharField()
    rating = serializers.FloatField(allow_null=True, help_text="The model's rating on the set criterion (the leaderboard's method); null without votes.")
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)
    votes = serializers.IntegerField(help_text="Set-criterion votes the model took part in.")
    diversity = serializers.DictField(
        child=DiversityCellSerializer(allow_null=True), help_text="Per automated diversity measure computed: its mean over prompts and interval.",
    )


class RankCorrelationSerializer(serializers.Serializer):
    spearman = serializers.FloatField(allow_null=True)
    kendall = serializers.FloatField(allow_null=True)
    models = serializers.IntegerField()


class HumanDiversitySerializer(serializers.Serializer):
    criterion = serializers.CharField(help_text="A set criterion of the study, e.g. diversity.")
    question = serializers.CharField(help_text="What raters were asked about the two sets.")
    measures = serializers.ListField(child=serializers.CharField(), help_text="Automated diversity measures computed (pixel, embedding).")
    rows = HumanDiversityRowSerializer(many=True, help_text="Per model, best human rating first.")
    correlations = serializers.DictField(
        child=RankCorrelationSerializer(), help_text="Per measure: rank correlation of its model ranking with the raters'.",
    )


class AutomatedSerializer(serializers.Serializer):
    metrics = MetricTableSerializer(many=True, help_text="Per metric computed on the study's images; without votes, this is the metric-only leaderboard.")
    agreement = MetricAgreementSerializer(many=True, help_text="Per metric and criterion, against the counted votes.")
    agreement_description = serializers.CharField()
    diversity = DiversitySerializer(allow_null=True, help_text="Diversity across seeds per model; null until computed (POST diversity/).")
    human_diversity = HumanDiversitySerializer(
        many=True, help_text="Per set criterion (raters judging which set of every seed's images is more varied): the human rating beside the automated diversity.",
    )
    notes = serializers.ListField(child=serializers.CharField(), help_text="What is missing and how to compute it.")


class HiddenPerModelSerializer(serializers.Serializer):
    model = serializers.CharField(help_text="The model, named as in the leaderboard rows.")
    images = serializers.IntegerField(help_text="Images of this model made for the study's prompts and seeds.")
    hidden = serializers.IntegerField(help_text="Of those, images hidden in screening: never served to raters.")


class LeaderboardSerializer(serializers.Serializer):
    method = serializers.CharField()
    rounds = serializers.IntegerField()
    seed = serializers.IntegerField()
    interval = serializers.CharField(help_text="What the interval is (bootstrap percentile interval, and for elo how it was made).")
    resample = serializers.CharField(help_text="The bootstrap's unit: comparison, prompt or rater.")
    population = serializers.CharField(help_text="What population the intervals are about.")
    criteria = serializers.ListField(child=serializers.CharField(), help_text="Every criterion rated: the pair questions, then the set questions (variety across seeds).")
    mean_of = serializers.ListField(
        child=serializers.CharField(),
        help_text='The criteria the combined rating "mean" averages: the study\'s pair questions only (as ADD reports), '
        "never its set questions, which have rows of their own; empty when fewer than two, with no \"mean\" rows.",
    )
    models = LeaderboardRowSerializer(many=True, help_text='Rows per model and criterion; criterion "mean" is the combined rating, the mean over mean_of.')
    pairs = PairRowSerializer(many=True, help_text='Pairwise significance per criterion and for "mean" (over mean_of).')
    warnings = serializers.ListField(child=serializers.CharField(), help_text="Fits without a finite maximum likelihood.")
    by_category = serializers.DictField(required=False, help_text="With ?by=: {category: {votes, models, warnings}}.")
    ordering_spread = serializers.DictField(required=False, help_text="elo only: the spread over orderings, labelled (not a confidence interval).")
    provenance = serializers.DictField(help_text="How it was computed: votes, raters, exclusions, code version, time.")
    automated = AutomatedSerializer(help_text="Automated metrics, their agreement with the raters, and diversity across seeds, per model.")
    hidden_images = HiddenPerModelSerializer(
        many=True, help_text="Per model: images made and images hidden in screening (never served); the leaderboard exports carry the same counts.",
    )


class DiversityQueuedSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What was queued, or why there is nothing to compute (one seed).")


# Study operations (issue 15): clone, pilot, models added to a draft, screening.


class CloneSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, help_text='Name of the new draft; default "Copy of <name>".')


class PilotSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, help_text='Default "Pilot of <name>".')
    quota_per_rater = serializers.IntegerField(required=False, min_value=1, max_value=10000, help_text="Comparisons per pilot rater; default the main study's.")
    max_participants = serializers.IntegerField(required=False, min_value=1, help_text="Cap on pilot raters; default the main study's.")


class ModelsAddSerializer(serializers.Serializer):
    models = serializers.ListField(
        child=serializers.CharField(max_length=210), min_length=1,
        help_text='Model spec slugs (latest version) or "slug@version" to add to the draft.',
    )

    def validate_models(self, references: list[str]) -> list[ModelSpec]:
        return StudyCreateSerializer.validate_models(self, references)


class ImagesSerializer(serializers.Serializer):
    images = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=10000, help_text="Image ids from the screening grid.")


class HideSerializer(ImagesSerializer):
    reason = serializers.ChoiceField(choices=HiddenImage.Reason.choices)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="", help_text="Required when the reason is other.")


class HideResultSerializer(serializers.Serializer):
    hidden = serializers.IntegerField(help_text="Images newly hidden.")
    pairs_retired = serializers.IntegerField(help_text="Pair slots no longer served.")
    attention_checks_removed = serializers.IntegerField(help_text="Attention checks on these images that nobody was shown yet.")
    attention_checks_kept = serializers.IntegerField(
        help_text="Attention checks on these images already shown to someone: kept for the answers given, served to nobody else."
    )
    open_pairs = serializers.IntegerField(help_text="Pairs with these images on raters' screens now: they may still be answered.")


class UnhideResultSerializer(serializers.Serializer):
    shown = serializers.IntegerField()
    pairs_restored = serializers.IntegerField()
    pairs_added = serializers.IntegerField()
    attention_checks_restored = serializers.IntegerField(help_text="Attention checks served again: none of their images is hidden now.")


class ReviewSerializer(serializers.Serializer):
    skip = serializers.BooleanField(default=False, help_text="Skip the screening on purpose (owner and staff only) instead of marking it done.")


class ScreeningCellSerializer(serializers.Serializer):
    model = serializers.CharField()
    image = serializers.IntegerField(allow_null=True, help_text="Image id; null while not made.")
    viewable = serializers.BooleanField()
    hidden = serializers.BooleanField()
    reason = serializers.CharField()
    note = serializers.CharField()
    hidden_by = serializers.CharField(allow_null=True)


class ScreeningRowSerializer(serializers.Serializer):
    prompt = serializers.CharField()
    position = serializers.IntegerField()
    seed = serializers.IntegerField()
    cells = ScreeningCellSerializer(many=True)


class CrowdLinkSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="The link to hand to the platform (a secret: whoever has it can take part).")
    use = serializers.CharField(help_text="Where the link goes on the platform and what the platform adds to it.")


class CrowdLinksSerializer(serializers.Serializer):
    prolific = CrowdLinkSerializer()
    mturk = CrowdLinkSerializer()
    open_to_crowd = serializers.BooleanField(help_text="Whether the links let participants in now (open for rating, images screened).")
    problem = serializers.CharField(help_text="Why the links do not let participants in yet, or empty.")


class ScreeningSerializer(serializers.Serializer):
    models = serializers.ListField(child=serializers.CharField())
    rows = ScreeningRowSerializer(many=True)
    hidden_per_model = HiddenPerModelSerializer(many=True)
    review = ScreeningStateSerializer()
