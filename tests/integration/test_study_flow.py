"""One study end to end on real parts: PostgreSQL, a private Redis, a real Celery worker
process generating every image with real tiny diffusers pipelines, votes through the rater
page, and the leaderboard page showing them."""

import re

import pytest

from generation.models import Image
from generation.selectors import job_progress
from ratings import raters, studies
from ratings.models import Comparison, Vote
from tests.processes import wait_for
from tests.factories import StudyFactory, UserFactory

pytestmark = pytest.mark.slow


def test_study_from_models_to_leaderboard_with_a_real_worker(celery_worker, tiny_specs, prompt_set, client):
    # No attention checks or repeats, and no minimum time: five quick votes that all count.
    study = StudyFactory(name="Integration", specs=tiny_specs, prompt_set=prompt_set, seeds=[0, 1], no_checks=True)
    queued = studies.study_start_generation(study=study)
    assert queued > 0

    def all_made():
        progress = job_progress(job=study.job)
        return progress["done"] == progress["total"] == 3 * 8 * 2

    wait_for(all_made, timeout=180, what="the worker to generate all 48 images", interval=0.5)
    assert Image.objects.count() == 48
    # Every image was made by the worker process, not in this one.
    assert "generation.generate_batch" in celery_worker.log()
    assert len(re.findall(r"Task generation\.generate_batch\[[^]]+\] succeeded", celery_worker.log())) == queued
    study.job.refresh_from_db()
    assert study.job.status == "done"
    # The finished job queued the study's diversity across seeds, which the worker computed.
    wait_for(lambda: re.search(r"Task ratings\.study_diversity_compute\[[^]]+\] succeeded", celery_worker.log()),
             timeout=60, what="the worker to compute the study's diversity", interval=0.5)

    studies.study_open(study=study)
    user = UserFactory(username="rater")
    raters.rater_invite(study=study, user=user)
    client.force_login(user)
    client.get(f"/rate/{study.pk}/")
    client.post(f"/rate/{study.pk}/consent/", {"answer": "agree"})
    client.post(f"/rate/{study.pk}/instructions/")
    for _ in range(5):
        assert client.get(f"/rate/{study.pk}/").status_code == 200
        # The pair on screen is the oldest open one; the next is already reserved for preloading.
        comparison = Comparison.objects.filter(study=study, answered_at__isnull=True).order_by("pk").first()
        left_model = comparison.image_a if comparison.left_is_a else comparison.image_b
        response = client.post(
            f"/rate/{study.pk}/vote/",
            {"token": str(comparison.token), "prompt_adherence": "left", "image_quality": "left", "response_ms": "1500"},
        )
        assert response.status_code == 302
        assert Vote.objects.get(comparison=comparison, criterion="prompt_adherence").choice == ("a" if left_model == comparison.image_a else "b")
    assert Vote.objects.count() == 10

    staff = UserFactory(username="staff", staff=True)
    client.force_login(staff)
    html = client.get(f"/studies/{study.pk}/leaderboard/?method=winrate").content.decode()
    assert "Images: 48 of 48 made" in html
    assert "Counted: 10 votes in 5 comparisons by 1 rater." in html
    # Five comparisons, two models each: every vote shows up in some model's row per criterion.
    for criterion in ("prompt_adherence", "image_quality"):
        rows = html.split(f'data-criterion="{criterion}"')[1].split("</table>")[0]
        counts = [int(n) for n in re.findall(r'<td class="votes">(\d+)</td>', rows)]
        assert sum(counts) == 10, rows
