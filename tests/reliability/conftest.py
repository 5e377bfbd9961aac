"""The rater side's study factory, for the load and fault tests."""

from tests.ratings.conftest import make_study  # noqa: F401
