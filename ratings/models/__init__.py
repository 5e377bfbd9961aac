"""Studies, raters, and their votes, one module per entity; every name is imported from here
(``ratings.models``), as Django and the migrations know them.

- ``study``: the study, its settings and the images hidden from its raters;
- ``options``: the study's option groups (sampling and stopping; crowd and pay), one value each;
- ``raters``: raters, their participation in a study and its payment decision;
- ``comparisons``: pair slots, attention checks, comparisons and votes (append-only).
"""

from .comparisons import REPORT_REASONS, AttentionCheck, Comparison, PairSlot, Vote
from .options import MAX_FEEDBACK_CHARS, SAMPLING_CHOICES, STOP_CHOICES, UNIT_CHOICES, CrowdOptions, SamplingOptions
from .raters import Participation, PaymentDecision, Rater
from .study import (
    ATTENTION_CHECK_KINDS,
    CRITERION_QUESTIONS,
    DEFAULT_CONSENT_TEXT,
    DEFAULT_CRITERIA,
    DEFAULT_RATER_TITLE,
    DESIGN_CHOICES,
    MAX_SCREENER_QUESTIONS,
    HiddenImage,
    Study,
    default_attention_check_kinds,
    default_criteria,
    new_completion_code,
    new_link_key,
)

__all__ = [
    "ATTENTION_CHECK_KINDS", "CRITERION_QUESTIONS", "DEFAULT_CONSENT_TEXT", "DEFAULT_CRITERIA", "DEFAULT_RATER_TITLE",
    "DESIGN_CHOICES", "MAX_FEEDBACK_CHARS", "MAX_SCREENER_QUESTIONS", "REPORT_REASONS", "SAMPLING_CHOICES", "STOP_CHOICES",
    "UNIT_CHOICES", "AttentionCheck", "Comparison", "CrowdOptions", "HiddenImage", "PairSlot", "Participation",
    "PaymentDecision", "Rater", "SamplingOptions", "Study", "Vote", "default_attention_check_kinds", "default_criteria",
    "new_completion_code", "new_link_key",
]
