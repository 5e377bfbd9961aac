"""A study's progress (images, comparisons against the target, raters active, time left) and its
sampling and stopping state, and reopening a study its rule or budget stopped (issue 13; the rules
in ratings/progress.py, ratings/sampling.py and ratings/stopping.py)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from common.api import service_errors

from .. import progress, stopping
from .studies import StudySerializer


class SamplingStateSerializer(serializers.Serializer):
    unit = serializers.CharField(help_text="comparison, prompt or prompt_rater: what the study's conclusions are about.")
    unit_text = serializers.CharField(help_text="The unit in words.")
    stopping_rule = serializers.CharField(help_text="The stopping rule on that unit, in words.")
    sampling = serializers.CharField()
    stop_when = serializers.CharField()
    vote_budget = serializers.IntegerField(allow_null=True)
    stopped = serializers.BooleanField(help_text="No new pairs are served; raters finish their open pairs.")
    stopped_at = serializers.DateTimeField(allow_null=True)
    stopped_by = serializers.CharField(help_text="rule or budget when stopped, else empty.")
    stop_reason = serializers.CharField(help_text="Why the study stopped (its rule or its budget), with the count at the stop.")
    stop_text = serializers.CharField(help_text="The reason with the comparisons answered at the stop and in all; empty while it serves.")
    comparisons_at_stop = serializers.IntegerField(allow_null=True, help_text="Comparisons answered when it stopped.")
    comparisons_final = serializers.IntegerField(
        allow_null=True, help_text="Comparisons answered now, after the stop (raters finish the pairs they had open).",
    )
    pair_weights_at = serializers.DateTimeField(allow_null=True)
    pair_weights_votes = serializers.IntegerField()


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
    target = serializers.IntegerField(help_text="What the study is measured against: every pair slot at votes_per_pair, or its vote budget.")
    measured_against = serializers.ChoiceField(choices=["votes_per_pair", "vote_budget"])
    target_text = serializers.CharField(help_text="The target in words.")
    open = serializers.IntegerField(help_text="Pairs on raters' screens now (served, not answered, not lapsed).")
    per_pair = PairProgressSerializer(many=True)


class SecondsLeftSerializer(serializers.Serializer):
    generation = serializers.FloatField(allow_null=True)
    rating = serializers.FloatField(allow_null=True)
    total = serializers.FloatField(allow_null=True, help_text="None until there is a rate to estimate from.")


class ProgressSerializer(serializers.Serializer):
    study = serializers.IntegerField()
    status = serializers.CharField(
        help_text="draft, generating, rating, stopped, paused or closed; stopped: open for rating, but its stopping rule or "
        "vote budget stopped serving new pairs (sampling.stop_text says why; reopen to serve again).",
    )
    status_text = serializers.CharField(help_text="The status in words, as the pages show it.")
    images = ImagesProgressSerializer()
    comparisons = ComparisonsProgressSerializer()
    votes = serializers.IntegerField()
    raters_active = serializers.IntegerField(help_text="Raters active now: served or answering in the last 15 minutes, and not finished or withdrawn since.")
    comparisons_last_hour = serializers.IntegerField()
    images_last_hour = serializers.IntegerField()
    seconds_left = SecondsLeftSerializer()
    complete = serializers.BooleanField(
        help_text="Every image made and nothing more to come: every pair at its target (or the budget used), or stopped "
        "by its rule or budget with no pair still open on a rater's screen.",
    )
    sampling = SamplingStateSerializer(help_text="Sampling and stopping: whether and why the study stopped serving.")


class ReopenSerializer(serializers.Serializer):
    vote_budget = serializers.IntegerField(
        min_value=1, required=False,
        help_text="The new budget: at least the current one (the default) and above the comparisons answered so far.",
    )
    stop_when = serializers.CharField(required=False, help_text="A new stopping rule: target, separated, width or decided.")
    stop_alpha = serializers.FloatField(required=False, help_text="A new error level of the rule (smaller: more confidence, more votes).")
    stop_top_k = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="Separate the top k adjacent pairs (more: more of the ranking); null: all.",
    )
    stop_width = serializers.FloatField(required=False, allow_null=True, help_text="width: a new widest interval allowed, in Elo points.")


class ReopenedStudySerializer(StudySerializer):
    warning = serializers.CharField(
        help_text="Empty, or why the study will stop again at once: its rule is already met on the votes so far "
        "(reopen with a stricter rule: a larger stop_top_k, a smaller stop_alpha or stop_width).",
    )

    class Meta(StudySerializer.Meta):
        fields = [*StudySerializer.Meta.fields, "warning"]


class ProgressActions:
    """``progress`` and ``reopen`` of a study."""

    @extend_schema(responses=ProgressSerializer, filters=False)
    @action(detail=True, methods=["get"])
    def progress(self, request, pk=None):
        """Images made of total per model, comparisons per model pair against the target,
        raters active and the estimated time to finish."""
        study = self.get_object()
        return Response({**progress.study_progress(study=study), "sampling": stopping.study_sampling_state(study=study)})

    @extend_schema(request=ReopenSerializer, responses={200: ReopenedStudySerializer})
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        """Serve a study that its stopping rule or vote budget stopped again: a ``vote_budget`` of
        at least the current one and above the comparisons answered so far, and optionally a
        stricter rule (``stop_when``, ``stop_alpha``, ``stop_top_k``, ``stop_width``). ``warning``
        says when the rule is already met on the votes so far (the study would stop again at the
        next refresh): reopen with a stricter rule then."""
        study = self.get_object()
        form = ReopenSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        with service_errors():
            reopened = stopping.study_reopen(study=study, **form.validated_data)
        reopened = self.get_queryset().get(pk=study.pk)
        reopened.warning = stopping.study_reopen_warning(study=reopened)
        return Response(ReopenedStudySerializer(reopened).data)
