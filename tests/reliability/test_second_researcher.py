"""A second researcher (or a script in a loop) against another's work and the shared server
(issue 25, items 8, 9 and 12): builtin prompt sets belong to whoever imports them; repeated
diversity requests queue one task per study; the share form tells nobody which usernames exist
and takes researchers only; the spec API shows server paths only to a spec's owner and staff."""

from __future__ import annotations

import pytest
import redis
from rest_framework.test import APIClient

from generation.models import PromptSet
from ratings import studies
from tests.conftest import tasks_sent_to
from tests.factories import StudyFactory, UserFactory

pytestmark = pytest.mark.django_db


def client_of(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {studies.researcher_grant(user=user).key}")
    return client


@pytest.fixture
def ada(db):
    return UserFactory(username="ada")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob", researcher=True)


def test_a_builtin_prompt_set_imported_through_the_api_belongs_to_the_caller(ada, bob):
    from django.core.management import call_command

    response = client_of(bob).post("/api/v1/prompt-sets/", {"builtin": "partiprompts", "name": "Official PartiPrompts by BOB"}, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()["prompt_set"]
    assert created["owner"] == "bob"
    assert PromptSet.objects.get(pk=created["id"]).owner == bob
    # Another researcher neither lists it nor reaches it.
    ada_api = client_of(ada)
    assert created["id"] not in [row["id"] for row in ada_api.get("/api/v1/prompt-sets/?page_size=500").json()["results"]]
    assert ada_api.get(f"/api/v1/prompt-sets/{created['id']}/").status_code == 404
    # Only the server's own command makes a system-owned copy (every researcher sees it).
    call_command("import_prompts", "--builtin", "partiprompts", "--name", "Shared PartiPrompts")
    system = PromptSet.objects.get(name="Shared PartiPrompts")
    assert system.owner is None
    assert ada_api.get(f"/api/v1/prompt-sets/{system.pk}/").status_code == 200


def test_repeated_diversity_requests_queue_one_task_per_study(transactional_db, redis_server, settings):
    """Fifty requests in a row with a real Redis broker: one message in the queue, and the
    study can be asked again once that task has ended."""
    from ratings import tasks

    settings.EVALSITE_METRIC_CLIP = "openai/clip-vit-base-patch32"  # embeddings: the gpu queue, where a flood costs most
    owner = UserFactory(username="carol")
    study = StudyFactory(owner=owner, seeds=(0, 1))
    other = StudyFactory(owner=owner, seeds=(0, 1))
    api = client_of(owner)
    broker = redis.Redis.from_url(redis_server.url)
    broker.flushdb()
    with tasks_sent_to(redis_server.url):
        answers = [api.post(f"/api/v1/studies/{study.pk}/diversity/") for _ in range(50)]
        assert {answer.status_code for answer in answers} == {202}
        assert "gpu queue" in answers[0].json()["detail"]
        assert all("already being computed" in answer.json()["detail"] for answer in answers[1:])
        assert broker.llen("gpu") == 1
        # Another study is not held back by the first.
        assert api.post(f"/api/v1/studies/{other.pk}/diversity/").status_code == 202
        assert broker.llen("gpu") == 2
        # Once the task has ended (here it runs in this process: done or failed, the mark goes), a new request queues again.
        tasks.study_diversity_compute.run(study.pk, False)
        again = api.post(f"/api/v1/studies/{study.pk}/diversity/")
        assert "already" not in again.json()["detail"]
        assert broker.llen("gpu") == 3


def test_the_share_form_does_not_tell_which_usernames_exist_nor_take_raters(ada, bob):
    UserFactory(username="rita-rater")  # an account without API access: an invited rater
    study = StudyFactory(owner=ada)
    api = client_of(ada)
    spec = api.post("/api/v1/specs/external/", {"name": "Ext", "slug": "ext-share", "width": 64, "height": 64}, format="json").json()
    prompt_set = api.post("/api/v1/prompt-sets/", {"builtin": "partiprompts"}, format="json").json()["prompt_set"]
    for url in (f"/api/v1/studies/{study.pk}/share/", f"/api/v1/specs/{spec['id']}/share/", f"/api/v1/prompt-sets/{prompt_set['id']}/share/"):
        answers = {}
        for name in ("rita-rater", "no-such-person"):
            response = api.post(url, {"usernames": [name]}, format="json")
            assert response.status_code == 400, (url, response.json())
            answers[name] = response.json()["usernames"][0].replace(name, "NAME")
        assert answers["rita-rater"] == answers["no-such-person"], answers
        assert "No researcher named 'NAME'" in answers["rita-rater"]
        # A researcher is shared with, and removed again; removing someone it is not shared with says so.
        assert api.post(url, {"usernames": ["bob"]}, format="json").json()["shared_with"] == ["bob"]
        removed = api.post(url, {"usernames": ["bob"], "remove": True}, format="json")
        assert removed.status_code == 200 and removed.json()["shared_with"] == []
        missing = api.post(url, {"usernames": ["rita-rater"], "remove": True}, format="json")
        assert missing.json() == {"usernames": ["It is not shared with 'rita-rater'."]}
    assert study.shared_with.count() == 0


def test_the_spec_api_shows_server_paths_of_system_owned_models_to_no_researcher(ada, tiny_specs, tiny_weights, settings):
    api = client_of(ada)
    listed = {row["slug"]: row for row in api.get("/api/v1/specs/?page_size=500").json()["results"]}
    for spec in tiny_specs:
        row = listed[spec.slug]
        assert row["owner"] is None
        assert row["weights"] == f"local:{spec.weights.rsplit('/', 1)[-1]}"
        assert str(settings.EVALSITE_MODELS_DIR) not in str(api.get(f"/api/v1/specs/{spec.pk}/").json())
    # The researcher's own spec shows the path they gave; staff see every path.
    path = str(tiny_weights["tiny-turbo-1step"])
    own = api.post("/api/v1/specs/", {"name": "Mine", "slug": "mine", "weights": path, "pipeline_class": "StableDiffusionPipeline", "steps": 1}, format="json")
    assert own.status_code == 201 and own.json()["weights"] == path
    staff = APIClient()
    staff.force_authenticate(UserFactory(username="staffer", staff=True))
    assert staff.get(f"/api/v1/specs/{tiny_specs[0].pk}/").json()["weights"] == tiny_specs[0].weights
