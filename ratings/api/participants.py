"""A study's raters and participants (ratings/rater_reads.py, rater_flags.py, payments.py): their statistics,
the review and payment table and its CSV, and flagging or excluding a rater in the study."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from .. import payments, rater_flags, rater_reads
from ..models import Rater, Study
from .base import file_response


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


class ParticipantActions:
    """``raters``, ``participants``, ``export/participants`` and a rater's ``flag`` and ``exclude``."""

    @extend_schema(responses=RaterRowSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"])
    def raters(self, request, pk=None):
        """The study's raters with their statistics."""
        table = rater_reads.study_rater_table(study=self.get_object())
        page = self.paginate_queryset(table)
        return self.get_paginated_response(RaterRowSerializer(page, many=True).data)

    @extend_schema(responses=ParticipantRowSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"])
    def participants(self, request, pk=None):
        """Every participant for review and payment: crowd ids, times, active minutes, pairs,
        attention checks, self-consistency, outcome, the suggested decision (approve, reject or
        return, with the reason), staff's override and the bonus. As CSV: ``export/participants``."""
        rows = payments.study_participants(study=self.get_object())
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(ParticipantRowSerializer(page, many=True).data)

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.BINARY}, filters=False)
    @action(detail=True, methods=["get"], url_path="export/participants")
    def export_participants(self, request, pk=None):
        """The participants as CSV, one row each, the columns of ``participants``, to review
        and pay them on the crowd platform."""
        study = self.get_object()
        return file_response(payments.participants_csv(study=study), "text/csv", f"study-{study.pk}-participants.csv")

    def _study_rater(self, rater_id) -> tuple[Study, Rater]:
        study = self.get_object()
        rater = get_object_or_404(rater_reads.study_raters(study=study), pk=rater_id)
        return study, rater

    @extend_schema(request=FlagSerializer, responses=RaterRowSerializer)
    @action(detail=True, methods=["post"], url_path=r"raters/(?P<rater_id>[0-9]+)/flag")
    def flag_rater(self, request, pk=None, rater_id=None):
        """Flag a rater in this study (``flagged: false`` clears it): left out of this study's
        leaderboards by default; the rater still counts in their other studies."""
        study, rater = self._study_rater(rater_id)
        form = FlagSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        rater_flags.rater_flag(study=study, rater=rater, flagged=form.validated_data["flagged"])
        return Response(self._rater_row(study, rater))

    @extend_schema(request=ExcludeSerializer, responses=RaterRowSerializer)
    @action(detail=True, methods=["post"], url_path=r"raters/(?P<rater_id>[0-9]+)/exclude")
    def exclude_rater(self, request, pk=None, rater_id=None):
        """Exclude every vote of a rater in this study (``excluded: false`` counts them again)."""
        study, rater = self._study_rater(rater_id)
        form = ExcludeSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        rater_flags.rater_exclude(study=study, rater=rater, excluded=form.validated_data["excluded"])
        return Response(self._rater_row(study, rater))

    def _rater_row(self, study, rater) -> dict:
        row = next(row for row in rater_reads.study_rater_table(study=study) if row["id"] == rater.pk)
        return RaterRowSerializer(row).data
