"""A study's files (ratings/results/): the votes as CSV, the leaderboard as a file, every image in
a zip, one figure, and the self-contained report."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from ..results import image_exports
from ..results.exports import LEADERBOARD_FORMATS, leaderboard_export, votes_csv
from ..results.options import INLINE_ROUNDS, METHODS, RESAMPLE_UNITS
from ..results.plots import PLOT_FORMATS, PLOTS, plot_export
from ..results.report import REPORT_FORMATS, study_report
from .base import DetailSerializer, FormatIsAQueryParameter, choices_text, default_first, file_response
from .leaderboards import LeaderboardQuerySerializer

PLOT_FORMAT_CHOICES = default_first(PLOT_FORMATS, "svg")
REPORT_FORMAT_CHOICES = default_first(REPORT_FORMATS, "pdf")


class LeaderboardExportQuerySerializer(LeaderboardQuerySerializer):
    fmt = serializers.ChoiceField(
        choices=list(LEADERBOARD_FORMATS), default="csv",
        error_messages={"invalid_choice": "Unknown format '{input}': use " + choices_text(LEADERBOARD_FORMATS) + "."},
    )
    rounds = serializers.IntegerField(default=1000, min_value=1, max_value=INLINE_ROUNDS)
    recompute = None


class PlotQuerySerializer(serializers.Serializer):
    fmt = serializers.ChoiceField(
        choices=PLOT_FORMAT_CHOICES, default=PLOT_FORMAT_CHOICES[0],
        error_messages={"invalid_choice": "Unknown image format '{input}': use " + choices_text(PLOT_FORMAT_CHOICES) + "."},
    )
    method = serializers.ChoiceField(
        choices=list(METHODS), default="bt", help_text="The rating method whose ratings the plot draws (bt, davidson, elo, winrate).",
        error_messages={"invalid_choice": f"Unknown method '{{input}}': use {', '.join(METHODS)}."},
    )
    resample = serializers.ChoiceField(
        choices=list(RESAMPLE_UNITS), default="comparison",
        error_messages={"invalid_choice": "Unknown resampling unit '{input}': use " + choices_text(RESAMPLE_UNITS) + "."},
        help_text="Bootstrap unit of the intervals (and the unit of the versus intervals: prompt clusters by prompt, rater and prompt_rater by prompt and rater).",
    )
    include_flagged = serializers.BooleanField(default=False)
    criterion = serializers.CharField(default="mean", max_length=100, help_text="The criterion of one-criterion plots (ratings, heatmap, win-bars, speed); mean by default.")
    model = serializers.CharField(required=False, max_length=300, help_text="win-bars: the model whose win rates are drawn.")


class ExportActions:
    """``export/votes``, ``export/leaderboard``, ``export/images``, ``plots/<plot>`` and ``report`` of a study."""

    @extend_schema(
        parameters=[OpenApiParameter("include_flagged", bool, default=True, description="Also the votes of raters flagged in this study (marked in the counted column).")],
        responses={(200, "text/csv"): OpenApiTypes.BINARY}, filters=False,
    )
    @action(detail=True, methods=["get"], url_path="export/votes")
    def export_votes(self, request, pk=None):
        """Every vote as the Chatbot Arena CSV, rater ids pseudonymized, models by slug, under a
        provenance header; a ``counted`` column says whether the leaderboard counts the vote."""
        study = self.get_object()
        include = request.query_params.get("include_flagged", "true").lower() not in ("false", "0", "no")
        return file_response(votes_csv(study=study, include_flagged=include), "text/csv", f"study-{study.pk}-votes.csv")

    @extend_schema(
        parameters=[LeaderboardExportQuerySerializer],
        responses={(200, media): OpenApiTypes.BINARY for media in LEADERBOARD_FORMATS.values()},
        filters=False,
    )
    @action(detail=True, methods=["get"], url_path="export/leaderboard")
    def export_leaderboard(self, request, pk=None):
        """The leaderboard as a file, with its provenance (which says what "mean" averages), the
        pairwise significance table, and per model the images made and hidden in screening."""
        study = self.get_object()
        query = LeaderboardExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        options = dict(query.validated_data)
        content, content_type, filename = leaderboard_export(study=study, **options)
        return file_response(content, content_type, filename)

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY}, filters=False)
    @action(detail=True, methods=["get"], url_path="export/images")
    def export_images(self, request, pk=None):
        """Every image of the study in a zip, ``<model>/<prompt position>_<seed>.png``, with
        ``metadata.jsonl`` saying how each was made."""
        study = self.get_object()
        return FileResponse(
            image_exports.study_images_zip(study=study), as_attachment=True,
            filename=f"study-{study.pk}-images.zip", content_type="application/zip",
        )

    @extend_schema(
        parameters=[PlotQuerySerializer, OpenApiParameter("plot", str, OpenApiParameter.PATH, enum=list(PLOTS), description=(
            "forest, ratings, heatmap, win-bars, speed (rating against seconds per image, the Pareto front marked, the device named), "
            "diversity, versus-bars (win rates against the reference with the margin drawn) and versus-table (the decision table): "
            "the last two for a study with a reference."))],
        responses={
            **{(200, media): OpenApiTypes.BINARY for media in PLOT_FORMATS.values()},
            404: OpenApiResponse(DetailSerializer, description="No such study for you, or no such plot for this study (versus plots need a reference)."),
        },
        filters=False,
    )
    @action(detail=True, methods=["get"], url_path=r"plots/(?P<plot>[a-z-]+)")
    def plot(self, request, pk=None, plot=None):
        """One figure of the study as a file (SVG, PNG or PDF), drawn on the server from the
        cached leaderboard, the same figure as the results page's."""
        study = self.get_object()
        query = PlotQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        options = query.validated_data
        try:
            content, content_type, filename = plot_export(
                study=study, plot=plot, fmt=options["fmt"], method=options["method"], criterion=options["criterion"],
                model=options.get("model"), resample=options["resample"], include_flagged=options["include_flagged"],
            )
        except ValueError as error:
            return Response({"detail": str(error)}, status=status.HTTP_404_NOT_FOUND)
        return file_response(content, content_type, filename)

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=REPORT_FORMAT_CHOICES, default=REPORT_FORMAT_CHOICES[0], description="pdf (pages, figures as vectors) or html (one file, figures embedded as images).")],
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY, (200, "text/html"): OpenApiTypes.BINARY,
            400: OpenApiResponse(DetailSerializer, description="An unknown format; the message names the ones there are."),
        },
        filters=False,
    )
    @action(detail=True, methods=["get"], content_negotiation_class=FormatIsAQueryParameter)
    def report(self, request, pk=None):
        """The study's self-contained report as a file: design (models, prompts, seeds, criteria,
        sampling, stop rule), prompts, raters and exclusions, the stop reason, the figures (win
        rates against the reference with the margin, rating against seconds per image with the
        Pareto front, the decision table), the ranking, automated metrics and diversity when
        computed, and provenance (weights revisions, seeds, code version)."""
        study = self.get_object()
        fmt = request.query_params.get("format", REPORT_FORMAT_CHOICES[0])
        if fmt not in REPORT_FORMATS:
            return Response({"detail": f"Unknown report format '{fmt}': use {choices_text(REPORT_FORMAT_CHOICES)}."}, status=status.HTTP_400_BAD_REQUEST)
        return file_response(*study_report(study=study, fmt=fmt))
