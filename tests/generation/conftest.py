"""Fixtures of the generation tests: a fake Hugging Face cache holding tiny weights for every
repository the presets name, with the hub offline."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def fake_hub(tmp_path_factory):
    """Point huggingface_hub at a hand-written cache of tiny weights, offline, for the session.

    The environment variables serve subprocesses; huggingface_hub reads its constants at import,
    so the already-imported module is patched as well.
    """
    import huggingface_hub.constants as hub_constants

    from tests.generation.fake_hub import write_fake_hub

    cache = write_fake_hub(tmp_path_factory.mktemp("hf-cache"))
    patch = pytest.MonkeyPatch()
    patch.setenv("HF_HUB_CACHE", str(cache))
    patch.setenv("HF_HOME", str(cache.parent / "hf-home"))
    patch.setenv("HF_HUB_OFFLINE", "1")
    patch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    patch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    yield cache
    patch.undo()
