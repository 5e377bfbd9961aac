"""Weights paths cannot escape EVALSITE_MODELS_DIR (issue 25, item 10). A hub id is a hub id,
resolved only against the hub or its cache; local weights are an absolute path under the models
directory. Relative paths shaped like hub ids ("generation/data", "tmp/..") are refused with a
clear message, and a worker handed one anyway (a spec saved before this rule) answers the same
whether such a folder exists beside it or not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from generation import pipelines
from generation.models import ModelSpec
from ratings import studies
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def api(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {studies.researcher_grant(user=UserFactory(username='eve')).key}")
    return client


def spec_body(**changes) -> dict:
    return {"name": "W", "slug": "w", "weights": "someone/some-model", "pipeline_class": "StableDiffusionPipeline", "steps": 1, **changes}


@pytest.mark.parametrize("weights", ["tmp/..", "./generation", "generation/data/..", "../etc", "a/b/c", "..", "tiny", "org/.hidden", "org--x/y"])
def test_relative_paths_that_are_no_hub_id_are_refused_with_a_clear_message(api, weights):
    for body, field in (
        (spec_body(weights=weights), "weights"),
        (spec_body(lora={"weights": weights}), "lora"),
        (spec_body(component_overrides={"unet": {"class": "UNet2DConditionModel", "weights": weights}}), "component_overrides"),
    ):
        response = api.post("/api/v1/specs/", body, format="json")
        assert response.status_code == 400, (body, response.json())
        message = response.json()[field][0]
        assert f"'{weights}' is neither a hub id (org/name, as on huggingface.co) nor an absolute path" in message, message
        assert "local weights are given by their absolute path" in message
    assert not ModelSpec.objects.exists()


def test_a_hub_shaped_name_that_is_a_folder_beside_the_server_is_refused(api, settings):
    assert (Path.cwd() / "generation" / "data").is_dir(), "run from the repository's root, as the server runs"
    (settings.EVALSITE_MODELS_DIR / "teams" / "alpha").mkdir(parents=True, exist_ok=True)
    for weights in ("generation/data", "teams/alpha"):
        response = api.post("/api/v1/specs/", spec_body(weights=weights), format="json")
        assert response.status_code == 400
        assert response.json()["weights"] == [
            f"'{weights}' names a folder relative to the server, not a hub repository: give local weights by their absolute "
            "path under the server's models directory (EVALSITE_MODELS_DIR), or a hub id (org/name) as on huggingface.co."
        ]
    # The same directory by its absolute path is local weights under the models directory; a hub id is taken as one.
    assert api.post("/api/v1/specs/", spec_body(weights="stabilityai/sd-turbo", slug="hub"), format="json").status_code == 201


@pytest.mark.parametrize("relative", ["generation/data", "scripts/.."])
def test_the_worker_never_loads_a_relative_folder_and_its_error_does_not_tell_whether_it_exists(monkeypatch, tmp_path, relative):
    """Offline with an empty Hugging Face cache: a hub-shaped name that is a folder of the
    worker's working directory and one that is not give the same failure, word for word."""
    import huggingface_hub.constants as hub_constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.chdir(ROOT)
    # Names of one length: the loader's words are cut at a fixed length after the name.
    existing, missing = relative, {"generation/data": "generation/nada", "scripts/..": "scriptz/.."}[relative]
    assert os.path.isdir(existing) and not os.path.exists(missing)
    told = {}
    for weights in (existing, missing):
        config = {
            "weights": weights, "pipeline_class": "StableDiffusionPipeline", "scheduler_class": "", "scheduler_config": {}, "lora": None,
            "component_overrides": {}, "dtype": "float32", "variant": "", "revision": "", "steps": 1, "guidance_scale": 0.0,
            "height": 64, "width": 64, "timesteps": None, "extra_call_kwargs": {},
        }
        with pytest.raises(pipelines.WeightsUnavailable) as failed:
            pipelines.resident_pipeline(config, f"hash-of-{weights}", "cpu")
        told[weights] = str(failed.value).replace(weights, "NAME")
    assert told[existing] == told[missing], told
    print(told[existing])
    assert "generation/data" not in told[existing] and "model_index.json" not in told[existing]
