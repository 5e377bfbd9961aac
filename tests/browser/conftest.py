# The rater side's fast study fixture (real image files, no diffusers), shared with tests/ratings.
from tests.ratings.conftest import make_study  # noqa: F401
