"""The scheduler's constants and the rule names it branches on: the one place each is written.

The ORM path reads them from here, and the PL/pgSQL functions get them rendered into their text
at install time (``sql.constants`` maps each ``{{ NAME }}`` placeholder of ``sql/`` to one of
these, or to a model's choice). Plain Python: the standard library, and the rule names
(``Sampling``, ``StopWhen``, ``Unit``) from ``ratings/stats/rules.py``, where the models'
choices and the statistics take them too.

Changing a value here changes the SQL the code expects: the start-up check then asks for a new
scheduler SQL version with its migration (ARCHITECTURE.md, "Changing the scheduler's SQL").
"""

from __future__ import annotations

import random
from enum import StrEnum
from typing import Protocol

from ratings.stats.rules import Sampling, StopWhen, Unit  # noqa: F401  (the rule names, shared with the models and the statistics)

# The pairs a rater holds open: the one on screen and the next, whose images the page preloads.
OPEN_PAIRS = 2
# The cap of a slot in a study its stopping rule or budget stops (PostgreSQL's largest integer):
# a hot model pair's slots take more than the vote target there.
SLOT_UNCAPPED = 2**31 - 1
# A serve that finds nothing while the rater holds no pair looks again this often, this far
# apart: the rest may be locked by raters being served, or given back, right now.
SERVE_RETRIES = 4
SERVE_RETRY_SECONDS = 0.02
# Lapsed reservations one serve gives back at most.
LAPSED_BATCH = 200


class Side(StrEnum):
    """What a rater's page sends for each criterion (mapped to the stored choice given the sides)."""

    LEFT = "left"
    RIGHT = "right"
    TIE = "tie"


SIDES = tuple(side.value for side in Side)
# How a refused answer names the sides it may take.
ALLOWED_WITH_TIES = "left, right or tie"
ALLOWED_WITHOUT_TIES = "left or right"


class ServedStudy(Protocol):
    """What the rules below read of a study (a ``Study`` row, or anything with these fields)."""

    sampling: str
    unit: str


def spreads_prompts(study: ServedStudy) -> bool:
    """Adaptive serving under the prompt (or prompt_rater) unit spreads a model pair's votes over
    every prompt before it repeats one for that pair (issue 24): see ``slot_random_key``."""
    return study.sampling == Sampling.ADAPTIVE and study.unit != Unit.COMPARISON


def slot_random_key(study: ServedStudy, seed: int, rng: random.Random) -> float:
    """A slot's order among equally filled ones: uniform, plus its seed where the study spreads
    prompts, so a pair's slots of the first seed (one per prompt) come before any of the second
    (the least-filled search keeps its index order; as the .sql does)."""
    return rng.random() + (seed if spreads_prompts(study) else 0)
