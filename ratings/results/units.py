"""A study's inference unit and stopping rule in words, and the leaderboard's default bootstrap
unit: what the leaderboards, the sampling state and the API say about a study's design. Reads
the study only, so ``ratings.sampling``, ``ratings.stopping`` and ``results.leaderboards`` use it."""

from __future__ import annotations

from ..models import Study

#: The leaderboard's default bootstrap unit for each study unit (prompt_rater: the pigeonhole
#: bootstrap, prompts and raters resampled crossed).
INTERVAL_UNIT = {"comparison": "comparison", "prompt": "prompt", "prompt_rater": "prompt_rater"}
UNIT_TEXT = {
    "comparison": "these prompts and these raters: every comparison is treated as independent, so conclusions hold for "
    "the prompts and raters of this study only",
    "prompt": "prompts like these: votes are clustered by prompt, so conclusions hold for the population of prompts this "
    "prompt set was drawn from",
    "prompt_rater": "prompts and raters like these: votes are clustered by prompt and by rater (two-way), so conclusions "
    "hold for both populations; the leaderboard's bootstrap intervals resample prompts and raters together",
}
UNIT_WORDS = {"comparison": "these prompts and raters", "prompt": "prompts like these", "prompt_rater": "prompts and raters like these"}


def interval_unit(*, study: Study) -> str:
    """The leaderboard's bootstrap unit when none is asked for: the study's unit."""
    return INTERVAL_UNIT.get(study.unit, "comparison")


def unit_text(*, study: Study) -> str:
    """The study's inference unit in words."""
    return f"Conclusions are about {UNIT_TEXT.get(study.unit, UNIT_TEXT['comparison'])}."


def stopping_rule_text(*, study: Study) -> str:
    """The study's stopping rule in words, on its unit."""
    variance = {"comparison": "model-based variance (comparisons independent)",
                "prompt": "cluster-robust variance clustered by prompt",
                "prompt_rater": "two-way cluster-robust variance (prompt and rater)"}.get(study.unit, "model-based variance")
    budget = f"; at most {study.vote_budget:,} comparisons" if study.vote_budget is not None else ""
    if study.stop_when == "target":
        return f"Fixed design: every slot is filled to {study.votes_per_pair} comparisons{budget}."
    if study.stop_when == "decided":
        return (f"Stops when every model has a decision (better, equivalent, non-inferior or inferior) against the reference "
                f"on every criterion and their mean at margin {study.versus_margin:g} on the win-rate scale, by an anytime-valid "
                f"confidence sequence ({variance}, confidence {1 - study.stop_alpha:.0%}){budget}.")
    if study.stop_when == "width":
        return (f"Stops when every model's anytime-valid interval (Bradley-Terry, {variance}, confidence "
                f"{1 - study.stop_alpha:.0%}) is narrower than {study.stop_width or 0:g} Elo points{budget}.")
    which = f"the top {study.stop_top_k} adjacent pairs" if study.stop_top_k else "every pair of adjacent models"
    return (f"Stops when {which} are separated in every criterion by an anytime-valid confidence sequence "
            f"(Bradley-Terry, {variance}, confidence {1 - study.stop_alpha:.0%}){budget}.")
