"""Votes-needed forecasts (the simulation in ratings/forecasting.py, its cost bounded by
ratings/forecasts.py): for a study from its votes so far, and for a study not created yet."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from common.api import ResearcherAPIMixin

from .. import forecasts
from ..design import FORECAST_MAX_BUDGET, FORECAST_MAX_CRITERIA, FORECAST_MAX_MODELS, FORECAST_MAX_RUNS
from ..models import SAMPLING_CHOICES, STOP_CHOICES, UNIT_CHOICES, SamplingOptions
from ..sampling import design_errors
from .base import PENDING, study_default


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
    exploration = serializers.FloatField(default=study_default("exploration"), min_value=0, max_value=1)
    stop_when = serializers.ChoiceField(choices=STOP_CHOICES, default="separated", help_text="separated, width or decided (with a reference; target needs no forecast).")
    stop_alpha = serializers.FloatField(default=study_default("stop_alpha"))
    stop_top_k = serializers.IntegerField(required=False, allow_null=True, default=None)
    stop_width = serializers.FloatField(required=False, allow_null=True, default=None)
    vote_budget = serializers.IntegerField(min_value=1, max_value=FORECAST_MAX_BUDGET,
                                           help_text=f"Most comparisons (at most {FORECAST_MAX_BUDGET:,} here).")
    allow_ties = serializers.BooleanField(default=study_default("allow_ties"), help_text="Simulated raters answer tie 10% of the time (or tie_share).")
    tie_share = serializers.FloatField(required=False, allow_null=True, default=None, min_value=0, max_value=0.9,
                                       help_text="Share of ties, e.g. from a pilot or an earlier study; default 10% when ties are allowed.")
    unit = serializers.ChoiceField(
        choices=UNIT_CHOICES, default=study_default("unit"),
        help_text="The study's unit: comparison, prompt (the default, as for a new study) or prompt_rater (simulated on prompts). Under prompt units give prompts "
        "and prompt_spread.",
    )
    prompts = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=2, max_value=100_000,
                                       help_text="Prompts in the study's prompt set (default 50).")
    prompt_spread = serializers.FloatField(
        required=False, allow_null=True, default=None, min_value=0, max_value=1000,
        help_text="How much a model's strength varies across prompts, in Elo (standard deviation), e.g. from a pilot; default 0.",
    )

    reference = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0,
        help_text="stop_when decided: the position (from 0) of the reference model among the models' ratings.",
    )
    versus_margin = serializers.FloatField(default=study_default("versus_margin"), min_value=0, max_value=0.49,
                                           help_text="stop_when decided: the margin on the win-rate scale (default 0.05).")

    def validate(self, data: dict) -> dict:
        elo = data.get("elo")
        if data["stop_when"] == "target":
            raise serializers.ValidationError({"stop_when": [
                "A study with stop_when target needs votes_per_pair x slots comparisons: nothing to forecast; "
                "use separated or width."
            ]})
        if data["stop_when"] == "decided" and data.get("reference") is None:
            raise serializers.ValidationError({"stop_when": [
                "A forecast of stop_when decided needs a reference: the position (from 0) of the reference model in elo "
                "(or among the models), which every other model is compared with."
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
        if data.get("reference") is not None and data["reference"] >= n_models:
            raise serializers.ValidationError({"reference": [f"The reference is the position of one of the {n_models} models: 0 to {n_models - 1}."]})
        errors = design_errors(SamplingOptions(**{name: data[name] for name in SamplingOptions.names() if name in data}), n_models=n_models)
        if errors:
            raise serializers.ValidationError({field: [message] for field, message in errors.items()})
        return data


class ForecastAmountSerializer(serializers.Serializer):
    median = serializers.FloatField(allow_null=True, help_text="None before the study's first votes.")
    low = serializers.FloatField(allow_null=True, help_text="5th percentile")
    high = serializers.FloatField(allow_null=True, help_text="95th percentile")


class VersusForecastSerializer(serializers.Serializer):
    model = serializers.CharField()
    win_rate = serializers.FloatField(help_text="Its win rate against the reference so far (assumed 0.5 without votes).")
    median = serializers.FloatField(help_text="More comparisons (of the whole study) until it is decided: median.")
    low = serializers.FloatField(help_text="5th percentile")
    high = serializers.FloatField(help_text="95th percentile")
    undecided_at_budget = serializers.FloatField(help_text="Share of simulated runs the budget ended with it undecided.")


class ForecastSerializer(serializers.Serializer):
    comparisons = ForecastAmountSerializer(help_text="Comparisons still needed: median and 90% range.")
    budget_hits = serializers.FloatField(help_text="Share of simulated runs stopped by the budget, not the rule.")
    undecidable = serializers.FloatField(
        required=False, help_text="Share of simulated runs ending with adjacent pairs no budget separates with these prompts."
    )
    unit = serializers.CharField(required=False, help_text="The unit simulated: comparison, prompt or prompt_rater.")
    runs = serializers.IntegerField()
    cost = ForecastAmountSerializer(required=False)
    hours = ForecastAmountSerializer(required=False)
    done = serializers.IntegerField(required=False, help_text="Comparisons answered so far.")
    pilot_comparisons = serializers.IntegerField(
        required=False, help_text="The study's pilot's comparisons that informed the models' strengths (never counted towards the rule).",
    )
    text = serializers.CharField()
    versus = VersusForecastSerializer(
        many=True, required=False, help_text="stop_when decided: comparisons to decide each model against the reference."
    )


class ForecastActions:
    """``forecast`` of a study."""

    @extend_schema(parameters=[ForecastQuerySerializer], responses={200: ForecastSerializer, 202: PENDING}, filters=False)
    @action(detail=True, methods=["get"])
    def forecast(self, request, pk=None):
        """Comparisons the study still needs (median and 90% range), simulated from its votes so
        far under its sampling and stopping rule; cost and hours from a price and a crowd size."""
        study = self.get_object()
        query = ForecastQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            return Response(forecasts.study_forecast_cached(study=study, options=dict(query.validated_data)))
        except forecasts.ForecastPending as pending:
            return Response({"detail": str(pending)}, status=status.HTTP_202_ACCEPTED)


class ForecastViewSet(ResearcherAPIMixin, viewsets.ViewSet):
    """Votes-needed forecasts for a study not created yet."""

    throttle_scope = "forecast"

    @extend_schema(request=ForecastCreateSerializer, responses={200: ForecastSerializer, 202: PENDING})
    def create(self, request):
        """Simulate a study from assumed strengths (a number of models ``elo_gap`` apart, or
        their Elo ratings per criterion) under its sampling and stopping rule: comparisons needed
        (median and 90% range), with cost and hours from a price and a crowd size."""
        form = ForecastCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            return Response(forecasts.forecast_design_cached(options=dict(form.validated_data)))
        except forecasts.ForecastPending as pending:
            return Response({"detail": str(pending)}, status=status.HTTP_202_ACCEPTED)
