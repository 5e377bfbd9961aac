"""What adaptive sampling (``ratings.sampling``, with ``sampling_tables``, ``stopping`` and
``forecasting``) and the versus-reference design (``ratings.versus``) both read of a study: its
models in pair-weight order and their pair index, the comparisons its budget counts, the refit
cadence, and the limits of a forecast. Below both, so neither imports the other to get them."""

from __future__ import annotations

from . import conf
from .models import Comparison, Study
from .stats import sampling as stats_sampling

# A forecast must answer within a second or two: it simulates at most this much.
FORECAST_MAX_RUNS = 100
FORECAST_MAX_MODELS = 12
FORECAST_MAX_CRITERIA = 4
FORECAST_MAX_BUDGET = 100_000
# A study stopped by a rule without a budget of its own is simulated up to this many comparisons.
FORECAST_DEFAULT_BUDGET = 20_000


def refresh_votes() -> int:
    return conf.sampling_refresh_votes()


def study_spec_ids(*, study: Study) -> list[int]:
    """The study's models in pair-weight order: ModelSpec ids, ascending."""
    return sorted(study.job.specs.values_list("pk", flat=True))


def model_pair_index(*, study: Study) -> dict[tuple[int, int], int]:
    """(spec id, spec id) in either order -> the model pair's index in ``pair_weights``."""
    spec_ids = study_spec_ids(study=study)
    lo, hi = stats_sampling.pair_index(len(spec_ids))
    index = {}
    for k, (i, j) in enumerate(zip(lo.tolist(), hi.tolist())):
        index[(spec_ids[i], spec_ids[j])] = index[(spec_ids[j], spec_ids[i])] = k
    return index


def answered_comparisons(*, study: Study) -> int:
    """Answered comparisons of the study's pairs (what the budget caps): every rater's, flagged
    ones too (they were shown and paid), not attention checks or deliberate repeats."""
    return Comparison.objects.filter(
        study=study, answered_at__isnull=False, slot__isnull=False, is_repeat=False, attention_check__isnull=True
    ).count()


def forecast_unit(unit: str) -> str:
    """The unit a forecast simulates: the study's, except prompt_rater, simulated on prompts (the
    simulator's raters are a pool of its own; the forecast says so)."""
    return "prompt" if unit == "prompt_rater" else unit
