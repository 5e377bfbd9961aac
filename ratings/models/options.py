"""A study's options that change together, each group one typed value (issue 23): sampling and
stopping (``SamplingOptions``), the crowd platform and pay (``CrowdOptions``).

A group is a frozen dataclass whose every attribute is declared with its column: the model
field, with its default, choices, bounds and help text. ``Study`` holds the group as an
``OptionGroup``, which adds those columns to the study's own table, where they have always been,
and reads and writes them as one value: ``study.sampling_options`` is a ``SamplingOptions``;
assigning one (or passing it to ``Study(...)``) sets every column of the group. So adding an
option is one ``column(...)`` line here and the migration ``makemigrations`` writes for it: the
service (``ratings.studies.STUDY_OPTIONS``), the API's serializers and the clone take it from the
group. The columns stay on ``ratings_study`` because the scheduler's SQL functions read them
there on every serve (ARCHITECTURE.md, "A study's options"); a value over them changes no SQL.
"""

from __future__ import annotations

import dataclasses
from collections.abc import MutableMapping
from decimal import Decimal
from typing import Any, Self

from django.db import models

from ..stats.rules import Sampling, StopWhen, Unit

# Longest free-text feedback a participant may leave on the finish page.
MAX_FEEDBACK_CHARS = 2000

# The rule names are ratings/stats/rules.py's (shared with the statistics and the scheduler's SQL);
# the labels are the models'.
SAMPLING_CHOICES = [
    (Sampling.UNIFORM.value, "Uniform (every slot filled evenly)"),
    (Sampling.ADAPTIVE.value, "Adaptive (votes where the ranking is uncertain)"),
]
STOP_CHOICES = [
    (StopWhen.TARGET.value, "Every slot at its vote target"),
    (StopWhen.SEPARATED.value, "Adjacent models separated"),
    (StopWhen.WIDTH.value, "Every interval narrower than a width"),
    (StopWhen.DECIDED.value, "Every model decided against the reference"),
]
#: What a study's conclusions are about (issue 24): its stopping rule, pair weights, forecast and
#: default intervals all treat this as the unit that varies (ratings/stats/sampling.py).
UNIT_CHOICES = [
    (Unit.COMPARISON.value, "These prompts and these raters (each comparison independent)"),
    (Unit.PROMPT.value, "Prompts like these (votes clustered by prompt)"),
    (Unit.PROMPT_RATER.value, "Prompts and raters like these (votes clustered by prompt and by rater)"),
]


def column(field: models.Field) -> Any:
    """One option of a group, declared once: its column (the model field). The value's default
    is the column's, so an option left out reads as the model says."""
    metadata = {"column": field}
    if not field.has_default():
        return dataclasses.field(default=None, metadata=metadata)
    if callable(field.default):
        return dataclasses.field(default_factory=field.default, metadata=metadata)
    return dataclasses.field(default=field.default, metadata=metadata)


class Options:
    """What every group's value can do; a group is a frozen, keyword-only dataclass of ``column``s."""

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in dataclasses.fields(cls))

    @classmethod
    def columns(cls) -> dict[str, models.Field]:
        """Name -> the column declared for it (unbound: ``Study._meta.get_field`` gives the model's)."""
        return {field.name: field.metadata["column"] for field in dataclasses.fields(cls)}

    @classmethod
    def take(cls, values: MutableMapping[str, Any]) -> Self:
        """The group's options popped from ``values`` (e.g. a serializer's validated data); one
        missing takes its default."""
        return cls(**{name: values.pop(name) for name in cls.names() if name in values})

    @classmethod
    def read(cls, source: Any) -> Self:
        """The group's options as ``source`` (a study, or any object with those attributes) holds them."""
        return cls(**{name: getattr(source, name) for name in cls.names()})

    def replace(self, **changes: Any) -> Self:
        return dataclasses.replace(self, **changes)


class OptionGroup(property):
    """``Study.<name>``: a group's columns added to the model where the group is declared, read
    and written as one value. A property, so ``Study(<name>=value)`` sets it as it sets any model
    property; querysets filter and update by the columns' own names."""

    def __init__(self, value_type: type[Options]):
        self.value_type = value_type
        # Made now, in the class body, so the columns keep their place among the study's fields.
        self.fields = {name: field.clone() for name, field in value_type.columns().items()}
        super().__init__(value_type.read, self._write, doc=value_type.__doc__)

    def contribute_to_class(self, cls: type[models.Model], name: str) -> None:
        for field_name, field in self.fields.items():
            cls.add_to_class(field_name, field)
        setattr(cls, name, self)

    def _write(self, instance: models.Model, value: Options) -> None:
        if not isinstance(value, self.value_type):
            raise TypeError(f"Give a {self.value_type.__name__}, not {type(value).__name__}.")
        for name in self.value_type.names():
            setattr(instance, name, getattr(value, name))


@dataclasses.dataclass(frozen=True, kw_only=True)
class SamplingOptions(Options):
    """How a study serves pairs and when it stops (issue 13; ratings/sampling.py, the rule in
    ratings/stats/sampling.py). Checked as a whole by ``ratings.sampling.design_errors``."""

    sampling: str = column(models.CharField(
        max_length=10, choices=SAMPLING_CHOICES, default=Sampling.UNIFORM.value,
        help_text="uniform: every (prompt, seed, model pair) slot filled evenly; adaptive: model pairs drawn by "
        "pair_weights, votes going where the ranking is still uncertain.",
    ))
    exploration: float = column(models.FloatField(default=0.2, help_text="Adaptive sampling: share of pairs served uniformly over all model pairs."))
    stop_when: str = column(models.CharField(
        max_length=10, choices=STOP_CHOICES, default=StopWhen.TARGET.value,
        help_text="target: fill every slot to votes_per_pair; separated: stop when adjacent models are separated at "
        "confidence 1 - stop_alpha; width: stop when every model's interval is narrower than stop_width Elo; decided "
        "(a study with a reference): stop when every model has an anytime-valid decision against the reference at "
        "versus_margin.",
    ))
    stop_alpha: float = column(models.FloatField(default=0.05, help_text="Error level of the anytime-valid stopping rule."))
    unit: str = column(models.CharField(
        max_length=12, choices=UNIT_CHOICES, default=Unit.PROMPT.value,
        help_text="What the study's conclusions are about: comparison (these prompts and raters), prompt (prompts like "
        "these) or prompt_rater (prompts and raters like these). The stopping rule, the pair weights, the forecast and the "
        "leaderboard's default intervals use it.",
    ))
    stop_top_k: int | None = column(models.PositiveIntegerField(
        null=True, blank=True, help_text="separated: only the top k adjacent pairs must be separated; empty: all.",
    ))
    stop_width: float | None = column(models.FloatField(null=True, blank=True, help_text="width: the largest interval width allowed, in Elo points."))
    vote_budget: int | None = column(models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Hard cap on comparisons: serving stops once this many are answered or open on raters' screens (only "
        "late answers to lapsed pairs can pass it); required unless stop_when is target.",
    ))


@dataclasses.dataclass(frozen=True, kw_only=True)
class CrowdOptions(Options):
    """How a study meets its crowd platform and pays (ratings/crowd.py, ratings/payments.py): the
    settings a researcher gives with the platform's study. The outcome codes (secrets the study
    makes, a clone gets new ones) and the screener questions (they name the study's images, so
    are set once those exist) are set later, each by its own service, and are not in the group."""

    completion_url: str = column(models.CharField(
        max_length=500, blank=True,
        help_text="Where a rater goes on finishing, e.g. https://app.prolific.com/submissions/complete?cc={code}; "
        "{code} and {assignment_id} are filled in. Empty: show the completion code on the page.",
    ))
    bonus_per_pair: Decimal = column(models.DecimalField(
        max_digits=8, decimal_places=4, default=0,
        help_text="Bonus per answered pair (one submit, every question of the pair; attention checks and repeats count), in the "
        "crowd platform's currency (Prolific: the study's currency; MTurk: US dollars). The participants export suggests "
        "this times the pairs answered for each approved participant.",
    ))
    ask_feedback: bool = column(models.BooleanField(
        default=False, help_text=f"Offer an optional feedback box (at most {MAX_FEEDBACK_CHARS} characters) on the finish page.",
    ))
    max_participants: int | None = column(models.PositiveIntegerField(
        null=True, blank=True, help_text="Cap on the number of raters; empty means no cap.",
    ))
