"""POST /api/v1/specs/{id}/sweep/: a spec's versions at several step counts, owner and staff only."""

from __future__ import annotations

import pytest

from generation import specs
from generation.models import ModelSpec, SpeedMeasurement
from generation.configs import spec_config

pytestmark = pytest.mark.django_db


@pytest.fixture
def teacher(tiny_specs):
    return next(spec for spec in tiny_specs if not spec.timesteps)


@pytest.fixture
def own_spec(researcher, teacher):
    return specs.model_spec_create(name="My tiny", slug="my-tiny", owner=researcher, **spec_config(teacher))


def test_api_sweep_makes_versions_with_their_speeds(api, own_spec, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/specs/{own_spec.pk}/sweep/", {"steps": [own_spec.steps + 1, own_spec.steps, own_spec.steps + 2], "runs": 1, "warmup": 0}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert [(v["slug"], v["steps"], v["created"]) for v in body["versions"]] == [
        ("my-tiny", own_spec.steps + 1, True), ("my-tiny", own_spec.steps, False), ("my-tiny", own_spec.steps + 2, True)]
    assert body["speed_measurements_queued"] == 3
    assert SpeedMeasurement.objects.filter(spec__slug="my-tiny").count() == 3
    assert all(v["owner"] == own_spec.owner.username for v in body["versions"])


def test_api_sweep_is_the_owners_and_refuses_bad_input(api, other_api, other_researcher, own_spec, teacher):
    count = ModelSpec.objects.count()
    response = other_api.post(f"/api/v1/specs/{own_spec.pk}/sweep/", {"steps": [1]}, format="json")
    assert response.status_code == 404  # not shared: another researcher does not even see it
    own_spec.shared_with.add(other_researcher)
    response = other_api.post(f"/api/v1/specs/{own_spec.pk}/sweep/", {"steps": [1]}, format="json")
    assert response.status_code == 403 and "owner" in response.json()["detail"]
    response = api.post(f"/api/v1/specs/{teacher.pk}/sweep/", {"steps": [1]}, format="json")
    assert response.status_code == 403 and "system-owned" in response.json()["detail"]
    response = api.post(f"/api/v1/specs/{own_spec.pk}/sweep/", {"steps": [0, 2000]}, format="json")
    assert response.status_code == 400 and "from 1 to" in " ".join(response.json()["steps"])
    response = api.post(f"/api/v1/specs/{own_spec.pk}/sweep/", {"steps": "4"}, format="json")
    assert response.status_code == 400 and "steps" in response.json()
    assert ModelSpec.objects.count() == count


