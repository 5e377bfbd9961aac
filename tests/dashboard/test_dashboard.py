"""The staff dashboard through Django's test client: who gets in, what a study page shows, and
the queue and worker state read from a real (private) Redis."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from evalsite.dashboard import broker, charts
from ratings.models import Rater
from tests.api.conftest import rated_study, four_prompts, researcher  # noqa: F401  (fixtures)
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
    assert "12 of 24</strong> comparisons · 24 votes · 2 raters active" in html
    assert "time left: 1 h 0 min" in html
    assert "No broker configured: tasks run inside the web process" in html
    raters = re.search(r'<table id="raters">(.*?)</table>', html, re.S).group(1)
    assert raters.count("<tr") == 3 and "rater-1" in raters and "rater-2" in raters
    assert "<td>4.0</td>" in raters  # median seconds per pair
    board = re.search(r'<table id="leaderboard">(.*?)</table>', html, re.S).group(1)
    for name in ("midjourney-v6", "dall-e-3", "ideogram-2"):  # models by slug, as in every result
        assert f"<td>{name}</td><td>mean</td>" in board
    assert html.count("<svg") == 3  # votes per hour, intervals, rating against speed
    assert "No rated model with a measured speed yet." not in html
    assert "Median seconds per image: dall-e-3 12.000 · ideogram-2 6.000 · midjourney-v6 9.000" in html
    assert re.search(r'id="media">\d+(\.\d)? (bytes|KB)<', html)
    assert 'src="/static/evalsite/dashboard.js"' in html
    assert "No pair reported." in html or '<table id="reported">' in html
    # Nothing on the page comes from another site.
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_panel_fragment_follows_new_votes_and_flags(staff_client, rated_study):
    rater = Rater.objects.get(user__username="rater-2")
    from ratings import raters

    raters.rater_flag(study=rated_study, rater=rater)
    html = staff_client.get(f"/dashboard/studies/{rated_study.pk}/panel/").content.decode()
    assert "<html" not in html
    assert '<tr class="flagged"><td><a href="/admin/ratings/rater/%d/change/">rater-2</a>' % rater.pk in html


def test_broker_status_reads_queue_depth_from_redis_and_reports_no_worker(redis_server, settings):
    import redis

    from evalsite.celery import app
    from tests.conftest import reset_broker_connections

    client = redis.Redis.from_url(redis_server.url)
    client.delete("gpu", "default")
    client.rpush("gpu", "a", "b", "c")
    previous = (app.conf.broker_url, app.conf.task_always_eager)
    app.conf.broker_url, app.conf.task_always_eager = redis_server.url, False
    reset_broker_connections(app)
    try:
        status = broker.broker_status(timeout=0.3)
    finally:
        app.conf.broker_url, app.conf.task_always_eager = previous
        reset_broker_connections(app)
        client.delete("gpu")
    assert status["configured"] is True
    assert status["queues"] == {"gpu": 3, "default": 0}
    assert status["workers"] == [] and status["message"] == "No worker answered within 0.3 s."


def test_broker_status_says_when_redis_does_not_answer():
    from evalsite.celery import app
    from tests.processes import free_port

    previous = (app.conf.broker_url, app.conf.task_always_eager)
    app.conf.broker_url, app.conf.task_always_eager = f"redis://:secret@127.0.0.1:{free_port()}/0", False
    try:
        status = broker.broker_status(timeout=0.2)
    finally:
        app.conf.broker_url, app.conf.task_always_eager = previous
    assert status["configured"] is True and status["queues"] == {}
    assert status["message"].startswith("The broker at 127.0.0.1:") and "secret" not in status["message"]


@pytest.mark.slow
def test_broker_status_lists_a_live_worker(celery_worker):
    status = broker.broker_status(timeout=2.0)
    assert status["configured"] and len(status["workers"]) == 1
    assert status["workers"][0].startswith("test-")


def test_charts_escape_labels_and_place_points_in_order():
    rows = [
        {"model": "<b>a</b>", "criterion": "image_quality", "rating": 1100.0, "ci_low": 1050.0, "ci_high": 1150.0},
        {"model": "b", "criterion": "image_quality", "rating": 900.0, "ci_low": 850.0, "ci_high": 950.0},
    ]
    svg = charts.interval_chart(rows)
    assert "<b>" not in svg and "&lt;b&gt;a&lt;/b&gt;" in svg
    centres = [float(x) for x in re.findall(r'<circle cx="([\d.]+)"', svg)]
    assert centres[0] > centres[1]
    speed = charts.speed_chart([{"model": "fast", "rating": 1.0, "seconds": 0.1}, {"model": "slow", "rating": 2.0, "seconds": 10.0}])
    (fx, fy), (sx, sy) = [(float(a), float(b)) for a, b in re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)"', speed)]
    assert fx < sx and fy > sy  # slower is further right; higher rating is higher up (smaller y)
    assert "No votes yet." in charts.interval_chart([])


def test_healthz_answers_when_the_database_does(client, db):
    assert client.get("/healthz/").json() == {"database": "ok"}


def test_the_panel_names_the_set_criteria_and_counts_set_comparisons_in_the_target(staff_client, make_study):
    study = make_study(n_models=2, n_prompts=3, seeds=(1, 2), set_criteria=["diversity"], votes_per_pair=2)
    html = staff_client.get(f"/dashboard/studies/{study.pk}/panel/").content.decode()
    assert "prompt_adherence, image_quality on pairs; diversity on sets" in html
    # 3 prompts x (2 seeds + 1 set) x 1 model pair x 2 votes.
    assert re.search(r'id="comparisons-done">0 of 18<', html)
