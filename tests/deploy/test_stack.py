"""The stack is started, not only parsed: docker-compose.yml's services run as processes with
their own commands and environment (migrate, gunicorn with gunicorn.conf.py, a CPU worker, a GPU
worker on the CPU, beat and Flower), a small study goes through them, and the healthchecks and
metrics answer as an operator's probes would."""

from __future__ import annotations

import json
import re
import time
from types import SimpleNamespace

import pytest
import requests

from tests.processes import RedisServer, wait_for
from tests.deploy.stack import Stack, drop_database, fresh_database
from tests.reliability.http_rater import HttpRater

pytestmark = pytest.mark.slow


class LinkRater(HttpRater):
    """A crowd rater arriving through the study's signed link (the stack signs with its own key)."""

    def start_from(self, link: str) -> None:
        self.http.get(self.url(link.replace("{{%PROLIFIC_PID%}}", self.pid).replace("{{%STUDY_ID%}}", "S").replace("{{%SESSION_ID%}}", "s1")), timeout=30)
        for step, data in (("consent", {"answer": "agree"}), ("instructions", {})):
            self.http.post(self.url(f"/rate/{self.study.pk}/{step}/"), data={**data, "csrfmiddlewaretoken": self.csrf()}, timeout=30)
        self.open()


def up(url: str, **kwargs) -> bool:
    try:
        return requests.get(url, timeout=10, **kwargs).status_code == 200
    except requests.RequestException:  # refused while starting, or slow while its workers boot
        return False


def metric(body: str, name: str, **labels) -> float:
    """The value of one sample in Prometheus' text format (0 when absent)."""
    total = 0.0
    for line in body.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture
def stack(tmp_path, worker_db_base_url):
    redis_server = RedisServer(tmp_path / "redis").start()
    database_url = fresh_database(worker_db_base_url)
    stack = Stack(data_dir=tmp_path / "data", database_url=database_url, redis_url=redis_server.url)
    try:
        yield stack
    finally:
        stack.stop()
        redis_server.stop()
        drop_database(database_url)


@pytest.fixture
def worker_db_base_url(django_db_blocker):
    from django.db import connection

    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/postgres"


def test_the_compose_services_run_a_study_and_answer_their_healthchecks_and_metrics(stack):
    started = time.monotonic()
    migrate = stack.run("migrate")
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    made = stack.manage("make_tiny_models")
    assert made.returncode == 0, made.stderr[-3000:]
    researcher = stack.manage("create_researcher", "ada", "--password", "pw-ada-12345")
    token = re.search(r"Token: (\w+)", researcher.stdout).group(1)

    for service in ["web", "worker", "gpu-worker", "beat", "flower"]:
        stack.start(service)
    wait_for(lambda: up(f"{stack.web_url}/healthz/"), 60, f"gunicorn (log: {stack.logs / 'web.log'})", interval=0.3)
    for service in ["worker", "gpu-worker"]:
        wait_for(lambda: "ready." in stack.log(service), 90, f"the {service} (log: {stack.logs / service}.log)", interval=0.3)

    # A researcher's small study through the API: 2 tiny models x 2 prompts x 1 seed.
    api = requests.Session()
    api.headers["Authorization"] = f"Token {token}"
    prompts = api.post(f"{stack.web_url}/api/v1/prompt-sets/", data={"name": "Two"},
                       files={"file": ("two.txt", b"a red cube on a table\na cat on a sofa\n")}, timeout=30)
    assert prompts.status_code == 201, prompts.text
    study = api.post(f"{stack.web_url}/api/v1/studies/", json={
        "name": "Stack check", "models": ["tiny-turbo-1step", "tiny-lcm-4step"], "prompt_set": prompts.json()["prompt_set"]["id"],
        "seeds": [0], "votes_per_pair": 1, "display_size": 64, "start": True,
    }, timeout=30)
    assert study.status_code == 201, study.text
    study_id = study.json()["id"]

    def images_done():
        progress = api.get(f"{stack.web_url}/api/v1/studies/{study_id}/progress/", timeout=30).json()
        return progress["images"]["done"] == progress["images"]["total"] == 4 and progress

    wait_for(images_done, 120, f"the GPU worker to make 4 images (log: {stack.logs / 'gpu-worker.log'})", interval=0.5)
    # Crowd links work once the images were screened (here: looked at, none hidden).
    assert api.post(f"{stack.web_url}/api/v1/studies/{study_id}/screening/review/", json={}, timeout=30).ok
    assert api.post(f"{stack.web_url}/api/v1/studies/{study_id}/open/", timeout=30).ok

    # A crowd rater answers both comparisons through gunicorn.
    plain = stack.manage("shell", "-c", (
        "from ratings.models import Study; from ratings import selectors; "
        f"Study.objects.filter(pk={study_id}).update(attention_check_rate=0, repeat_share=0, min_seconds_per_vote=0); "
        f"print(selectors.study_links(study=Study.objects.get(pk={study_id}))['prolific'])"
    ))
    assert plain.returncode == 0, plain.stderr[-2000:]
    link = plain.stdout.strip().splitlines()[-1]
    rater = LinkRater(stack.web_url, SimpleNamespace(pk=study_id, criteria=["prompt_adherence", "image_quality"]), pid="P1")
    rater.start_from(link)
    votes = 0
    while rater.token and votes < 4:
        for side in ("left", "right"):
            image = rater.http.get(rater.url(rater.state["pairs"][0][side]), timeout=30)
            assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
        answer = rater.post_vote(rater.vote_body())
        assert answer.status_code == 200, answer.text
        votes += 1
        rater.state = answer.json() if "pairs" in answer.json() else {}
        if not rater.token:
            rater.open()
    assert votes == 2

    # The probes: the web's healthcheck, Flower's (behind its password), the metrics.
    assert requests.get(f"{stack.web_url}/healthz/", timeout=10).json() == {"database": "ok"}
    wait_for(lambda: up(f"{stack.flower_url}/healthcheck"), 60, f"Flower (log: {stack.logs / 'flower.log'})", interval=0.5)
    assert requests.get(f"{stack.flower_url}/", timeout=10).status_code == 401, "Flower asks for its password"
    user, password = stack.dotenv["FLOWER_BASIC_AUTH"].split(":", 1)
    assert requests.get(f"{stack.flower_url}/workers", auth=(user, password), timeout=10).status_code == 200
    web_metrics = requests.get(f"{stack.web_url}/metrics", timeout=10)
    assert web_metrics.status_code == 200
    assert metric(web_metrics.text, "evalsite_votes_submitted_total") == 2
    assert metric(web_metrics.text, "django_http_requests_latency_seconds_by_view_method_count", view="ratings:vote") == 2
    assert requests.get(f"{stack.web_url}/metrics", headers={"X-Forwarded-For": "198.51.100.7"}, timeout=10).status_code == 404
    gpu_metrics = requests.get(f"http://127.0.0.1:{stack.ports['gpu-worker']}/metrics", timeout=10).text
    assert metric(gpu_metrics, "evalsite_images_generated_total", spec="tiny-turbo-1step", device="cpu") == 2
    assert metric(gpu_metrics, "evalsite_images_generated_total", spec="tiny-lcm-4step", device="cpu") == 2
    assert metric(gpu_metrics, "evalsite_seconds_per_image_count", spec="tiny-lcm-4step", device="cpu") >= 1
    assert metric(gpu_metrics, "evalsite_queue_wait_seconds_count") >= 1
    assert 'evalsite_queue_depth{queue="gpu"} 0.0' in gpu_metrics
    # Beat is up and sent its periodic tasks; every log line of the workers is JSON.
    assert stack.processes["beat"].poll() is None, stack.log("beat")[-2000:]
    for service in ["worker", "gpu-worker"]:
        lines = [line for line in stack.log(service).splitlines() if line.startswith("{")]
        assert lines and all("request_id" in json.loads(line) for line in lines), service
    print(f"stack test: {time.monotonic() - started:.0f} s")
