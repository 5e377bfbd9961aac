"""Screening before launch (issue 15; the rules in ratings/screening.py): every image of a study
by prompt, seed and model, hiding images from raters and showing them again, and the review that
opens the study to crowd links."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from common.api import service_errors

from .. import screening, studies
from ..models import HiddenImage
from .base import CONFLICT


class ScreeningStateSerializer(serializers.Serializer):
    screened_with = serializers.IntegerField(allow_null=True, help_text="A pilot: the main study whose screening applies.")
    reviewed_at = serializers.DateTimeField(allow_null=True)
    reviewed_by = serializers.CharField(allow_null=True)
    skipped = serializers.BooleanField(help_text="The screening was skipped on purpose, not done.")
    crowd_links_open = serializers.BooleanField(help_text="Crowd links (Prolific, MTurk) can enter once the study is open.")
    text = serializers.CharField()


class HiddenPerModelSerializer(serializers.Serializer):
    model = serializers.CharField(help_text="The model, named as in the leaderboard rows.")
    images = serializers.IntegerField(help_text="Images of this model made for the study's prompts and seeds.")
    hidden = serializers.IntegerField(help_text="Of those, images hidden in screening: never served to raters.")


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


class ScreeningSerializer(serializers.Serializer):
    models = serializers.ListField(child=serializers.CharField())
    rows = ScreeningRowSerializer(many=True)
    hidden_per_model = HiddenPerModelSerializer(many=True)
    review = ScreeningStateSerializer()


class ScreeningActions:
    """The study's screening: ``screening/`` and its ``hide``, ``unhide`` and ``review`` steps."""

    @extend_schema(responses=ScreeningSerializer, filters=False)
    @action(detail=True, methods=["get"])
    def screening(self, request, pk=None):
        """Every image of the study by prompt, seed and model, which are hidden and why, hidden
        images per model, and whether the screening was done (crowd links work only then)."""
        return Response(screening.study_screening_grid(study=self.get_object()))

    @extend_schema(request=HideSerializer, responses=HideResultSerializer)
    @action(detail=True, methods=["post"], url_path="screening/hide")
    def screening_hide(self, request, pk=None):
        """Hide images from raters (broken, offensive): their pairs are never served again. Hidden
        after opening, a pair already on a rater's screen may still be answered."""
        study = self.get_object()
        form = HideSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        with service_errors():
            result = screening.images_hide(study=study, image_ids=form.validated_data["images"], reason=form.validated_data["reason"],
                                           note=form.validated_data["note"], by=request.user)
        return Response(result)

    @extend_schema(request=ImagesSerializer, responses=UnhideResultSerializer)
    @action(detail=True, methods=["post"], url_path="screening/unhide")
    def screening_unhide(self, request, pk=None):
        """Show hidden images again: their pairs serve again (unless raters' reports retired them), and
        so do their attention checks once none of a check's images is hidden."""
        study = self.get_object()
        form = ImagesSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        with service_errors():
            result = screening.images_unhide(study=study, image_ids=form.validated_data["images"])
        return Response(result)

    @extend_schema(request=ReviewSerializer, responses={200: ScreeningStateSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"], url_path="screening/review")
    def screening_review(self, request, pk=None):
        """Record the screening as done (every image exists and was looked at), or with ``skip:
        true`` skip it on purpose (owner and staff); either is recorded with who and when, and
        opens the study to crowd links."""
        study = self.get_object()
        form = ReviewSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        with service_errors(studies.StudyStateError):
            if form.validated_data["skip"]:
                study = screening.study_images_review_skip(study=study, by=request.user)
            else:
                study = screening.study_images_reviewed(study=study, by=request.user)
        return Response(screening.screening_state(study=study))
