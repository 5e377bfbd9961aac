"""The studies API's view sets, one module per resource beside its serializers: ``studies``
(create, start, open, pause, resume, close, share), ``progress`` (and reopening), ``forecasts``,
``operations`` (links, clone, pilot, models), ``screening``, ``leaderboards``, ``exports`` (votes,
leaderboard, images, plots, report), ``participants`` (raters, payment review, moderation) and
``tokens``. Every study action hangs under /api/v1/studies/<id>/ of the one ``StudyViewSet``."""

from __future__ import annotations

from rest_framework import mixins, viewsets

from common.api import ResearcherAPIMixin

from .. import progress
from ..models import Study
from .exports import ExportActions
from .forecasts import ForecastActions, ForecastViewSet
from .leaderboards import LeaderboardActions
from .operations import OperationActions
from .participants import ParticipantActions
from .progress import ProgressActions
from .screening import ScreeningActions
from .studies import StudyActions, StudyFilter, StudySerializer
from .tokens import ResearcherTokenView

__all__ = ["ForecastViewSet", "ResearcherTokenView", "StudyViewSet"]


class StudyViewSet(
    StudyActions, ProgressActions, ForecastActions, OperationActions, ScreeningActions, LeaderboardActions, ExportActions,
    ParticipantActions, ResearcherAPIMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet,
):
    """Studies: models x prompt set x seeds x criteria, from generation to leaderboard."""

    serializer_class = StudySerializer
    filterset_class = StudyFilter
    ordering_fields = ["created_at", "name", "status"]
    ordering = ["-created_at"]

    queryset = Study.objects.none()  # for the schema; requests use get_queryset

    # Actions whose work is more than a read, each with its per-user rate (common.api.ResearcherThrottle).
    THROTTLE_SCOPES = {
        "forecast": "forecast", "diversity": "diversity", "export_votes": "export", "export_leaderboard": "export",
        "export_images": "export", "export_participants": "export", "report": "export", "plot": "export",
    }

    @property
    def throttle_scope(self) -> str | None:
        if getattr(self, "action", None) == "leaderboard":
            recompute = str(self.request.query_params.get("recompute", "")).lower() in ("true", "1", "yes", "on")
            return "leaderboard_recompute" if recompute else None
        return self.THROTTLE_SCOPES.get(getattr(self, "action", None))

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Study.objects.none()
        return progress.studies_visible_to(user=self.request.user).prefetch_related("job__specs", "shared_with").order_by("-created_at")
