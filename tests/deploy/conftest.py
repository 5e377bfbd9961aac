"""Fixtures of the deployment tests: the generation tests' fake Hugging Face cache."""

from tests.generation.conftest import fake_hub  # noqa: F401  (a session fixture, offline)
