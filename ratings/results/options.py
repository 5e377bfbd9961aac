"""What a leaderboard is computed with: one value, checked once when it is made, that the results
pages, the API, the background task and the cache key all use (``LeaderboardOptions``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from ratings.stats.leaderboard import METHODS

from ..models import Study
from .units import interval_unit

RESAMPLE_UNITS = ("comparison", "prompt", "rater", "prompt_rater")
BREAKDOWNS = ("category", "challenge")
#: Bounds on what a request may ask for; more rounds than INLINE_ROUNDS are computed in a task.
MAX_ROUNDS = 10000
INLINE_ROUNDS = 2000
MAX_SEED = 2**32 - 1

#: The leaderboard's default bootstrap unit for each study unit. The bootstrap has no two-way
#: (prompt x rater) scheme yet, so a prompt_rater study's intervals resample prompts and say so.
@dataclass(frozen=True)
class LeaderboardOptions:
    """A leaderboard variant; making one with an option out of bounds raises ValueError with an
    English message. ``resample=None`` means the study's unit (``for_study`` fills it in)."""

    method: str = "bt"
    rounds: int = 1000
    seed: int = 0
    include_flagged: bool = False
    resample: str | None = None
    by: str | None = None

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"Unknown method '{self.method}': use one of {', '.join(METHODS)}.")
        if not 1 <= self.rounds <= MAX_ROUNDS:
            raise ValueError(f"rounds must be a whole number from 1 to {MAX_ROUNDS}, got {self.rounds}.")
        if not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED}, got {self.seed}.")
        if self.resample is not None and self.resample not in RESAMPLE_UNITS:
            raise ValueError(f"Unknown resampling unit '{self.resample}': use one of {', '.join(RESAMPLE_UNITS)}.")
        if self.by is not None and self.by not in BREAKDOWNS:
            raise ValueError(f"Unknown breakdown '{self.by}': use one of {', '.join(BREAKDOWNS)}.")

    @classmethod
    def given(cls, options: LeaderboardOptions | None, fields: dict) -> LeaderboardOptions:
        """``options``, or one made from its fields passed as keyword arguments (not both)."""
        if options is not None and fields:
            raise TypeError(f"Pass the leaderboard options or their fields, not both: {', '.join(fields)}.")
        return options if options is not None else cls(**fields)

    def for_study(self, study: Study) -> LeaderboardOptions:
        """These options with the study's unit as the bootstrap unit when none was asked for."""
        return self if self.resample is not None else replace(self, resample=interval_unit(study=study))

    def is_default_for(self, study: Study) -> bool:
        """The variant the periodic task keeps fresh: every option at its default, the study's unit."""
        return self.for_study(study) == LeaderboardOptions().for_study(study)

    def as_dict(self) -> dict:
        """The options as keyword arguments (a task's JSON arguments, an export's call)."""
        return asdict(self)
