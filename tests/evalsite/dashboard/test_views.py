"""The staff dashboard through Django's test client: who gets in, what the index and a study page
show, the panel fragment."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from ratings.models import Rater
from tests.factories import UserFactory


@pytest.fixture
def staff_client(client, db):
    client.force_login(UserFactory(username="staff", staff=True))
    return client


def test_dashboard_is_for_staff_only(client, rated_study):
    for url in ["/dashboard/", f"/dashboard/studies/{rated_study.pk}/", f"/dashboard/studies/{rated_study.pk}/panel/"]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), url
        client.force_login(get_user_model().objects.get(username="rater-1"))
        assert client.get(url).status_code == 302
        client.force_login(get_user_model().objects.get(username="ada"))  # a researcher, not staff
        assert client.get(url).status_code == 302
        client.logout()


def test_index_lists_studies_with_progress(staff_client, rated_study):
    html = staff_client.get("/dashboard/").content.decode()
    assert f'href="/dashboard/studies/{rated_study.pk}/"' in html
    assert "12 / 12" in html and "Open for rating" in html
    assert "No broker configured" in html


def test_study_page_shows_progress_raters_leaderboard_charts_and_media(staff_client, rated_study):
    response = staff_client.get(f"/dashboard/studies/{rated_study.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "12 of 12</strong> images made (100%)" in html
    assert '12 of 24</strong> comparisons (<span id="comparisons-target">target: 2 comparisons per pair slot</span>) · 24 votes · <span id="raters-active">2 raters active in the last 15 minutes</span>' in html
    assert "time left: 1 h 0 min" in html
    assert "No broker configured: tasks run inside the web process" in html
    raters = re.search(r'<table id="raters">(.*?)</table>', html, re.S).group(1)
    assert raters.count("<tr") == 3 and "rater-1" in raters and "rater-2" in raters
    assert "<td>4.0</td>" in raters  # median seconds per pair
    board = re.search(r'<table id="leaderboard">(.*?)</table>', html, re.S).group(1)
    for name in ("midjourney-v6", "dall-e-3", "ideogram-2"):  # models by slug, as in every result
        assert f"<td>{name}</td><td>mean</td>" in board
    assert html.count("<svg") == 3  # votes per hour, intervals, rating against speed
    # The hourly chart is drawn at its own size, its labels 12 px, every third hour named (issue 26).
    chart = re.search(r'<svg[^>]*class="chart votes-per-hour"[^>]*>.*?</svg>', html, re.S).group(0)
    assert 'width="560"' in chart
    ticks = re.findall(r'<text[^>]*font-size="(\d+)"[^>]*class="tick">(\d\d:00)</text>', chart)
    assert len(ticks) == 8 and {size for size, _ in ticks} == {"12"}
    assert "No rated model with a measured speed yet." not in html
    assert "Median seconds per image: dall-e-3 12.000 · ideogram-2 6.000 · midjourney-v6 9.000" in html
    assert re.search(r'id="media">\d+(\.\d)? (bytes|KB)<', html)
    assert 'src="/static/evalsite/dashboard.js"' in html
    assert "No pair reported." in html or '<table id="reported">' in html
    # Nothing on the page comes from another site.
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_panel_fragment_follows_new_votes_and_flags(staff_client, rated_study):
    rater = Rater.objects.get(user__username="rater-2")
    from ratings import rater_flags

    rater_flags.rater_flag(study=rated_study, rater=rater)
    html = staff_client.get(f"/dashboard/studies/{rated_study.pk}/panel/").content.decode()
    assert "<html" not in html
    assert '<tr class="flagged"><td><a href="/admin/ratings/rater/%d/change/">rater-2</a>' % rater.pk in html


def test_the_panel_names_the_set_criteria_and_counts_set_comparisons_in_the_target(staff_client, make_study):
    study = make_study(n_models=2, n_prompts=3, seeds=(1, 2), set_criteria=["diversity"], votes_per_pair=2)
    html = staff_client.get(f"/dashboard/studies/{study.pk}/panel/").content.decode()
    assert "prompt_adherence, image_quality on pairs; diversity on sets" in html
    # 3 prompts x (2 seeds + 1 set) x 1 model pair x 2 votes.
    assert re.search(r'id="comparisons-done">0 of 18<', html)


def test_raters_who_finished_are_not_active_now(staff_client, rated_study):
    from django.utils import timezone

    from ratings.models import Participation

    Participation.objects.filter(study=rated_study, rater__user__username="rater-2").update(finished_at=timezone.now())
    html = staff_client.get(f"/dashboard/studies/{rated_study.pk}/panel/").content.decode()
    assert '<span id="raters-active">1 rater active in the last 15 minutes</span>' in html
