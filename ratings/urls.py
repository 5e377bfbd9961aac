from django.urls import path

from . import staff_views
from .results import views as results_views
from .views import home, images, links, session, voting

app_name = "ratings"

urlpatterns = [
    path("livez/", home.livez, name="livez"),
    path("rate/<int:study_id>/", session.rate, name="rate"),
    path("rate/<int:study_id>/join/<str:signature>/", links.join, name="join"),
    path("rate/<int:study_id>/join/<str:signature>/mturk-status/", links.mturk_status, name="mturk_status"),
    path("rate/<int:study_id>/consent/", session.consent, name="consent"),
    path("rate/<int:study_id>/instructions/", session.instructions, name="instructions"),
    path("rate/<int:study_id>/vote/", voting.vote, name="vote"),
    path("rate/<int:study_id>/report/", voting.report, name="report"),
    path("rate/<int:study_id>/image/<uuid:token>/<str:side>/", images.image, name="image"),
    path("rate/<int:study_id>/image/<uuid:token>/<str:side>/<int:index>/", images.set_image, name="set_image"),
    path("rate/<int:study_id>/example/<str:kind>/", images.example_image, name="example_image"),
    path("rate/<int:study_id>/screener/", session.screener, name="screener"),
    path("rate/<int:study_id>/screener/<int:number>/<str:side>/", images.screener_image, name="screener_image"),
    path("rate/<int:study_id>/finish/", session.finish, name="finish"),
    path("rate/<int:study_id>/feedback/", session.feedback, name="feedback"),
    path("rate/<int:study_id>/withdraw/", session.withdraw, name="withdraw"),
    path("studies/<int:study_id>/leaderboard/", results_views.leaderboard, name="leaderboard"),
    path("studies/<int:study_id>/leaderboard.<str:fmt>", results_views.leaderboard_download, name="leaderboard-download"),
    path("studies/<int:study_id>/votes.csv", results_views.votes_download, name="votes-download"),
    path("studies/<int:study_id>/participants.csv", results_views.participants_download, name="participants-download"),
    path("studies/<int:study_id>/plots/<str:plot>.<str:fmt>", results_views.plot_download, name="plot"),
    path("studies/<int:study_id>/report.<str:fmt>", results_views.report_download, name="report"),
    path("studies/<int:study_id>/diversity/", results_views.diversity_compute, name="diversity-compute"),
    path("studies/<int:study_id>/operations/", staff_views.operations, name="operations"),
    path("studies/<int:study_id>/operations/images/<int:image_id>/", staff_views.screening_image, name="screening-image"),
    path("studies/<int:study_id>/operations/screening/", staff_views.screening_change, name="screening-change"),
    path("studies/<int:study_id>/operations/reports/", staff_views.reports_restore, name="reports-restore"),
    path("studies/<int:study_id>/operations/pilot/", staff_views.pilot_start, name="pilot-start"),
    path("studies/<int:study_id>/operations/clone/", staff_views.clone, name="clone"),
    path("studies/<int:study_id>/operations/models/", staff_views.models_add, name="models-add"),
    path("studies/<int:study_id>/operations/reopen/", staff_views.reopen, name="reopen"),
]
