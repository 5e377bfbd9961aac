"""Adaptive sampling and the stopping rule of a study: the Django half of issue 13 (the rule
itself is pure NumPy in ``ratings/stats/sampling.py``; read its docstrings for the rule and its
references). The votes as the rule reads them are ``sampling_tables.py``'s, a stopped study's
text, state and reopening ``stopping.py``'s, the votes-needed forecast ``forecasting.py``'s.

- ``study_sampling_refresh`` turns a study's counted votes into per-criterion pair counts,
  fits Bradley-Terry, writes ``Study.pair_weights`` (adaptive studies) and checks the stopping
  rule and the vote budget. It runs in the background (``tasks.study_sampling_refresh``, and
  ``study_sampling_refresh_due`` from beat for every study with ``RATINGS_SAMPLING_REFRESH_VOTES``
  new answered comparisons), never inside a rater's request: the scheduler only reads the
  weights (``scheduler.serving.drawn_model_pair`` and ``ratings_serve_locked.sql`` in ``scheduler/sql/``).
- Pair order: ``stats.sampling.pair_index`` over the study's model specs sorted by id (the
  order the leaderboards use); ``PairSlot.model_pair`` holds that index.
- The vote budget stops serving when it is reached: the scheduler serves a new pair only by taking
  one of ``Study.budget_serves_left`` (``budget_serves_recount``: the budget less the comparisons
  answered or open, set on opening, at every refresh and on reopening); the refresh then stops
  the study. Only late answers to lapsed pairs can pass the budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.utils import timezone

from .design import answered_comparisons, model_pair_index, refresh_votes
from .models import Comparison, SamplingOptions, Study
from .results.caches import leaderboards_invalidate
from .results.units import UNIT_WORDS
from .sampling_tables import counts_fit, study_vote_tables
from .stats import sampling as stats_sampling
from .stats.rules import Sampling, StopWhen
from .versus import decided_pair_weights, study_decided_reason, study_decisions


def design_errors(options: SamplingOptions, *, n_models: int, has_reference: bool | None = None) -> dict[str, str]:
    """Field -> what is wrong with a study's sampling and stopping settings, the one value
    ``options`` (empty: all fine). ``has_reference`` (None: not known here) is whether the study
    names a reference model, which stop_when decided needs."""
    sampling_rule, exploration, stop_when, stop_alpha = options.sampling, options.exploration, options.stop_when, options.stop_alpha
    stop_top_k, stop_width, vote_budget, unit = options.stop_top_k, options.stop_width, options.vote_budget, options.unit
    errors = {}
    if unit not in stats_sampling.UNITS:
        errors["unit"] = (f"unit is comparison (these prompts and raters), prompt (prompts like these) or prompt_rater "
                          f"(prompts and raters like these), not '{unit}'.")
    if sampling_rule not in (Sampling.UNIFORM, Sampling.ADAPTIVE):
        errors["sampling"] = f"Sampling is uniform or adaptive, not '{sampling_rule}'."
    if not 0 <= exploration <= 1:
        errors["exploration"] = "Give the share of uniformly served pairs, between 0 and 1 (default 0.2)."
    if stop_when not in stats_sampling.STOP_RULES:
        errors["stop_when"] = f"stop_when is target, separated, width or decided, not '{stop_when}'."
    elif stop_when == StopWhen.DECIDED and has_reference is False:
        errors["stop_when"] = ("stop_when decided stops when every model is decided against the reference, so the study needs "
                               "a reference: name the model every other model is compared with (e.g. the teacher), or "
                               "choose another stopping rule.")
    if not 0 < stop_alpha < 0.5:
        errors["stop_alpha"] = "Give an error level between 0 and 0.5 (exclusive), e.g. 0.05."
    if stop_top_k is not None and not 1 <= stop_top_k < max(n_models, 2):
        errors["stop_top_k"] = f"top k counts adjacent pairs from the top: between 1 and {max(n_models - 1, 1)} (the models minus one), or empty for all."
    if stop_when == StopWhen.WIDTH and (stop_width is None or stop_width <= 0):
        errors["stop_width"] = "stop_when width needs stop_width, the widest interval allowed in Elo points (e.g. 50)."
    if vote_budget is not None and vote_budget < 1:
        errors["vote_budget"] = "Give the most comparisons the study may use, a positive whole number."
    elif vote_budget is None and stop_when in (StopWhen.SEPARATED, StopWhen.WIDTH, StopWhen.DECIDED):
        errors["vote_budget"] = f"stop_when {stop_when} needs a vote_budget: the most comparisons to spend if the rule is never met."
    return errors


def pair_slots_model_pairs_set(*, study: Study) -> int:
    """Give every slot of the study its model pair where it has none (a study made adaptive
    after its slots were made); returns how many slots were set."""
    from .models import PairSlot

    missing = PairSlot.objects.filter(study=study, model_pair__isnull=True)
    if not missing.exists():
        return 0
    pair = model_pair_index(study=study)
    per_pair: dict[int, list[int]] = {}
    for pk, spec_a, spec_b in missing.values_list("pk", "image_a__spec_id", "image_b__spec_id"):
        per_pair.setdefault(pair[(spec_a, spec_b)], []).append(pk)
    with transaction.atomic():
        for model_pair, pks in per_pair.items():
            PairSlot.objects.filter(pk__in=pks, model_pair__isnull=True).update(model_pair=model_pair)
    return sum(len(pks) for pks in per_pair.values())


def pair_levels(*, study: Study, n_pairs: int) -> list[int]:
    """The lowest fill of each model pair's open slots: adaptive serving searches a pair from
    there, stepping over none of the index entries its reservations left below (as the study's
    serve_level does for the uniform search). Fills only rise between refreshes, except slots
    given back, which the pair's search reaches again at the next refresh."""
    from django.db.models import Min

    from .models import PairSlot

    levels = [0] * n_pairs
    rows = PairSlot.objects.filter(study=study, retired=False, model_pair__isnull=False).values("model_pair").annotate(lowest=Min("filled"))
    for row in rows.order_by():
        if 0 <= row["model_pair"] < n_pairs:
            levels[row["model_pair"]] = row["lowest"]
    return levels


def open_comparisons(*, study: Study, now=None) -> int:
    """Pairs of the study's slots on raters' screens now (served, not answered, not given back,
    not lapsed): they count against the vote budget beside the answered ones."""
    return Comparison.objects.filter(
        study=study, answered_at__isnull=True, released_at__isnull=True, expires_at__gte=now or timezone.now(),
        slot__isnull=False, is_repeat=False, attention_check__isnull=True,
    ).count()


@dataclass(frozen=True)
class BudgetCount:
    budget: int
    answered: int
    open: int

    @property
    def spent(self) -> bool:
        return self.answered + self.open >= self.budget

    def stop_reason(self, *, goal: str) -> str:
        served = self.answered + self.open
        if self.open:
            return (f"Vote budget reached: {served} of {self.budget} comparisons served ({self.answered} answered at the stop, "
                    f"{self.open} still open on raters' screens) before {goal}.")
        return f"Vote budget reached: {self.answered} of {self.budget} comparisons answered before {goal}."


def budget_serves_recount(*, study: Study) -> BudgetCount | None:
    """Lock the study's row and set ``budget_serves_left``: the budget less the comparisons
    answered or open (None without a budget). Inside a transaction: serving takes its serves
    from this row, so none is counted twice."""
    locked = Study.objects.select_for_update().get(pk=study.pk)
    if locked.vote_budget is None:
        Study.objects.filter(pk=study.pk).update(budget_serves_left=None)
        return None
    count = BudgetCount(budget=locked.vote_budget, answered=answered_comparisons(study=locked), open=open_comparisons(study=locked))
    Study.objects.filter(pk=study.pk).update(budget_serves_left=max(0, count.budget - count.answered - count.open))
    return count


def prompt_limits(*, model_fit: stats_sampling.Fit, study: Study, top_k: int | None) -> str:
    """A sentence naming the adjacent pairs that no budget separates with the study's prompts and
    how many prompts would ('' when there are none, or the unit is the comparison)."""
    result = stats_sampling.separation(model_fit, alpha=study.stop_alpha, top_k=top_k)
    if result.floor_limited is None:
        return ""
    limited = result.floor_limited & ~result.separated & result.considered
    if not limited.any():
        return ""
    needed = result.prompts_needed(alpha=study.stop_alpha)[limited]
    prompts = int(np.max(result.clusters)) if result.clusters is not None else 0
    most = "more than 100,000" if (needed < 0).any() else f"about {int(needed.max()):,}"
    return (f"{int(limited.sum())} adjacent pair(s) cannot be separated for {UNIT_WORDS[study.unit]} with these {prompts} "
            f"prompts at any budget: it would take {most} prompts (more prompts, not more votes).")


def too_few_prompts_reason(*, model_fit: stats_sampling.Fit, study: Study, top_k: int | None, comparisons: int) -> str:
    """The stop reason when every unseparated pair is limited by the prompts, not the votes."""
    result = stats_sampling.separation(model_fit, alpha=study.stop_alpha, top_k=top_k)
    if not bool(np.all(result.decided() | result.undecidable())) or bool(np.all(result.decided())):
        return ""
    return f"Undecidable with these prompts after {comparisons} comparisons: " + prompt_limits(model_fit=model_fit, study=study, top_k=top_k)


@dataclass(frozen=True)
class Refresh:
    study_id: int
    comparisons: int
    pair_weights: list[float] | None
    stopped: bool
    stop_reason: str


def study_sampling_refresh(*, study: Study) -> Refresh:
    """Fit the study's votes, write its pair weights (adaptive sampling) and stop it when its rule
    or its budget says so. For the background task and the benchmark; never a rater's request."""
    study = Study.objects.select_related("job").get(pk=study.pk)
    if study.sampling == Sampling.ADAPTIVE:
        pair_slots_model_pairs_set(study=study)
    comparisons = answered_comparisons(study=study)
    tables = study_vote_tables(study=study)
    counts = tables.counts
    model_fit = counts_fit(counts, tables.terms(study.unit))
    top_k = study.stop_top_k if study.stop_top_k and study.stop_top_k < model_fit.n_models else None
    weights = None
    decisions = study_decisions(study=study) if study.reference_id is not None and study.stop_when == StopWhen.DECIDED else None
    if study.sampling == Sampling.ADAPTIVE:
        if decisions is not None:
            weights = decided_pair_weights(study=study, rows=decisions)
        else:
            weights = stats_sampling.pair_weights(
                model_fit, exploration=study.exploration, alpha=study.stop_alpha, top_k=top_k
            ).astype(float)
        weights = [round(float(w), 6) for w in weights]
    reason = ""
    if counts.sum() > 0 and study.stop_when in (StopWhen.SEPARATED, StopWhen.WIDTH):
        met = bool(stats_sampling.stop_reached(
            model_fit, rule=study.stop_when, alpha=study.stop_alpha, top_k=top_k, width=study.stop_width
        ))
        unit = UNIT_WORDS[study.unit]
        if met and study.stop_when == StopWhen.SEPARATED:
            which = f"the top {top_k} adjacent pairs" if top_k else "every pair of adjacent models"
            reason = (f"Decided: {which} separated in every criterion at confidence {1 - study.stop_alpha:.0%} "
                      f"(anytime-valid, for {unit}), after {comparisons} comparisons.")
        elif met:
            reason = (f"Decided: every model's interval ({unit}) is narrower than {study.stop_width:g} Elo points in every "
                      f"criterion, after {comparisons} comparisons.")
        elif study.stop_when == StopWhen.SEPARATED:
            reason = too_few_prompts_reason(model_fit=model_fit, study=study, top_k=top_k, comparisons=comparisons)
    elif counts.sum() > 0 and study.stop_when == StopWhen.DECIDED:
        reason = study_decided_reason(study=study, comparisons=comparisons, rows=decisions)
    reason = reason[:300]
    now = timezone.now()
    with transaction.atomic():
        stopped_by = "rule" if reason else ""
        budget = budget_serves_recount(study=study)  # locks the study row
        if not reason and budget is not None and budget.spent:
            reason, stopped_by = budget.stop_reason(goal="every pair slot had its votes" if study.stop_when == StopWhen.TARGET else "the ranking was decided"), "budget"
            limited = prompt_limits(model_fit=model_fit, study=study, top_k=top_k) if study.stop_when == StopWhen.SEPARATED and counts.sum() > 0 else ""
            reason = f"{reason} {limited}".strip()[:300] if limited else reason
        fields = {"pair_weights_at": now, "pair_weights_votes": comparisons}
        if weights is not None:
            fields["pair_weights"] = weights
            fields["pair_levels"] = pair_levels(study=study, n_pairs=len(weights))
        updated = Study.objects.filter(pk=study.pk)
        updated.update(**fields)
        stopped = False
        if reason:
            stopped = bool(updated.filter(stopped_at__isnull=True).update(
                stopped_at=now, stop_reason=reason, stopped_by=stopped_by, stop_comparisons=comparisons if stopped_by == "rule" else budget.answered,
            ))
    if stopped:
        leaderboards_invalidate(study_ids=[study.pk])  # every page says it stopped, and why
    return Refresh(study_id=study.pk, comparisons=comparisons, pair_weights=weights, stopped=stopped, stop_reason=reason)


def sampling_studies():
    """Open studies whose serving or stopping depends on the refresh."""
    from django.db.models import Q

    return Study.objects.filter(status=Study.Status.RATING, stopped_at__isnull=True).filter(
        Q(sampling="adaptive") | ~Q(stop_when="target") | Q(vote_budget__isnull=False)
    )


def study_sampling_refresh_due(*, every: int | None = None) -> list[int]:
    """Refresh every open adaptive or rule-stopped study with ``every`` or more answered
    comparisons since its last refresh (or never refreshed), and every study whose budget has no
    serve left (it stops, or serves again what lapsed); returns their ids. Run by beat."""
    every = every or refresh_votes()
    refreshed = []
    for study in sampling_studies():
        served_out = study.vote_budget is not None and study.budget_serves_left == 0
        if served_out or study.pair_weights_at is None or answered_comparisons(study=study) - study.pair_weights_votes >= every:
            study_sampling_refresh(study=study)
            refreshed.append(study.pk)
    return refreshed
