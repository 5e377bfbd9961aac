"""The REST API under /api/v1/, its OpenAPI schema at /api/schema/ and Swagger UI at
/api/docs/ (served from drf-spectacular-sidecar's static files: no CDN; its start-up script
is a file too, `/api/docs/?script`, as the Content-Security-Policy allows no inline script).
A browser opening /api/schema/ sees the YAML as text."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from common.api import IsResearcher
from generation.api.views import ModelSpecViewSet, PromptSetViewSet
from ratings.api.views import ForecastViewSet, ResearcherTokenView, StudyViewSet

class SchemaView(SpectacularAPIView):
    """The schema; a browser opening the address reads it as text instead of downloading a
    file (``application/vnd.oai.openapi`` is a type no browser displays)."""

    def dispatch(self, request, *args, **kwargs):
        response = super().dispatch(request, *args, **kwargs)
        wants_page = "text/html" in request.headers.get("Accept", "") and "format" not in request.GET
        if wants_page and response.status_code == 200 and hasattr(response, "render"):
            response.render()
            if response.get("Content-Type", "").startswith("application/vnd.oai.openapi"):
                response["Content-Type"] = "text/plain; charset=utf-8"
                response.headers.pop("Content-Disposition", None)
        return response


class ResearcherRouter(DefaultRouter):
    """The default router, whose root page (a list of the endpoints) is for researchers too."""

    class APIRootView(DefaultRouter.APIRootView):
        permission_classes = [IsResearcher]


router = ResearcherRouter()
router.register("specs", ModelSpecViewSet, basename="spec")
router.register("prompt-sets", PromptSetViewSet, basename="prompt-set")
router.register("studies", StudyViewSet, basename="study")
router.register("forecasts", ForecastViewSet, basename="forecast")

urlpatterns = [
    path("api/v1/auth/token/", ResearcherTokenView.as_view(), name="api-token"),
    path("api/v1/", include((router.urls, "api"), namespace="api")),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
]
