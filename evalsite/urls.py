from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from evalsite.health import healthz
from evalsite.observability import metrics
from ratings import views as ratings_views

urlpatterns = [
    path("", ratings_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("evalsite.api")),
    path("dashboard/", include("evalsite.dashboard.urls")),
    path("healthz/", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("", include("ratings.urls")),
]
