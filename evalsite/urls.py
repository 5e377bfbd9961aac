from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from evalsite.health import healthz
from evalsite.observability import metrics
from ratings.views.home import home

urlpatterns = [
    path("", home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("evalsite.api")),
    path("dashboard/", include("evalsite.dashboard.urls")),
    path("healthz/", healthz, name="healthz"),
    # Browsers ask for /favicon.ico on every page that names no icon (the admin, the API).
    path("favicon.ico", RedirectView.as_view(url=static("evalsite/favicon.ico"), permanent=True)),
    path("metrics", metrics, name="metrics"),
    path("", include("ratings.urls")),
]
