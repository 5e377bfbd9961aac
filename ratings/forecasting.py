"""The votes-needed forecast of a study (from its votes so far, and its pilot's) and of a design
before launch, and the gaps a rule-stopped study reports at the stop, its stopping's bias
simulated: the Django half of ``ratings/stats/forecast.py`` (the simulator; read its docstrings)
and ``ratings/stats/at_stop.py``. ``forecasts.py`` bounds the API's cost of asking."""

from __future__ import annotations

import numpy as np

from .design import (
    FORECAST_DEFAULT_BUDGET, FORECAST_MAX_BUDGET, FORECAST_MAX_CRITERIA, FORECAST_MAX_MODELS, FORECAST_MAX_RUNS,
    answered_comparisons, forecast_unit, refresh_votes, study_spec_ids,
)
from .models import Study
from .results.units import UNIT_WORDS
from .sampling_tables import counts_fit, models_of, pilot_vote_tables, study_vote_tables
from .stats import at_stop as stats_at_stop
from .stats import forecast as stats_forecast
from .stats import sampling as stats_sampling
from .stats import spread as stats_spread
from .stats.rules import StopWhen, Unit


#: The spread of a model's strength across prompts a forecast assumes without votes to estimate
#: it from (Elo points; the benchmark's heterogeneous configuration uses 80).
ASSUMED_PROMPT_SD_ELO = 0.0


def design_for(*, study: Study, remaining_budget: int, tie_share: float, prompt_sd: float = 0.0) -> stats_forecast.StudyDesign:
    """The study's rules as a simulated design: the same refit cadence as its background refresh
    (every ``RATINGS_SAMPLING_REFRESH_VOTES`` comparisons), its unit and its number of prompts."""
    budget = max(1, min(remaining_budget, FORECAST_MAX_BUDGET))
    n_models = len(study_spec_ids(study=study))
    top_k = study.stop_top_k if study.stop_top_k and study.stop_top_k < n_models else None
    unit = forecast_unit(study.unit)
    return stats_forecast.StudyDesign(
        sampling=study.sampling, stop_when=study.stop_when, alpha=study.stop_alpha, top_k=top_k,
        width=study.stop_width, budget=budget, exploration=study.exploration,
        look_every=refresh_votes(), tie_share=tie_share, unit=unit,
        prompts=max(2, study.job.prompt_set.prompts.count()) if unit != Unit.COMPARISON else None, prompt_sd=prompt_sd,
    )


def study_forecast(*, study: Study, runs: int = 100, seed: int = 0, price_per_vote=None, crowd_size=None, seconds_per_vote=None) -> dict:
    """Comparisons the study still needs, simulated from its votes so far (each run draws its
    true strengths from the current fit), with cost and time where a price and a crowd are given."""
    runs = max(1, min(runs, FORECAST_MAX_RUNS))
    comparisons = answered_comparisons(study=study)
    extras = {"price_per_vote": price_per_vote, "crowd_size": crowd_size, "seconds_per_vote": seconds_per_vote}
    if study.stop_cause == "rule":
        result = stats_forecast.Forecast(median=0.0, low=0.0, high=0.0, budget_hits=0.0, runs=0).as_dict(**extras)
        return {**result, "done": comparisons, "text": f"Stopped: {study.stop_reason}"}
    if study.stop_when == StopWhen.DECIDED and study.reference_id is not None:  # per model, on the versus design
        from .versus import study_decided_forecast

        return study_decided_forecast(study=study, runs=min(runs, 50), seed=seed)
    # Stopped by its budget, or at it: what the rule still needs, beyond the budget.
    past_budget = study.stop_cause == "budget" or (study.vote_budget is not None and comparisons >= study.vote_budget)
    stopped = f"Stopped: {study.stop_reason} " if study.stop_cause == "budget" else ""
    if study.stop_when == StopWhen.TARGET:
        slots = study.pair_slots.filter(retired=False).count()
        left = max(0, slots * study.votes_per_pair - comparisons)
        result = stats_forecast.Forecast(median=float(left), low=float(left), high=float(left), budget_hits=0.0, runs=0)
        document = result.as_dict(**extras)
        text = f"{stopped}{left:,} more comparisons to fill every pair to its target."
        if past_budget and left:
            text += f" Reopen with a budget of {comparisons + left:,} to get them."
        return {**document, "done": comparisons, "text": text}
    tables = study_vote_tables(study=study)
    counts = tables.counts
    pilot_tables = pilot_vote_tables(study=study, shape=counts.shape)  # the pilot's votes: evidence for the strengths
    prior = None if pilot_tables is None else pilot_tables.counts
    if counts.sum() == 0 and prior is None:
        return {"comparisons": {"median": None, "low": None, "high": None, "range": "90%"}, "budget_hits": 0.0, "runs": 0,
                "done": comparisons, "text": "No votes yet: the forecast starts from the first refresh of votes "
                "(before launch, POST /api/v1/forecasts/ forecasts from assumed ratings, or run a pilot)."}
    if past_budget or study.vote_budget is None:
        remaining = FORECAST_DEFAULT_BUDGET  # the comparisons still needed, had it no budget
    else:
        remaining = study.vote_budget - comparisons
    evidence = counts if prior is None else counts + prior
    total = evidence[0].sum()
    tie_share = float(evidence[0, :, 2].sum() / total) if study.allow_ties and total else 0.0
    n_models = counts.shape[1] and models_of(counts.shape[1])
    spread, spread_text, estimate = None, "", None
    if study.unit != Unit.COMPARISON:
        # De-biased by simulation, with its uncertainty: each simulated run draws its own spread.
        estimate = stats_spread.calibrated_prompt_spread(tables.prompts, n_models, seed=seed) if tables.prompts.shape[1] >= 3 else None
        if estimate is None and pilot_tables is not None:
            estimate = stats_spread.calibrated_prompt_spread(pilot_tables.prompts, n_models, seed=seed)
            spread_text = " Prompt spread from the pilot's votes." if estimate is not None else ""
        spread = None if estimate is None else estimate.sd
        if spread is None:
            spread = ASSUMED_PROMPT_SD_ELO / stats_sampling.ELO_PER_UNIT
            spread_text = f" Assumed the models' strengths vary by {ASSUMED_PROMPT_SD_ELO:g} Elo across prompts (too few prompts with votes to estimate it)."
        else:
            low, high = np.percentile(estimate.draws(400, seed), [5.0, 95.0]) * stats_sampling.ELO_PER_UNIT
            spread_text = spread_text or (
                f" Models' strengths vary by about {spread * stats_sampling.ELO_PER_UNIT:.0f} Elo across prompts (estimated from "
                f"the votes, corrected for the estimate's bias; plausibly {low:.0f}-{high:.0f} Elo, which the simulated runs draw from).")
    design = design_for(study=study, remaining_budget=remaining, tie_share=min(tie_share, 0.9), prompt_sd=spread or 0.0)
    prompt_counts = None
    if design.unit != Unit.COMPARISON:
        prompt_counts = np.zeros((counts.shape[0], design.n_prompts, counts.shape[1], 3))
        used = min(tables.prompts.shape[1], design.n_prompts)
        prompt_counts[:, :used] = tables.prompts[:, :used]
    result = stats_forecast.forecast(design, counts=counts, prior_counts=prior, prompt_counts=prompt_counts, n_models=n_models, runs=runs,
                                     seed=seed, spread=estimate if design.unit != Unit.COMPARISON else None,
                                     spread_clusters=design.n_prompts if spread and estimate is None else None)
    document = result.as_dict(**extras)
    document["unit"] = study.unit
    text = forecast_text(document) + spread_text
    if past_budget:
        c = document["comparisons"]
        text = (f"{stopped}To meet its stopping rule it still needs: {text[0].lower()}{text[1:]} "
                f"Reopen with a budget of about {comparisons + c['high']:,.0f} to meet it in 19 of 20 simulated runs.")
    if prior is not None:
        pilot_votes = int(prior[0].sum())
        document["pilot_comparisons"] = pilot_votes
        text += f" Strengths estimated with the pilot's {pilot_votes:,} comparisons too (the pilot's votes do not count towards this study's rule)."
    return {**document, "done": comparisons, "text": text}


def forecast_text(document: dict) -> str:
    c = document["comparisons"]
    text = f"About {c['median']:,.0f} more comparisons, 90% range {c['low']:,.0f}–{c['high']:,.0f}"
    if document.get("budget_hits"):
        text += f"; {document['budget_hits']:.0%} of simulated runs hit the budget first"
    if document.get("undecidable"):
        text += (f"; {document['undecidable']:.0%} of simulated runs end with adjacent pairs that no budget separates "
                 "with these prompts (more prompts, not more votes)")
    if "cost" in document:
        text += f"; cost about {document['cost']['median']:,.2f}"
    if "hours" in document:
        text += f"; {duration_text(document['hours']['median'])}"
    return text + "."


def duration_text(hours: float) -> str:
    """"about 25 minutes" under an hour, "about 3.5 hours" from one hour up."""
    if hours < 1:
        return f"about {max(1, round(hours * 60)):,} minute{'s' if round(hours * 60) > 1 else ''}"
    return f"about {hours:,.1f} hours"


def forecast_design(
    *, elo_rows, sampling: str, stop_when: str, vote_budget: int, exploration: float = 0.2, stop_alpha: float = 0.05,
    stop_top_k: int | None = None, stop_width: float | None = None, allow_ties: bool = False, runs: int = 100,
    price_per_vote=None, crowd_size=None, seconds_per_vote=None, seed: int = 0, unit: str = "prompt",
    prompts: int | None = None, prompt_spread: float | None = None, tie_share: float | None = None, reference: int | None = None,
    versus_margin: float = 0.05, **_unused,
) -> dict:
    """Before launch: comparisons a study of models with these assumed Elo ratings (one row per
    criterion) needs under its sampling and stopping rule and unit (with ``prompts`` prompts on
    which strengths vary by ``prompt_spread`` Elo), refitted as often as a study is, simulated
    ``runs`` times (bounded by the FORECAST_MAX_* caps the API states). The text says what was
    assumed."""
    runs = max(1, min(runs, FORECAST_MAX_RUNS))
    budget = max(1, min(vote_budget, FORECAST_MAX_BUDGET))
    n_models = len(elo_rows[0])
    unit = forecast_unit(unit)
    if stop_when == StopWhen.DECIDED:
        from .versus import decided_design_forecast

        return decided_design_forecast(
            elo_rows=elo_rows, reference=reference, margin=versus_margin, alpha=stop_alpha, budget=budget, sampling=sampling,
            exploration=exploration, unit=unit, prompts=prompts or 50, prompt_spread=prompt_spread, runs=min(runs, 50), seed=seed,
        )
    assumed = []
    if tie_share is None:
        tie_share = 0.1 if allow_ties else 0.0
        if allow_ties:
            assumed.append("raters answer tie 10% of the time")
    if unit != Unit.COMPARISON:
        prompts = prompts or 50
        if prompt_spread is None:
            prompt_spread = ASSUMED_PROMPT_SD_ELO
            assumed.append(f"models' strengths vary by {prompt_spread:g} Elo across {prompts} prompts")
    design = stats_forecast.StudyDesign(
        sampling=sampling, stop_when=stop_when, alpha=stop_alpha,
        top_k=stop_top_k if stop_top_k and stop_top_k < n_models else None, width=stop_width, budget=budget,
        exploration=exploration, look_every=refresh_votes(), tie_share=tie_share, unit=unit,
        prompts=prompts if unit != Unit.COMPARISON else None,
        prompt_sd=(prompt_spread or 0.0) / stats_sampling.ELO_PER_UNIT if unit != Unit.COMPARISON else 0.0,
    )
    result = stats_forecast.forecast(design, elo=np.asarray(elo_rows, dtype=np.float64), runs=runs, seed=seed)
    document = result.as_dict(price_per_vote=price_per_vote, crowd_size=crowd_size, seconds_per_vote=seconds_per_vote)
    text = forecast_text(document) + (f" Assumed: {'; '.join(assumed)}." if assumed else "")
    return {**document, "unit": unit, "text": text}


#: Simulated studies behind the bias adjustment of a stopped study's gaps (a few seconds of work;
#: the leaderboard that shows them is cached).
STOP_BIAS_RUNS = 30


def study_stop_estimates(*, study: Study, runs: int = STOP_BIAS_RUNS) -> dict | None:
    """For a study its rule stopped (or its budget): each criterion's adjacent pairs as the rule
    saw them at the stop, on the study's unit: the gap (Elo, the maximum-likelihood estimate),
    the gap adjusted for the stopping's selection (Whitehead 1986: ``stats.at_stop.stopping_bias``
    simulated at the estimates under the study's design), and the anytime-valid interval of the
    gap (the confidence sequence's, valid at the stopping time). None for a study not stopped by
    a rule or a budget, or by ``decided`` (its decision table, anytime-valid, is its account)."""
    if study.stopped_at is None or study.stop_when in (StopWhen.TARGET, StopWhen.DECIDED):
        return None
    tables = study_vote_tables(study=study)
    if tables.counts.sum() == 0:
        return None
    model_fit = counts_fit(tables.counts, tables.terms(study.unit))
    n_models = model_fit.n_models
    top_k = study.stop_top_k if study.stop_top_k and study.stop_top_k < n_models else None
    result = stats_sampling.separation(model_fit, alpha=study.stop_alpha, top_k=top_k)
    total = tables.counts[0].sum()
    tie_share = float(tables.counts[0, :, 2].sum() / total) if study.allow_ties and total else 0.0
    estimate = (stats_spread.calibrated_prompt_spread(tables.prompts, n_models, seed=study.pk)
                if study.unit != Unit.COMPARISON and tables.prompts.shape[1] >= 3 else None)
    spread = None if estimate is None else estimate.sd
    design = design_for(study=study, remaining_budget=max(1, answered_comparisons(study=study)), tie_share=min(tie_share, 0.9),
                        prompt_sd=spread or 0.0)
    n_criteria = len(study.criteria)
    if n_models <= FORECAST_MAX_MODELS and n_criteria <= FORECAST_MAX_CRITERIA:
        bias = stats_at_stop.stopping_bias(model_fit.strength, design, runs=runs, seed=study.pk)
    else:  # beyond the simulator's caps: no adjustment (the text says so)
        bias = np.full_like(model_fit.strength, np.nan)
    adjusted = model_fit.strength - bias
    labels = study_model_labels(study=study)
    unit = stats_sampling.ELO_PER_UNIT
    criteria = {}
    for c, criterion in enumerate(study.criteria):
        rows = []
        for k in range(n_models - 1):
            i, j = int(result.upper[c, k]), int(result.lower[c, k])
            half = float(result.threshold[c, k] / np.sqrt(result.information[c, k])) * unit
            gap = float(model_fit.strength[c, i] - model_fit.strength[c, j]) * unit
            rows.append({
                "upper": labels[i], "lower": labels[j], "gap": round(gap, 1),
                "gap_adjusted": None if np.isnan(adjusted[c, i]) else round(float(adjusted[c, i] - adjusted[c, j]) * unit, 1),
                "interval": [round(gap - half, 1), round(gap + half, 1)],
                "separated": bool(result.separated[c, k]), "considered": bool(result.considered[c, k]),
            })
        criteria[criterion] = rows
    return {
        "unit": study.unit,
        "text": (f"At the stop, on {UNIT_WORDS[study.unit]}: adjacent gaps in Elo as fitted, adjusted for the stopping's "
                 f"selection (Whitehead's bias-adjusted estimate, {runs} simulated studies: just-separated gaps come out too "
                 f"large), and each gap's anytime-valid {1 - study.stop_alpha:.0%} interval (valid at the stopping time)."),
        "criteria": criteria,
    }


def study_model_labels(*, study: Study) -> list[str]:
    """The study's models' results labels in pair-weight order (spec id)."""
    from .results.votes import model_label

    return [model_label(spec) for spec in study.job.specs.order_by("pk")]
