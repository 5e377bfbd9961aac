"""The leaderboard of a study (documents from ratings/results/leaderboards.py): ratings with
intervals per criterion, the pairwise table, the decisions against a reference, the automated
metrics and diversity; and computing the diversity in the background."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from .. import screening
from ..results.leaderboards import LeaderboardPending, study_leaderboard
from ..results.options import BREAKDOWNS, INLINE_ROUNDS, MAX_ROUNDS, METHODS, RESAMPLE_UNITS
from ..results.options import MAX_SEED as MAX_LEADERBOARD_SEED
from ..stats.versus import DECISIONS
from .base import PENDING, choices_text
from .screening import HiddenPerModelSerializer


class LeaderboardQuerySerializer(serializers.Serializer):
    method = serializers.ChoiceField(
        choices=list(METHODS), default="bt",
        help_text="bt: Bradley-Terry, a tie half a win (Chatbot Arena's convention); davidson: Bradley-Terry with "
        "Davidson's tie model (a tie its own outcome, so the ratings do not depend on the design); elo: ADD's online "
        "Elo; winrate: mean win rate.",
        error_messages={"invalid_choice": f"Unknown method '{{input}}': use {', '.join(METHODS)}."},
    )
    rounds = serializers.IntegerField(
        default=1000, min_value=1, max_value=MAX_ROUNDS,
        help_text=f"Bootstrap rounds (orderings for elo). More than {INLINE_ROUNDS} are computed in the background: the answer is 202, ask again later.",
    )
    seed = serializers.IntegerField(default=0, min_value=0, max_value=MAX_LEADERBOARD_SEED)
    include_flagged = serializers.BooleanField(default=False)
    resample = serializers.ChoiceField(
        choices=list(RESAMPLE_UNITS), required=False,
        error_messages={"invalid_choice": "Unknown resampling unit '{input}': use " + choices_text(RESAMPLE_UNITS) + "."},
        help_text="Bootstrap unit for every method: comparison (intervals about these prompts and raters), prompt (prompts like these), "
        "rater (raters like these) or prompt_rater (prompts and raters like these: both resampled, crossed). Default: the study's unit.",
    )
    by = serializers.ChoiceField(
        choices=list(BREAKDOWNS), required=False,
        error_messages={"invalid_choice": "Unknown breakdown '{input}': use " + choices_text(BREAKDOWNS) + "."}, help_text="Add a leaderboard per prompt category (or challenge): by_category.")
    recompute = serializers.BooleanField(default=False, help_text="Recompute now instead of reading the cached leaderboard.")


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


class VersusRowSerializer(serializers.Serializer):
    model = serializers.CharField()
    criterion = serializers.CharField(help_text='A pair criterion, or "mean" (over mean_of).')
    win_rate = serializers.FloatField(allow_null=True, help_text="Win rate against the reference, a tie half a win; null: never compared.")
    low = serializers.FloatField(allow_null=True, help_text="Lower bound (one-sided, level 1 - alpha); null: too few votes or clusters.")
    high = serializers.FloatField(allow_null=True, help_text="Upper bound (one-sided, level 1 - alpha).")
    decision = serializers.ChoiceField(
        choices=list(DECISIONS),
        help_text="better: low > 0.5; equivalent: within 0.5 +- margin; non-inferior: low > 0.5 - margin; inferior: high < 0.5 - margin.",
    )
    votes = serializers.IntegerField()
    clusters = serializers.IntegerField(help_text="Units behind the interval: comparisons, prompts, or the fewer of prompts and raters.")


class VersusSettingsSerializer(serializers.Serializer):
    reference = serializers.CharField()
    margin = serializers.FloatField()
    alpha = serializers.FloatField(help_text="The error allowed for each decision (the study's stop_alpha).")
    unit = serializers.CharField(help_text="The inference unit: comparison, prompt or prompt_rater (from the resample parameter).")
    interval = serializers.CharField(required=False)
    population = serializers.CharField(required=False)
    decisions = serializers.CharField(required=False, help_text="The decision rules in words.")


class LeaderboardSerializer(serializers.Serializer):
    method = serializers.CharField()
    rounds = serializers.IntegerField()
    seed = serializers.IntegerField()
    interval = serializers.CharField(help_text="What the interval is (bootstrap percentile interval, and for elo how it was made).")
    resample = serializers.CharField(help_text="The bootstrap's unit: comparison, prompt or rater.")
    unit = serializers.CharField(help_text="The study's unit: comparison, prompt or prompt_rater.")
    unit_text = serializers.CharField(help_text="What the study's conclusions are about, in words.")
    stopping_rule = serializers.CharField(help_text="The study's stopping rule on its unit, in words (provenance.design says why it stopped).")
    at_stop = serializers.DictField(
        required=False, allow_null=True,
        help_text="A study stopped by its rule or budget: each criterion's adjacent gaps at the stop on its unit (Elo): fitted, "
        "adjusted for the stopping's selection (Whitehead), and the anytime-valid interval.",
    )
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
    versus_settings = VersusSettingsSerializer(required=False, help_text="A study with a reference: the decisions' settings.")
    versus = VersusRowSerializer(
        many=True, required=False,
        help_text="A study with a reference: each model's win rate against it per criterion and mean, interval and decision "
        "(fixed-sample: Schuirmann's two one-sided tests at the study's stop_alpha).",
    )
    provenance = serializers.DictField(help_text="How it was computed: votes, raters, exclusions, code version, time.")
    automated = AutomatedSerializer(help_text="Automated metrics, their agreement with the raters, and diversity across seeds, per model.")
    hidden_images = HiddenPerModelSerializer(
        many=True, help_text="Per model: images made and images hidden in screening (never served); the leaderboard exports carry the same counts.",
    )


class DiversityQueuedSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What was queued, or why there is nothing to compute (one seed).")


class LeaderboardActions:
    """``leaderboard`` and ``diversity`` of a study."""

    @extend_schema(
        parameters=[LeaderboardQuerySerializer],
        responses={200: LeaderboardSerializer, 202: PENDING},
        filters=False,
    )
    @action(detail=True, methods=["get"])
    def leaderboard(self, request, pk=None):
        """Ratings with confidence intervals per criterion and combined ("mean", over the pair
        questions named in ``mean_of``), by method (Bradley-Terry, Elo or win rate), the pairwise
        significance table, with ``by`` a leaderboard per prompt category, and per model the images
        hidden in screening. Raters flagged in this study are left out unless asked for."""
        study = self.get_object()
        query = LeaderboardQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            board = study_leaderboard(study=study, **query.validated_data)
        except LeaderboardPending as pending:
            return Response({"detail": str(pending)}, status=status.HTTP_202_ACCEPTED)
        return Response({**board, "hidden_images": screening.hidden_per_model(study=study)})

    @extend_schema(request=None, responses={202: DiversityQueuedSerializer}, filters=False)
    @action(detail=True, methods=["post"])
    def diversity(self, request, pk=None):
        """Compute the study's diversity across seeds in the background (pixels on the default queue;
        with CLIP weights on the workers, embeddings on the gpu queue); the leaderboard's
        ``automated.diversity`` shows it when done."""
        from ..results.automated import study_diversity_enqueue

        study = self.get_object()
        return Response({"detail": study_diversity_enqueue(study=study)}, status=status.HTTP_202_ACCEPTED)
