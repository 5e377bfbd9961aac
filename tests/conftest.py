"""Fixtures shared by the whole suite: tiny pipelines built once per session, real Redis and
Celery worker processes, and the common rows (made by tests/factories.py)."""

from __future__ import annotations

import contextlib
import gc
import os
import random
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from ratings import raters, studies

from tests import openapi
from tests.factories import EXTERNAL_SYSTEMS, PromptSetFactory, StudyFactory, UserFactory, external_images_zip, token_client, vote_as
from tests.processes import CeleryWorker, RedisServer


def pytest_runtest_setup(item):
    """Before each test: collect the last test's garbage, then freeze what is left (torch,
    diffusers, Django and the session's fixtures) out of the cyclic collector, whose full passes
    over that heap made ORM-heavy tests late in the suite 20-30% slower (measured: the decided
    adaptive-weights test 25 s after the generation tests, 19-21 s frozen). Objects still free
    by reference counting as before; only cycles through frozen objects are never collected."""
    gc.collect()
    gc.freeze()


@pytest.fixture(scope="session", autouse=True)
def api_responses_match_the_schema():
    """Every /api/v1/ response a test client receives is checked against evalsite/openapi.yaml."""
    from django.test import Client

    openapi.install(Client)


ARTIFACTS = Path(os.environ.get("EVALSITE_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def tiny_weights() -> dict[str, Path]:
    """The tiny model family's pipelines, written to disk once per test session."""
    from generation import tiny

    return tiny.write_tiny_family(settings.EVALSITE_MODELS_DIR / "tiny")


@pytest.fixture
def tiny_specs(db, tiny_weights):
    """The tiny family's specs, installed by the real service (weights on disk, unlike ModelSpecFactory's)."""
    from generation.specs import tiny_family_install

    return tiny_family_install(directory=settings.EVALSITE_MODELS_DIR / "tiny")


@pytest.fixture
def prompt_set(db):
    from tests.factories import PromptSetFactory

    return PromptSetFactory(
        name="Eight prompts", size=8, text="test prompt number {i}: a small red cube",
        fields={"category": "Artifacts", "challenge": "Basic"},
    )


#: The fast study's models: distinctive names, slugs and weights, so a blinding scan can look for them.
MODEL_NAMES = ["Zephyrturbo Alpha", "Quillbase Beta", "Nimbuslcm Gamma", "Orchidxl Delta"]


@pytest.fixture
def make_study(db):
    """make_study(n_models=3, n_prompts=6, seeds=(0,), **study settings) -> an open study whose
    images are real files made in the test (no diffusers): the rater side's fast study."""
    from tests.factories import ModelSpecFactory, PromptSetFactory, StudyWithImagesFactory

    def make(*, n_models: int = 3, n_prompts: int = 6, seeds=(0,), display_size: int = 64, open_study: bool = True, **settings):
        return StudyWithImagesFactory(
            name="Rater study", specs=[ModelSpecFactory(name=name, steps=i + 1) for i, name in enumerate(MODEL_NAMES[:n_models])],
            prompt_set=PromptSetFactory(name="Rater prompts", size=n_prompts), seeds=seeds, display_size=display_size,
            opened=open_study, **settings,
        )

    return make


@pytest.fixture(params=["sql", "python"])
def hot_path(request, settings):
    """Run a test on both implementations of vote-and-serve: the PL/pgSQL function and the ORM."""
    settings.RATINGS_SQL_HOT_PATH = request.param == "sql"
    return request.param


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def celery_worker(transactional_db, redis_server, artifacts_dir, request):
    """A real ``celery worker`` process on the test database and a private Redis; the test
    process sends tasks to that broker instead of running them in-process."""
    with tasks_sent_to(redis_server.url):
        worker = CeleryWorker(
            broker_url=redis_server.url,
            database_url=worker_database_url(),
            data_dir=str(settings.DATA_DIR),
            log_path=artifacts_dir / "logs" / f"celery-{request.node.name}.log",
        ).start()
        yield worker
        worker.stop()


def worker_database_url() -> str:
    """The URL of the test database, for processes the tests start."""
    from django.db import connection

    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@contextlib.contextmanager
def tasks_sent_to(broker_url: str):
    """Within the block, this process sends tasks to ``broker_url`` instead of running them."""
    from evalsite.celery import app

    previous = (app.conf.broker_url, app.conf.task_always_eager)
    app.conf.broker_url = broker_url
    app.conf.task_always_eager = False
    reset_broker_connections(app)
    try:
        yield
    finally:
        app.conf.broker_url, app.conf.task_always_eager = previous
        reset_broker_connections(app)


def reset_broker_connections(app) -> None:
    """Drop the app's pooled broker connections so the next send uses ``broker_url`` anew."""
    from kombu import pools

    app._pool = None
    app.amqp._producer_pool = None
    # The app's pool lives in kombu's registry, keyed by URL: closing it without clearing the
    # registry left a closed pool that every later send to that URL (eager ones too) hit.
    pools.reset()


@pytest.fixture
def browser(artifacts_dir):
    """Chromium from Debian's package, driven by Playwright (its own browser download fails here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic",
            ],
        )
        yield CspBypassingBrowser(browser)
        browser.close()


class CspBypassingBrowser:
    """The browser, whose pages ignore the site's Content-Security-Policy unless a test asks for
    ``bypass_csp=False``: Playwright's ``wait_for_function`` evaluates its predicate with eval,
    which the policy forbids. tests/reliability/test_csp_browser.py runs the pages under it."""

    def __init__(self, browser):
        self._browser = browser

    def new_page(self, **options):
        return self._browser.new_page(**{"bypass_csp": True, **options})

    def new_context(self, **options):
        return self._browser.new_context(**{"bypass_csp": True, **options})

    def __getattr__(self, name):
        return getattr(self._browser, name)


# Accounts and studies the API, admin, dashboard and results tests share: researchers with
# tokens, staff, and a study whose images exist and which has votes.


@pytest.fixture
def researcher(db):
    return UserFactory(username="ada", password="ada-password")


@pytest.fixture
def api(researcher) -> APIClient:
    return token_client(researcher)


@pytest.fixture
def other_researcher(db):
    return UserFactory(username="grace", password="grace-password")


@pytest.fixture
def other_api(other_researcher) -> APIClient:
    return token_client(other_researcher)


@pytest.fixture
def staff_api(db) -> APIClient:
    client = APIClient()
    client.force_authenticate(UserFactory(username="staff", staff=True))
    return client


@pytest.fixture
def four_prompts(db):
    return PromptSetFactory(name="Four prompts", size=4, text="a small red cube, take {i}")


@pytest.fixture
def draft_study(tiny_specs, four_prompts, researcher):
    """The two fastest tiny models x 4 prompts x 1 seed: 8 images when started."""
    return StudyFactory(name="Draft", specs=tiny_specs[:2], prompt_set=four_prompts, owner=researcher, votes_per_pair=2)


@pytest.fixture
def rated_study(four_prompts, researcher):
    """Three external systems (uploaded images: no diffusers needed) x 4 prompts x 1 seed,
    started, open, with 6 comparisons answered by each of two raters."""
    from generation import uploads

    specs = []
    for index, (slug, name, latency) in enumerate(EXTERNAL_SYSTEMS):
        spec = uploads.external_spec_create(name=name, slug=slug, width=64, height=64)
        uploads.external_images_import(
            spec=spec, prompt_set=four_prompts, seeds=[0], archive=external_images_zip(four_prompts, [0], colour=(60 * index, 30, 30)), latency_s=latency
        )
        specs.append(spec)
    study = StudyFactory(name="Versus", specs=specs, prompt_set=four_prompts, owner=researcher, votes_per_pair=2, no_checks=True)
    assert studies.study_start_generation(study=study) == 0
    studies.study_open(study=study)
    rng = random.Random(7)
    for name in ("rater-1", "rater-2"):
        rater = raters.rater_invite(study=study, user=UserFactory(username=name))
        vote_as(study, rater, 6, rng)
    study.refresh_from_db()
    return study
