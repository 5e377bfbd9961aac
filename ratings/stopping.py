"""A study its stopping rule or its vote budget stopped (``sampling.study_sampling_refresh``
stops it), and what the pages say about a study's sampling and stopping.

- A stopped study keeps its status (rating) with ``stopped_at``, ``stop_reason``, ``stopped_by``
  and ``stop_comparisons`` set: no new pair is served, open pairs can still be answered, then the
  rater gets the completion page; every page and the progress API say it stopped.
  ``study_reopen`` serves it again (a higher budget, or a stricter rule); ``study_reopen_warning``
  says when the rule is already met, so a reopen as it stands would stop again at once.
- ``study_sampling_state`` (the API and the dashboard) and ``study_sampling_summary`` (the staff
  dashboard's line, with the forecast of ``forecasting.py``) say what its sampling and stopping are.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from .design import answered_comparisons, study_spec_ids
from .forecasting import study_forecast
from .models import Study
from .results.caches import leaderboards_invalidate
from .results.units import UNIT_WORDS, stopping_rule_text, unit_text
from .sampling import budget_serves_recount, design_errors
from .sampling_tables import counts_fit, study_vote_tables
from .stats import sampling as stats_sampling
from .stats.rules import StopWhen


def study_serves_nothing_new(*, study: Study) -> bool:
    """Stopped, or its vote budget has no serve left (the refresh stops it shortly): a newcomer
    is told the study has its answers rather than given a code for nothing."""
    return study.stopped_at is not None or (study.vote_budget is not None and study.budget_serves_left == 0)


def study_stop_text(*, study: Study, final: int | None = None) -> str:
    """Why the study stopped, with the comparisons answered at the stop and in all (raters finish
    the pairs they had open, so the final count may be higher); '' while it serves."""
    if study.stopped_at is None:
        return ""
    final = answered_comparisons(study=study) if final is None else final
    text = study.stop_reason.rstrip(".") + "."
    if study.stop_comparisons is None:
        return f"{text} {final:,} comparisons answered in all."
    if final == study.stop_comparisons:
        return f"{text} {final:,} comparisons answered, at the stop and in all."
    return (f"{text} {study.stop_comparisons:,} comparisons answered at the stop, {final:,} in all "
            "(raters finished the pairs they had open).")


REOPEN_RULE_FIELDS = ("stop_when", "stop_alpha", "stop_top_k", "stop_width")


def study_reopen(*, study: Study, vote_budget: int | None = None, **rule) -> Study:
    """Serve a stopped (or budget-capped) study again: with a budget of at least the current one
    and above the comparisons answered so far, and optionally a stricter rule (``rule``: any of
    ``REOPEN_RULE_FIELDS``, checked as at creation). ``study_reopen_warning`` says whether the
    rule is already met on the votes so far, so that the study would stop again at once."""
    unknown = sorted(set(rule) - set(REOPEN_RULE_FIELDS))
    if unknown:
        raise ValidationError({name: ["Only the budget and the stopping rule (stop_when, stop_alpha, stop_top_k, stop_width) change on reopening."] for name in unknown})
    with transaction.atomic():
        locked = Study.objects.select_for_update().select_related("job").get(pk=study.pk)
        answered = answered_comparisons(study=locked)
        budget = locked.vote_budget if vote_budget is None else vote_budget
        if budget is None:
            raise ValidationError({"vote_budget": ["Give a vote_budget: the most comparisons the reopened study may use."]})
        if locked.vote_budget is not None and budget < locked.vote_budget:
            raise ValidationError({"vote_budget": [
                f"Give a budget of at least the current one ({locked.vote_budget} comparisons) to reopen the study."
            ]})
        if budget <= answered:
            raise ValidationError({"vote_budget": [
                f"{answered} comparisons are already answered; give a budget above that to reopen the study"
                + (" (or a stricter rule with a budget above that)." if rule else ".")
            ]})
        design = {field: getattr(locked, field) for field in REOPEN_RULE_FIELDS} | rule
        chosen = locked.sampling_options.replace(vote_budget=budget, **design)
        errors = design_errors(chosen, n_models=len(study_spec_ids(study=locked)), has_reference=locked.reference_id is not None)
        if errors:
            raise ValidationError(errors)
        Study.objects.filter(pk=locked.pk).update(
            vote_budget=budget, stopped_at=None, stop_reason="", stopped_by="", stop_comparisons=None, **design,
        )
        budget_serves_recount(study=locked)
    leaderboards_invalidate(study_ids=[locked.pk])  # the pages say it serves again, with its budget
    locked.refresh_from_db()
    return locked


def study_reopen_warning(*, study: Study) -> str:
    """Why reopening the study as its rule stands is pointless ('' when it is not): the rule is
    already met on the votes so far, so the next refresh would stop it again after new raters
    rate a pair or two each; says how to make the rule stricter instead."""
    if study.stop_when not in (StopWhen.SEPARATED, StopWhen.WIDTH):
        return ""
    tables = study_vote_tables(study=study)
    counts = tables.counts
    if counts.sum() == 0:
        return ""
    model_fit = counts_fit(counts, tables.terms(study.unit))  # on the study's unit, as the refresh judges it
    top_k = study.stop_top_k if study.stop_top_k and study.stop_top_k < model_fit.n_models else None
    met = bool(stats_sampling.stop_reached(model_fit, rule=study.stop_when, alpha=study.stop_alpha, top_k=top_k, width=study.stop_width))
    if not met:
        return ""
    if study.stop_when == StopWhen.SEPARATED:
        options = []
        if top_k is not None:
            options.append(f"separate more of the ranking (stop_top_k above {top_k}, up to {model_fit.n_models - 1}, or empty for every adjacent pair)")
        options.append(f"ask for more confidence (a stop_alpha below {study.stop_alpha:g}, e.g. {study.stop_alpha / 5:g})")
        options.append("or stop on narrow intervals instead (stop_when width with a stop_width in Elo points)")
        rule = f"the {'top ' + str(top_k) + ' adjacent pairs are' if top_k else 'adjacent models are all'} separated at confidence {1 - study.stop_alpha:.0%}"
    else:
        options = [f"ask for narrower intervals (a stop_width below {study.stop_width:g} Elo points)"]
        rule = f"every interval is narrower than {study.stop_width:g} Elo points"
    return (
        f"Its stopping rule is already met on the {int(counts[0].sum()):,} comparisons so far ({rule}): reopened as it stands, the "
        f"study stops again at the next refresh, after new raters rate a pair or two each. To learn more, make the rule "
        f"stricter when you reopen: {'; '.join(options)}."
    )


def study_sampling_state(*, study: Study) -> dict:
    """What the API and the dashboard say about a study's sampling and stopping."""
    final = answered_comparisons(study=study)
    return {
        "unit": study.unit,
        "unit_text": unit_text(study=study),
        "stopping_rule": stopping_rule_text(study=study),
        "sampling": study.sampling,
        "stop_when": study.stop_when,
        "vote_budget": study.vote_budget,
        "stopped": study.stopped_at is not None,
        "stopped_at": study.stopped_at,
        "stopped_by": study.stop_cause,
        "stop_reason": study.stop_reason,
        "stop_text": study_stop_text(study=study, final=final),
        "comparisons_at_stop": study.stop_comparisons if study.stopped_at is not None else None,
        "comparisons_final": final if study.stopped_at is not None else None,
        "pair_weights_at": study.pair_weights_at,
        "pair_weights_votes": study.pair_weights_votes,
    }


def study_sampling_summary(*, study: Study) -> dict:
    """The staff dashboard's line: the study's rules, whether and why it stopped, and the
    forecast (cached per refresh: computed at most once per ``pair_weights_votes``)."""
    from django.core.cache import cache

    rules = {"target": f"fills every slot to {study.votes_per_pair} comparisons", "separated": "stops when adjacent models are separated",
             "width": f"stops when every interval is under {study.stop_width or 0:g} Elo",
             "decided": f"stops when every model is decided against the reference at margin {study.versus_margin:g}"}[study.stop_when]
    budget = f"budget {study.vote_budget:,} comparisons" if study.vote_budget is not None else "no budget cap"
    stopped = study.stopped_at.timestamp() if study.stopped_at else 0
    pilot = Study.objects.filter(pilot_of=study).first()
    pilot_votes = answered_comparisons(study=pilot) if pilot is not None else 0  # new pilot votes change the forecast
    key = f"ratings:forecast:{study.pk}:{study.pair_weights_votes}:{study.vote_budget}:{stopped}:{pilot_votes}"
    text = cache.get(key)
    if text is None:
        # After a stop study_forecast says what the rule would still need (a budget stop) or nothing.
        text = study_forecast(study=study, runs=30)["text"]
        cache.set(key, text, timeout=3600)
    label = "Forecast" if study.stopped_at is None else "Forecast from the votes at the stop"
    return {"rules": f"{study.get_sampling_display()} sampling; {rules}; {budget}; conclusions about {UNIT_WORDS[study.unit]}",
            "stopped": study.stopped_at is not None,
            "stop_reason": study_stop_text(study=study), "forecast": text, "forecast_label": label}
