from django.urls import path

from . import results, views

app_name = "ratings"

urlpatterns = [
    path("rate/<int:study_id>/", views.rate, name="rate"),
    path("rate/<int:study_id>/vote/", views.vote, name="vote"),
    path("rate/<int:study_id>/image/<uuid:public_id>/", views.image, name="image"),
    path("studies/<int:study_id>/leaderboard/", results.leaderboard, name="leaderboard"),
    path("studies/<int:study_id>/leaderboard.<str:fmt>", results.leaderboard_download, name="leaderboard-download"),
    path("studies/<int:study_id>/votes.csv", results.votes_download, name="votes-download"),
    path("studies/<int:study_id>/plots/<str:plot>.<str:fmt>", results.plot_download, name="plot"),
]
