"""The broker's Redis is restarted, empty, in the middle of a study: queued generation batches
lose their messages, yet a real Celery worker with beat finishes the job because the periodic
reconciliation re-queues the missing images; and raters vote through a gunicorn whose cache and
broker are that Redis while it is down, losing nothing (votes live in PostgreSQL)."""

from __future__ import annotations

import pytest
from django.conf import settings

from generation import jobs, specs
from generation.models import GenerationBatch, Image
from generation.selectors import job_progress
from ratings.models import Vote
from tests.conftest import tasks_sent_to, worker_database_url
from tests.generation.crash import FAST_RECOVERY
from tests.processes import CeleryWorker, GunicornServer, RedisServer, wait_for
from tests.reliability.http_rater import HttpRater

pytestmark = pytest.mark.slow


@pytest.fixture
def private_redis(tmp_path):
    servers = [RedisServer(tmp_path / "redis").start()]

    def restart() -> RedisServer:
        """Stop the server and start an empty one on the same port."""
        servers[-1].stop()
        fresh = RedisServer(tmp_path / "redis")
        fresh.port = servers[0].port
        servers.append(fresh.start())
        return fresh

    yield servers[0], restart
    servers[-1].stop()


def test_redis_restart_mid_study_loses_no_image_and_no_vote(transactional_db, private_redis, tiny_specs, prompt_set, make_study, artifacts_dir, tmp_path, request):
    redis_server, restart = private_redis
    name = request.node.name
    study = make_study(n_models=3, n_prompts=6, votes_per_pair=3, attention_check_rate=0, repeat_share=0)
    web = GunicornServer(
        env={"DATABASE_URL": worker_database_url(), "EVALSITE_DATA_DIR": str(settings.DATA_DIR), "REDIS_URL": redis_server.url},
        log_path=artifacts_dir / "logs" / f"gunicorn-{name}.log", threads=2,
    ).start()
    worker = None
    try:
        rater = HttpRater(web.url, study, "redis1")
        rater.start()
        assert rater.token
        baseline = next(s for s in tiny_specs if s.steps == 25)
        slow = specs.model_spec_update(spec=baseline, height=128, width=128)
        job = jobs.job_create(specs=[slow], prompt_set=prompt_set, seeds=[0], display_size=64)
        with tasks_sent_to(redis_server.url):
            worker = CeleryWorker(
                broker_url=redis_server.url, database_url=worker_database_url(), data_dir=str(settings.DATA_DIR),
                log_path=artifacts_dir / "logs" / f"celery-{name}.log", extra_env=FAST_RECOVERY,
                extra_args=("-B", "--schedule", str(tmp_path / "beat-schedule")),
            ).start()
            assert jobs.job_enqueue(job=job, batch_size=1) == 8
            wait_for(lambda: GenerationBatch.objects.filter(job=job, status="done").exists(), 180, "the first batch to finish", interval=0.1)
            redis_server.stop()
            queued = GenerationBatch.objects.filter(job=job, status="queued").count()
            assert queued >= 3, f"only {queued} batches were still queued when Redis stopped"

            # Redis is down: votes still go through, and are in PostgreSQL.
            recorded = 0
            for _ in range(3):
                response = rater.post_vote(rater.vote_body())
                assert response.status_code == 200, response.text[:500]
                payload = response.json()
                assert payload["status"] == "recorded", payload
                rater.state = payload
                recorded += 1

            restart()

            def all_made():
                progress = job_progress(job=job)
                return progress["done"] == progress["total"] == 8

            wait_for(all_made, timeout=180, what="all 8 images after the Redis restart", interval=0.5)
        rows = list(Image.objects.filter(spec=slow).values_list("prompt_id", "seed"))
        assert len(rows) == len(set(rows)) == 8, "an image was made twice"
        response = rater.post_vote(rater.vote_body())
        assert response.status_code == 200 and response.json()["status"] == "recorded"
        assert Vote.objects.filter(comparison__study=study).count() == (recorded + 1) * len(study.criteria)
    finally:
        if worker:
            worker.stop()
        web.stop()
