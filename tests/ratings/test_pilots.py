"""Pilots (ratings/pilots.py): a pilot's votes never reach the main study's leaderboard,
exports, API results or dashboard counts; it has its own; the pages say which is which; its
votes feed the main study's forecast; closing it keeps the images."""

from __future__ import annotations

import random

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from rest_framework.test import APIClient

from generation.models import Image
from ratings import forecasting, pilots, raters, studies
from ratings.models import Comparison, Study
from ratings.results.exports import votes_csv
from ratings.results.leaderboards import study_leaderboard
from tests.factories import StudyWithImagesFactory, UserFactory, vote_as

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    owner = UserFactory(username="owner")
    studies.researcher_grant(user=owner)
    return {"owner": owner, "staff": UserFactory(username="staff", superuser=True)}


def _main(make_study, owner, **settings):
    """An open study of three models x four prompts, owned by ``owner`` (``make_study`` once;
    further ones get models of their own)."""
    settings = {"attention_check_rate": 0, "repeat_share": 0, **settings}
    if Study.objects.exists():
        return StudyWithImagesFactory(specs__n=3, prompt_set__size=4, owner=owner, **settings)
    study = make_study(n_models=3, n_prompts=4, **settings)
    Study.objects.filter(pk=study.pk).update(owner=owner)
    study.refresh_from_db()
    return study


def _pilot_with_votes(study, owner, votes=8):
    pilot = pilots.study_pilot_start(study=study, by=owner, quota_per_rater=20)
    studies.study_open(study=pilot, rng=random.Random(2))
    rng = random.Random(3)
    for index in range(2):
        vote_as(pilot, raters.rater_invite(study=pilot, user=UserFactory(username=f"pilot-rater-{index}")), votes, rng)
    pilot.refresh_from_db()
    return pilot


def test_a_pilots_votes_never_count_in_the_main_results(make_study, team):
    study = _main(make_study, team["owner"])
    images = Image.objects.count()
    pilot = _pilot_with_votes(study, team["owner"])
    assert pilot.pilot_of == study and pilot.owner == study.owner and pilot.quota_per_rater == 20
    assert Image.objects.count() == images  # the main study's images, reused
    assert Comparison.objects.filter(study=pilot, answered_at__isnull=False).count() == 16

    main_board = study_leaderboard(study=study, rounds=20, recompute=True)
    pilot_board = study_leaderboard(study=pilot, rounds=20, recompute=True)
    assert main_board["provenance"]["votes"] == 0 and pilot_board["provenance"]["votes"] == 16 * 2
    main_csv, pilot_csv = votes_csv(study=study).decode(), votes_csv(study=pilot).decode()
    assert len([line for line in main_csv.splitlines() if line and not line.startswith("#")]) == 1  # the header only
    assert len([line for line in pilot_csv.splitlines() if line and not line.startswith("#")]) == 1 + 16 * 2

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {studies.researcher_grant(user=team['owner']).key}")
    assert api.get(f"/api/v1/studies/{study.pk}/leaderboard/", {"rounds": 20}).json()["provenance"]["votes"] == 0
    assert api.get(f"/api/v1/studies/{study.pk}/progress/").json()["comparisons"]["done"] == 0
    exported = api.get(f"/api/v1/studies/{study.pk}/export/votes/").content.decode()
    assert len([line for line in exported.splitlines() if line and not line.startswith("#")]) == 1
    detail = api.get(f"/api/v1/studies/{study.pk}/").json()
    assert detail["pilot"] == pilot.pk and detail["pilot_of"] is None
    assert api.get(f"/api/v1/studies/{pilot.pk}/").json()["pilot_of"] == study.pk

    staff = Client()
    staff.force_login(team["staff"])
    panel = staff.get(f"/dashboard/studies/{study.pk}/").content.decode()
    assert "id=\"comparisons-done\">0 of" in panel and "This is the MAIN study" in panel
    assert "This is the PILOT of" in staff.get(f"/dashboard/studies/{pilot.pk}/").content.decode()
    assert f"pilot of study {study.pk}" in staff.get("/dashboard/").content.decode()


def test_the_pages_say_which_is_which_and_link_each_other(make_study, team):
    study = _main(make_study, team["owner"])
    pilot = _pilot_with_votes(study, team["owner"], votes=3)
    client = Client()
    client.force_login(team["owner"])
    main_page = client.get(f"/studies/{study.pk}/leaderboard/").content.decode()
    assert "This is the MAIN study" in main_page and f"/studies/{pilot.pk}/leaderboard/" in main_page
    pilot_page = client.get(f"/studies/{pilot.pk}/leaderboard/").content.decode()
    assert "(PILOT)" in pilot_page and "never count in the main study" in pilot_page and f"/studies/{study.pk}/leaderboard/" in pilot_page
    operations = client.get(f"/studies/{pilot.pk}/operations/").content.decode()
    assert "This is the PILOT of" in operations and "screened with it" in operations


def test_the_main_studys_forecast_takes_strengths_from_the_pilot(make_study, team):
    study = _main(make_study, team["owner"], stop_when="separated", vote_budget=500)
    before = forecasting.study_forecast(study=study, runs=10)
    assert before["text"].startswith("No votes yet") and "run a pilot" in before["text"]
    _pilot_with_votes(study, team["owner"], votes=10)
    after = forecasting.study_forecast(study=study, runs=10)
    assert after["comparisons"]["median"] is not None and after["pilot_comparisons"] == 20
    assert "the pilot's 20 comparisons" in after["text"] and after["done"] == 0


def test_closing_the_pilot_keeps_its_images_and_the_main_study_runs_on(make_study, team):
    study = _main(make_study, team["owner"])
    pilot = _pilot_with_votes(study, team["owner"], votes=2)
    images = Image.objects.count()
    studies.study_close(study=pilot)
    assert Image.objects.count() == images
    vote_as(study, raters.rater_invite(study=study, user=UserFactory(username="main-rater")), 3, random.Random(9))
    assert Comparison.objects.filter(study=study, answered_at__isnull=False).count() == 3


def test_a_pilot_is_refused_where_it_makes_no_sense_and_nothing_is_written(make_study, team):
    study = _main(make_study, team["owner"])
    helper = UserFactory(username="helper")
    with pytest.raises(PermissionDenied):
        pilots.study_pilot_start(study=study, by=helper)
    pilot = pilots.study_pilot_start(study=study, by=team["staff"])
    assert pilot.status == Study.Status.GENERATING  # every image exists: ready to open
    for target, message in ((study, "already has its pilot"), (pilot, "itself a pilot")):
        with pytest.raises(studies.StudyStateError, match=message):
            pilots.study_pilot_start(study=target, by=team["staff"])
    closed = _main(make_study, team["owner"])
    studies.study_close(study=closed)
    with pytest.raises(studies.StudyStateError, match="closed"):
        pilots.study_pilot_start(study=closed, by=team["owner"])
    with pytest.raises(Exception, match="whole number"):
        pilots.study_pilot_start(study=_main(make_study, team["owner"]), by=team["owner"], quota_per_rater=0)
    assert Study.objects.filter(pilot_of__isnull=False).count() == 1


def test_a_pilot_is_screened_with_its_main_study(make_study, team):
    from ratings import screening
    from ratings.models import PairSlot

    study = _main(make_study, team["owner"], screened=False)
    pilot = pilots.study_pilot_start(study=study, by=team["owner"])
    studies.study_open(study=pilot)
    assert screening.crowd_entry_problem(study=pilot)
    image = screening.study_images(study=study).first()
    result = screening.images_hide(study=pilot, image_ids=[image.pk], reason="broken")
    assert result["pairs_retired"] == 4  # two in the main study, two in the pilot
    assert PairSlot.objects.filter(study=pilot, retired=True).count() == 2
    with pytest.raises(studies.StudyStateError, match="screened with its main study"):
        screening.study_images_reviewed(study=pilot, by=team["owner"])
    screening.study_images_reviewed(study=study, by=team["owner"])
    assert screening.crowd_entry_problem(study=pilot) == ""


def test_staff_and_the_owner_start_a_pilot_from_the_operations_page(make_study, team):
    study = _main(make_study, team["owner"])
    client = Client()
    client.force_login(team["owner"])
    response = client.post(f"/studies/{study.pk}/operations/pilot/", {"quota_per_rater": "abc"}, follow=True)
    assert "No pilot was started" in response.content.decode() and not Study.objects.filter(pilot_of=study).exists()
    response = client.post(f"/studies/{study.pk}/operations/pilot/", {"quota_per_rater": "5"}, follow=True)
    assert "This is the PILOT of" in response.content.decode()
    assert Study.objects.get(pilot_of=study).quota_per_rater == 5
