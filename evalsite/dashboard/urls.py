from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.index, name="index"),
    path("studies/<int:study_id>/", views.study_page, name="study"),
    path("studies/<int:study_id>/panel/", views.study_panel, name="panel"),
]
