from django.urls import path

from . import staff_views, views
from .results import views as results_views

app_name = "ratings"

urlpatterns = [
    path("livez/", views.livez, name="livez"),
    path("rate/<int:study_id>/", views.rate, name="rate"),
    path("rate/<int:study_id>/join/<str:signature>/", views.join, name="join"),
    path("rate/<int:study_id>/join/<str:signature>/mturk-status/", views.mturk_status, name="mturk_status"),
    path("rate/<int:study_id>/consent/", views.consent, name="consent"),
    path("rate/<int:study_id>/instructions/", views.instructions, name="instructions"),
    path("rate/<int:study_id>/vote/", views.vote, name="vote"),
    path("rate/<int:study_id>/report/", views.report, name="report"),
    path("rate/<int:study_id>/image/<uuid:token>/<str:side>/", views.image, name="image"),
    path("rate/<int:study_id>/image/<uuid:token>/<str:side>/<int:index>/", views.set_image, name="set_image"),
    path("rate/<int:study_id>/example/<str:kind>/", views.example_image, name="example_image"),
    path("rate/<int:study_id>/screener/", views.screener, name="screener"),
    path("rate/<int:study_id>/screener/<int:number>/<str:side>/", views.screener_image, name="screener_image"),
    path("rate/<int:study_id>/finish/", views.finish, name="finish"),
    path("rate/<int:study_id>/feedback/", views.feedback, name="feedback"),
    path("rate/<int:study_id>/withdraw/", views.withdraw, name="withdraw"),
    path("studies/<int:study_id>/leaderboard/", results_views.leaderboard, name="leaderboard"),
    path("studies/<int:study_id>/leaderboard.<str:fmt>", results_views.leaderboard_download, name="leaderboard-download"),
    path("studies/<int:study_id>/votes.csv", results_views.votes_download, name="votes-download"),
    path("studies/<int:study_id>/participants.csv", results_views.participants_download, name="participants-download"),
    path("studies/<int:study_id>/plots/<str:plot>.<str:fmt>", results_views.plot_download, name="plot"),
    path("studies/<int:study_id>/diversity/", results_views.diversity_compute, name="diversity-compute"),
    path("studies/<int:study_id>/operations/", staff_views.operations, name="operations"),
    path("studies/<int:study_id>/operations/images/<int:image_id>/", staff_views.screening_image, name="screening-image"),
    path("studies/<int:study_id>/operations/screening/", staff_views.screening_change, name="screening-change"),
    path("studies/<int:study_id>/operations/pilot/", staff_views.pilot_start, name="pilot-start"),
    path("studies/<int:study_id>/operations/clone/", staff_views.clone, name="clone"),
    path("studies/<int:study_id>/operations/models/", staff_views.models_add, name="models-add"),
]
