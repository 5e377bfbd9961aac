from django.urls import path

from . import views

app_name = "ratings"

urlpatterns = [
    path("rate/<int:study_id>/", views.rate, name="rate"),
    path("rate/<int:study_id>/vote/", views.vote, name="vote"),
    path("rate/<int:study_id>/image/<uuid:public_id>/", views.image, name="image"),
    path("studies/<int:study_id>/leaderboard/", views.leaderboard, name="leaderboard"),
]
