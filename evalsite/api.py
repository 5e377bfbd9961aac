"""The REST API under /api/v1/, its OpenAPI schema at /api/schema/ and Swagger UI at
/api/docs/ (served from drf-spectacular-sidecar's static files: no CDN)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from evalsite.api_access import IsResearcher
from generation.api.views import ModelSpecViewSet, PromptSetViewSet
from ratings.api.views import ForecastViewSet, ResearcherTokenView, StudyViewSet

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
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]
