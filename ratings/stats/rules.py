"""The names of a study's rules, written once: the models' choices, the statistics, the
scheduler's ORM path and its SQL (rendered from ``ratings/scheduler/rules.py``) all read them
here. Standard library only, so the pure statistics and the scheduler may both import it."""

from __future__ import annotations

from enum import StrEnum


class Sampling(StrEnum):
    """``Study.sampling``: how the next slot is chosen."""

    UNIFORM = "uniform"
    ADAPTIVE = "adaptive"  # a model pair drawn by ``Study.pair_weights`` first


class StopWhen(StrEnum):
    """``Study.stop_when``: when a study stops (only ``target`` caps a slot at the vote target)."""

    TARGET = "target"
    SEPARATED = "separated"
    WIDTH = "width"
    DECIDED = "decided"


class Unit(StrEnum):
    """``Study.unit``: what a study's conclusions are about (adaptive serving spreads a pair's
    votes over prompts unless it is ``comparison``)."""

    COMPARISON = "comparison"
    PROMPT = "prompt"
    PROMPT_RATER = "prompt_rater"


class Design(StrEnum):
    """``Study.design``: which model pairs are served."""

    ALL_PAIRS = "all_pairs"
    VERSUS_REFERENCE = "versus_reference"


def names(rule: type[StrEnum]) -> tuple[str, ...]:
    """A rule's names in order, as plain strings."""
    return tuple(member.value for member in rule)
