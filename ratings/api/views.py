"""The studies API: create and run studies, follow their progress, read leaderboards,
download exports, and moderate raters. A researcher reaches only the studies they own or that
are shared with them (others answer 404); staff reach all."""

from __future__ import annotations

import django_filters
from django.db import transaction
from django.utils.translation import gettext
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.response import Response

from common.api import ResearcherAPIMixin, is_researcher, service_errors

from .. import cloning, payments, pilots, progress, raters, sampling, screening, selectors, studies
from ..results import image_exports
from ..results.exports import leaderboard_export, votes_csv
from ..results.leaderboards import LeaderboardPending, study_leaderboard
from ..models import Rater, Study
from . import serializers

PENDING = OpenApiResponse(description="Too heavy for a request: queued as a task; ask again later (without recompute).")
CONFLICT = OpenApiResponse(description="The study's status does not allow this step; the message says why.")


class StudyFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    owner = django_filters.CharFilter(field_name="owner__username")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = Study
        fields = ["status", "name", "owner", "created_after"]


def _file_response(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class StudyViewSet(ResearcherAPIMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Studies: models x prompt set x seeds x criteria, from generation to leaderboard."""

    serializer_class = serializers.StudySerializer
    filterset_class = StudyFilter
    ordering_fields = ["created_at", "name", "status"]
    ordering = ["-created_at"]

    queryset = Study.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Study.objects.none()
        return progress.studies_visible_to(user=self.request.user).prefetch_related("job__specs", "shared_with").order_by("-created_at")

    def _transition(self, step, **kwargs):
        study = self.get_object()
        with service_errors(studies.StudyStateError):
            step(study=study, **kwargs)
        study.refresh_from_db()
        return Response({"status": study.status})

    @extend_schema(request=serializers.StudyCreateSerializer, responses={201: serializers.StudySerializer})
    def create(self, request, *args, **kwargs):
        """Create a study, owned by you; with ``start: true`` its images start generating at once."""
        form = serializers.StudyCreateSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        start = data.pop("start")
        specs = data.pop("models")
        with service_errors(studies.StudyStateError), transaction.atomic():
            study = studies.study_create(specs=specs, owner=request.user, **data)
            if start:
                studies.study_start_generation(study=study)
        return Response(serializers.StudySerializer(self.get_queryset().get(pk=study.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={202: serializers.StartSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        """Queue the generation of every missing image. A study starts once; a second start is 409."""
        study = self.get_object()
        with service_errors(studies.StudyStateError):
            batches = studies.study_start_generation(study=study)
        study.refresh_from_db()
        return Response({"status": study.status, "batches_queued": batches}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: serializers.StatusSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def open(self, request, pk=None):
        """Open the study to raters, once every image exists."""
        return self._transition(studies.study_open)

    @extend_schema(request=None, responses={200: serializers.StatusSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        """Stop serving pairs to raters (generation already queued still runs)."""
        return self._transition(studies.study_pause)

    @extend_schema(request=None, responses={200: serializers.StatusSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Back to rating if every image exists, else back to generating."""
        return self._transition(studies.study_resume)

    @extend_schema(request=None, responses={200: serializers.StatusSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Close the study for good; its votes, leaderboards and exports stay."""
        return self._transition(studies.study_close)

    @extend_schema(request=serializers.ShareSerializer, responses={200: serializers.StudySerializer})
    @action(detail=True, methods=["post"])
    def share(self, request, pk=None):
        """Share the study with other researchers (or stop, with ``remove: true``); owner and staff only."""
        study = self.get_object()
        if not (request.user.is_staff or study.owner_id == request.user.pk):
            raise exceptions.PermissionDenied("Only the study's owner and staff can change whom it is shared with.")
        form = serializers.ShareSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        with service_errors():
            if form.validated_data["remove"]:
                studies.study_unshare(study=study, users=form.validated_data["usernames"])
            else:
                studies.study_share(study=study, users=form.validated_data["usernames"])
        return Response(serializers.StudySerializer(self.get_queryset().get(pk=study.pk)).data)

    @extend_schema(responses=serializers.ProgressSerializer, filters=False)
    @action(detail=True, methods=["get"])
    def progress(self, request, pk=None):
        """Images made of total per model, comparisons per model pair against the target,
        raters active and the estimated time to finish."""
        study = self.get_object()
        return Response({**progress.study_progress(study=study), "sampling": sampling.study_sampling_state(study=study)})

    @extend_schema(request=serializers.ReopenSerializer, responses={200: serializers.StudySerializer})
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        """Serve a study that its stopping rule or vote budget stopped again, with a higher
        ``vote_budget`` (above the current one and the comparisons answered so far)."""
        study = self.get_object()
        form = serializers.ReopenSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        with service_errors():
            sampling.study_reopen(study=study, vote_budget=form.validated_data["vote_budget"])
        return Response(serializers.StudySerializer(self.get_queryset().get(pk=study.pk)).data)

    @extend_schema(parameters=[serializers.ForecastQuerySerializer], responses=serializers.ForecastSerializer, filters=False)
    @action(detail=True, methods=["get"])
    def forecast(self, request, pk=None):
        """Comparisons the study still needs (median and 90% range), simulated from its votes so
        far under its sampling and stopping rule; cost and hours from a price and a crowd size."""
        study = self.get_object()
        query = serializers.ForecastQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(sampling.study_forecast(study=study, **query.validated_data))

    # Study operations (issue 15): the rules are in ratings/cloning.py, pilots.py, screening.py.

    @extend_schema(responses=serializers.CrowdLinksSerializer, filters=False)
    @action(detail=True, methods=["get"])
    def links(self, request, pk=None):
        """The study's crowd links (Prolific, MTurk) with where each goes on its platform, and
        whether they let participants in yet. A pilot has links of its own."""
        study = self.get_object()
        problem = screening.crowd_links_problem(study=study)
        links = selectors.study_crowd_links(study=study, site=request.build_absolute_uri("/"))
        return Response({**links, "open_to_crowd": not problem, "problem": problem})

    @extend_schema(request=serializers.CloneSerializer, responses={201: serializers.StudySerializer})
    @action(detail=True, methods=["post"])
    def clone(self, request, pk=None):
        """Clone the study into a new draft that you own: models, prompt set, seeds, criteria and
        every rater-side setting; its images are reused (nothing is generated again). Never
        copied: votes, participants, status, link secrets and completion codes."""
        study = self.get_object()
        form = serializers.CloneSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        with service_errors():
            copy = cloning.study_clone(study=study, by=request.user, name=form.validated_data.get("name"))
        return Response(serializers.StudySerializer(self.get_queryset().get(pk=copy.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=serializers.PilotSerializer, responses={201: serializers.StudySerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def pilot(self, request, pk=None):
        """Start the study's pilot (owner and staff): a clone with every setting and the same
        images, with its own links, leaderboard and exports. Its votes never count in this
        study's results; they inform this study's forecast. One pilot per study."""
        study = self.get_object()
        form = serializers.PilotSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        with service_errors(studies.StudyStateError):
            pilot = pilots.study_pilot_start(study=study, by=request.user, **form.validated_data)
        return Response(serializers.StudySerializer(self.get_queryset().get(pk=pilot.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=serializers.ModelsAddSerializer, responses={200: serializers.StudySerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def models(self, request, pk=None):
        """Add models to a draft (a clone, typically); starting generation then makes only their images."""
        study = self.get_object()
        form = serializers.ModelsAddSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        with service_errors(studies.StudyStateError):
            cloning.study_models_add(study=study, specs=form.validated_data["models"])
        return Response(serializers.StudySerializer(self.get_queryset().get(pk=study.pk)).data)

    @extend_schema(responses=serializers.ScreeningSerializer, filters=False)
    @action(detail=True, methods=["get"])
    def screening(self, request, pk=None):
        """Every image of the study by prompt, seed and model, which are hidden and why, hidden
        images per model, and whether the screening was done (crowd links work only then)."""
        return Response(screening.study_screening_grid(study=self.get_object()))

    @extend_schema(request=serializers.HideSerializer, responses=serializers.HideResultSerializer)
    @action(detail=True, methods=["post"], url_path="screening/hide")
    def screening_hide(self, request, pk=None):
        """Hide images from raters (broken, offensive): their pairs are never served again. Hidden
        after opening, a pair already on a rater's screen may still be answered."""
        study = self.get_object()
        form = serializers.HideSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        with service_errors():
            result = screening.images_hide(study=study, image_ids=form.validated_data["images"], reason=form.validated_data["reason"],
                                           note=form.validated_data["note"], by=request.user)
        return Response(result)

    @extend_schema(request=serializers.ImagesSerializer, responses=serializers.UnhideResultSerializer)
    @action(detail=True, methods=["post"], url_path="screening/unhide")
    def screening_unhide(self, request, pk=None):
        """Show hidden images again: their pairs serve again (unless raters' reports retired them), and
        so do their attention checks once none of a check's images is hidden."""
        study = self.get_object()
        form = serializers.ImagesSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        with service_errors():
            result = screening.images_unhide(study=study, image_ids=form.validated_data["images"])
        return Response(result)

    @extend_schema(request=serializers.ReviewSerializer, responses={200: serializers.ScreeningStateSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"], url_path="screening/review")
    def screening_review(self, request, pk=None):
        """Record the screening as done (every image exists and was looked at), or with ``skip:
        true`` skip it on purpose (owner and staff); either is recorded with who and when, and
        opens the study to crowd links."""
        study = self.get_object()
        form = serializers.ReviewSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        with service_errors(studies.StudyStateError):
            if form.validated_data["skip"]:
                study = screening.study_images_review_skip(study=study, by=request.user)
            else:
                study = screening.study_images_reviewed(study=study, by=request.user)
        return Response(screening.screening_state(study=study))

    @extend_schema(
        parameters=[serializers.LeaderboardQuerySerializer],
        responses={200: serializers.LeaderboardSerializer, 202: PENDING},
        filters=False,
    )
    @action(detail=True, methods=["get"])
    def leaderboard(self, request, pk=None):
        """Ratings with confidence intervals per criterion and combined ("mean", over the pair
        questions named in ``mean_of``), by method (Bradley-Terry, Elo or win rate), the pairwise
        significance table, with ``by`` a leaderboard per prompt category, and per model the images
        hidden in screening. Raters flagged in this study are left out unless asked for."""
        study = self.get_object()
        query = serializers.LeaderboardQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            board = study_leaderboard(study=study, **query.validated_data)
        except LeaderboardPending as pending:
            return Response({"detail": str(pending)}, status=status.HTTP_202_ACCEPTED)
        return Response({**board, "hidden_images": screening.hidden_per_model(study=study)})

    @extend_schema(request=None, responses={202: serializers.DiversityQueuedSerializer}, filters=False)
    @action(detail=True, methods=["post"])
    def diversity(self, request, pk=None):
        """Compute the study's diversity across seeds in the background (pixels on the default queue;
        with CLIP weights on the workers, embeddings on the gpu queue); the leaderboard's
        ``automated.diversity`` shows it when done."""
        from ..results.automated import study_diversity_enqueue

        study = self.get_object()
        return Response({"detail": study_diversity_enqueue(study=study)}, status=status.HTTP_202_ACCEPTED)

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
        return _file_response(votes_csv(study=study, include_flagged=include), "text/csv", f"study-{study.pk}-votes.csv")

    @extend_schema(
        parameters=[serializers.LeaderboardExportQuerySerializer],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
        filters=False,
    )
    @action(detail=True, methods=["get"], url_path="export/leaderboard")
    def export_leaderboard(self, request, pk=None):
        """The leaderboard as a file, with its provenance (which says what "mean" averages), the
        pairwise significance table, and per model the images made and hidden in screening."""
        study = self.get_object()
        query = serializers.LeaderboardExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        options = dict(query.validated_data)
        content, content_type, filename = leaderboard_export(study=study, **options)
        return _file_response(content, content_type, filename)

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

    @extend_schema(responses=serializers.RaterRowSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"])
    def raters(self, request, pk=None):
        """The study's raters with their statistics."""
        table = raters.study_rater_table(study=self.get_object())
        page = self.paginate_queryset(table)
        return self.get_paginated_response(serializers.RaterRowSerializer(page, many=True).data)

    @extend_schema(responses=serializers.ParticipantRowSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"])
    def participants(self, request, pk=None):
        """Every participant for review and payment: crowd ids, times, active minutes, pairs,
        attention checks, self-consistency, outcome, the suggested decision (approve, reject or
        return, with the reason), staff's override and the bonus. As CSV: ``export/participants``."""
        rows = payments.study_participants(study=self.get_object())
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(serializers.ParticipantRowSerializer(page, many=True).data)

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.BINARY}, filters=False)
    @action(detail=True, methods=["get"], url_path="export/participants")
    def export_participants(self, request, pk=None):
        """The participants as CSV, one row each, the columns of ``participants``, to review
        and pay them on the crowd platform."""
        study = self.get_object()
        return _file_response(payments.participants_csv(study=study), "text/csv", f"study-{study.pk}-participants.csv")

    def _study_rater(self, rater_id) -> tuple[Study, Rater]:
        study = self.get_object()
        rater = get_object_or_404(raters.study_raters(study=study), pk=rater_id)
        return study, rater

    @extend_schema(request=serializers.FlagSerializer, responses=serializers.RaterRowSerializer)
    @action(detail=True, methods=["post"], url_path=r"raters/(?P<rater_id>[0-9]+)/flag")
    def flag_rater(self, request, pk=None, rater_id=None):
        """Flag a rater in this study (``flagged: false`` clears it): left out of this study's
        leaderboards by default; the rater still counts in their other studies."""
        study, rater = self._study_rater(rater_id)
        form = serializers.FlagSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        raters.rater_flag(study=study, rater=rater, flagged=form.validated_data["flagged"])
        return Response(self._rater_row(study, rater))

    @extend_schema(request=serializers.ExcludeSerializer, responses=serializers.RaterRowSerializer)
    @action(detail=True, methods=["post"], url_path=r"raters/(?P<rater_id>[0-9]+)/exclude")
    def exclude_rater(self, request, pk=None, rater_id=None):
        """Exclude every vote of a rater in this study (``excluded: false`` counts them again)."""
        study, rater = self._study_rater(rater_id)
        form = serializers.ExcludeSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        raters.rater_exclude(study=study, rater=rater, excluded=form.validated_data["excluded"])
        return Response(self._rater_row(study, rater))

    def _rater_row(self, study, rater) -> dict:
        row = next(row for row in raters.study_rater_table(study=study) if row["id"] == rater.pk)
        return serializers.RaterRowSerializer(row).data


class ResearcherTokenView(ObtainAuthToken):
    """Trade a researcher's username and password for their API token."""

    def post(self, request, *args, **kwargs):
        from axes.helpers import get_lockout_message

        form = self.serializer_class(data=request.data, context={"request": request})
        valid = form.is_valid()
        if getattr(request, "axes_locked_out", False) or getattr(request._request, "axes_locked_out", False):
            # django-axes: too many failed attempts for this username, right password or not.
            return Response({"detail": get_lockout_message()}, status=status.HTTP_429_TOO_MANY_REQUESTS)
        if not valid:
            raise exceptions.ValidationError(form.errors)
        user = form.validated_data["user"]
        if not is_researcher(user):
            # The same answer as a wrong password: the endpoint must not confirm a rater's password.
            raise exceptions.ValidationError({"non_field_errors": [gettext("Unable to log in with provided credentials.")]}, code="authorization")
        from rest_framework.authtoken.models import Token

        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class ForecastViewSet(ResearcherAPIMixin, viewsets.ViewSet):
    """Votes-needed forecasts for a study not created yet."""

    @extend_schema(request=serializers.ForecastCreateSerializer, responses=serializers.ForecastSerializer)
    def create(self, request):
        """Simulate a study from assumed strengths (a number of models ``elo_gap`` apart, or
        their Elo ratings per criterion) under its sampling and stopping rule: comparisons needed
        (median and 90% range), with cost and hours from a price and a crowd size."""
        form = serializers.ForecastCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return Response(sampling.forecast_design(**form.validated_data))
