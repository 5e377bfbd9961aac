"""The versus-reference design and its decisions: the Django half of issue 27 (the statistics
are pure NumPy in ``ratings/stats/versus.py``; read its docstring for the intervals, the
decisions and their references).

- A study may name a ``reference`` model (the teacher, or the production model) and its
  ``design``: ``all_pairs`` (the default: every model pair is served) or ``versus_reference``:
  only reference-versus-other pairs are served, with a share ``other_pairs_share`` of the other
  model pairs' slots kept for a full ranking.
- Where the rule lives: in the slots. ``slots.pair_slots_sync`` asks ``slot_kept`` for each
  (prompt, seed, model pair) and makes only the slots kept, so both serving paths (the PL/pgSQL
  function and the ORM), which serve nothing but slots, serve only those pairs, with no change
  to the scheduler's SQL. Pair weights were not used: a drawn pair with nothing for the rater
  falls back to the least-filled slot of any pair, and uniform studies read no weights. Every
  reference pair gets every prompt and seed (the slots' least-filled-first order keeps them
  balanced), sides are randomized when served, and attention checks and repeats are served
  as in any study.
- The kept share of other pairs: a slot is kept when a hash of (study, prompt, seed, model pair)
  falls below the share, so the choice is the same however often slots are synced (images
  arrive in batches) and spreads over prompts and seeds.
- Decisions (``study_versus``): each model against the reference per criterion and their mean,
  at the study's ``versus_margin``: fixed-sample, or anytime-valid for a study stopped by
  ``stop_when = decided`` (it reads its decisions at every refresh, so only the confidence
  sequence's decisions hold; the table says which it is).
- ``stop_when = decided`` (``study_decided_reason``, called by ``sampling.study_sampling_refresh``):
  the study stops when every model has an anytime-valid decision other than undecided against
  the reference on every pair criterion and their mean, on the study's ``unit`` at its
  ``versus_margin`` and ``stop_alpha``; the vote budget stays a hard cap. Adaptive serving
  (``decided_pair_weights``) puts the adaptive share on the reference pairs of the undecided
  models.
"""

from __future__ import annotations

import hashlib

import numpy as np

from .design import FORECAST_DEFAULT_BUDGET, FORECAST_MAX_BUDGET, answered_comparisons, forecast_unit, model_pair_index, refresh_votes, study_spec_ids
from .models import Study
from .stats.rules import Design, StopWhen, Unit, names

DESIGNS = names(Design)
#: The leaderboard's resampling unit -> the versus table's inference unit (a rater bootstrap's
#: population is raters like these; the versus table then clusters by prompt and by rater).
UNIT_OF_RESAMPLE = {"comparison": "comparison", "prompt": "prompt", "rater": "prompt_rater", "prompt_rater": "prompt_rater"}


def design_errors(*, specs, design: str, reference, other_pairs_share: float, versus_margin: float) -> dict[str, str]:
    """Field -> what is wrong with a study's design settings (empty: all fine)."""
    errors = {}
    if design not in DESIGNS:
        errors["design"] = f"design is all_pairs or versus_reference, not '{design}'."
    if design == "versus_reference" and reference is None:
        errors["reference"] = "A versus_reference study needs a reference: the model every other model is compared with (e.g. the teacher)."
    if reference is not None and reference not in list(specs):
        errors["reference"] = f"The reference {reference} must be one of the study's models."
    if not 0 <= other_pairs_share <= 1:
        errors["other_pairs_share"] = "Give the share of the other model pairs to keep serving, between 0 and 1 (0: reference pairs only)."
    if not 0 <= versus_margin < 0.5:
        errors["versus_margin"] = "Give the margin on the win-rate scale, from 0 up to (not including) 0.5, e.g. 0.05."
    return errors


def kept_share_draw(*, study_id: int, prompt_id: int, seed: int, spec_a: int, spec_b: int) -> float:
    """A stable number in [0, 1) for one (study, prompt, seed, model pair): the kept-share draw."""
    low, high = sorted((spec_a, spec_b))
    digest = hashlib.sha256(f"{study_id}:{prompt_id}:{seed}:{low}:{high}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def slot_kept(*, study: Study, prompt_id: int, seed: int, spec_a: int, spec_b: int) -> bool:
    """Whether the study serves the slot of this prompt, seed and model pair (a set slot: its
    prompt and the study's first seed)."""
    if pair_fully_served(study=study, spec_a=spec_a, spec_b=spec_b):
        return True
    share = study.other_pairs_share
    return share > 0 and kept_share_draw(study_id=study.pk, prompt_id=prompt_id, seed=seed, spec_a=spec_a, spec_b=spec_b) < share


def pair_fully_served(*, study: Study, spec_a: int, spec_b: int) -> bool:
    """Whether every slot of this model pair is kept (all pairs, or a pair with the reference)."""
    return study.design != "versus_reference" or study.reference_id in (spec_a, spec_b)


def pair_kept_items(*, study: Study, spec_a: int, spec_b: int, prompt_ids, seeds) -> set[tuple[int, int]]:
    """The (prompt, seed) items whose slot of this model pair the study keeps."""
    if pair_fully_served(study=study, spec_a=spec_a, spec_b=spec_b):
        return {(prompt_id, seed) for prompt_id in prompt_ids for seed in seeds}
    if study.other_pairs_share <= 0:
        return set()
    return {
        (prompt_id, seed) for prompt_id in prompt_ids for seed in seeds
        if slot_kept(study=study, prompt_id=prompt_id, seed=seed, spec_a=spec_a, spec_b=spec_b)
    }


def study_versus(*, study: Study, votes, resample: str = "comparison") -> dict:
    """The decision table of a study with a reference (``versus_settings`` and ``versus`` rows:
    model, criterion, win rate, interval, decision), from its counted ``VoteArrays``; empty
    when it has no reference. Intervals on the unit of ``resample``: fixed-sample, or
    anytime-valid for a study stopped by ``stop_when = decided`` (running or stopped)."""
    from .results.votes import model_label
    from .stats.versus import versus_document

    if study.reference_id is None:
        return {}
    reference = model_label(study.reference)
    unit = UNIT_OF_RESAMPLE[resample]
    if votes.n_votes == 0 or reference not in votes.model_names:
        return {
            "versus_settings": {"reference": reference, "margin": study.versus_margin, "alpha": study.stop_alpha, "unit": unit},
            "versus": [],
        }
    return versus_document(votes, reference, unit=unit, margin=study.versus_margin, alpha=study.stop_alpha, mean_of=study.criteria,
                           sequential=study_sequential(study=study))


def study_sequential(*, study: Study) -> bool:
    """Whether the study's decision table is the anytime-valid one: it is read at every refresh."""
    return study.stop_when == StopWhen.DECIDED


def study_decisions(*, study: Study, votes=None):
    """The anytime-valid ``VersusRow``s of a study with a reference on its ``unit`` (the study's
    counted votes, flagged raters left out, unless ``votes`` are given), on its pair criteria and
    their mean only; [] without a reference or votes."""
    from .results.votes import model_label, study_votes
    from .stats.versus import COMBINED, versus_reference

    if study.reference_id is None:
        return []
    votes = study_votes(study=study, include_flagged=False).arrays if votes is None else votes
    reference = model_label(study.reference)
    if votes.n_votes == 0 or reference not in votes.model_names:
        return []
    rows = versus_reference(votes, reference, unit=study.unit, margin=study.versus_margin, alpha=study.stop_alpha,
                            sequential=True, mean_of=study.criteria)
    named = set(study.criteria) | {COMBINED}
    return [row for row in rows if row.criterion in named]


def study_undecided(*, study: Study, rows=None) -> list[str]:
    """The models (results labels) not yet decided against the reference on some pair criterion
    or the mean; every non-reference model when there are no votes."""
    from .results.votes import model_label

    rows = study_decisions(study=study) if rows is None else rows
    models = {model_label(spec) for spec in study.job.specs.exclude(pk=study.reference_id)}
    decided = {row.model for row in rows} - {row.model for row in rows if row.decision == "undecided"}
    return sorted(models - decided)


UNIT_WORDS = {"comparison": "these prompts and raters", "prompt": "prompts like these", "prompt_rater": "prompts and raters like these"}


def study_decided_reason(*, study: Study, comparisons: int, rows=None) -> str:
    """The stop reason of ``stop_when = decided`` when every model is decided, else ''."""
    from .results.votes import model_label

    rows = study_decisions(study=study) if rows is None else rows
    if not rows or study_undecided(study=study, rows=rows):
        return ""
    counts = {}
    for row in rows:
        if row.criterion == "mean" or len(study.criteria) == 1:
            counts[row.decision] = counts.get(row.decision, 0) + 1
    tally = ", ".join(f"{n} {decision}" for decision, n in sorted(counts.items()))
    return (f"Decided: every model against {model_label(study.reference)} on every criterion and their mean at margin "
            f"{study.versus_margin:g} ({tally}), anytime-valid at confidence {1 - study.stop_alpha:.0%}, for "
            f"{UNIT_WORDS[study.unit]}, after {comparisons} comparisons.")


def decided_pair_weights(*, study: Study, rows=None) -> list[float]:
    """Pair weights (``pair_index`` order over the specs by id) of an adaptive study stopped by
    ``decided``: none on pairs with no slots; the exploration share spread evenly over the pairs
    with slots, the rest evenly over the reference pairs of the models still undecided (all of
    it over the pairs with slots once every model is decided)."""
    from .models import PairSlot
    from .results.votes import model_label

    rows = study_decisions(study=study) if rows is None else rows
    n_models = len(study_spec_ids(study=study))
    n_pairs = n_models * (n_models - 1) // 2
    index = model_pair_index(study=study)
    with_slots = set(PairSlot.objects.filter(study=study, retired=False, model_pair__isnull=False).values_list("model_pair", flat=True).distinct())
    with_slots &= set(range(n_pairs))
    if not with_slots:
        return [1.0 / n_pairs] * n_pairs
    undecided = set(study_undecided(study=study, rows=rows))
    targets = {
        index[(spec.pk, study.reference_id)] for spec in study.job.specs.exclude(pk=study.reference_id)
        if model_label(spec) in undecided
    } & with_slots
    weights = [0.0] * n_pairs
    explore = study.exploration if targets else 1.0
    for k in with_slots:
        weights[k] += explore / len(with_slots)
    for k in targets:
        weights[k] += (1.0 - explore) / len(targets)
    return weights


#: A model's win rate against the reference a forecast assumes before any of its votes.
ASSUMED_WIN_RATE = 0.5


def decided_prompt_spread(*, study: Study, unit: str, seed: int = 0) -> tuple[float, str]:
    """How much each model's win rate against the reference varies across prompts (standard
    deviation on the logit scale) for the decided forecast to simulate, and the words that say
    what it assumed: on the prompt unit, a model's strength spread estimated from the study's
    votes per prompt (else its pilot's; ``stats.spread.calibrated_prompt_spread``, the BT
    forecast's estimate), doubled in variance for a difference of two models; else none."""
    from .sampling_tables import models_of, pilot_vote_tables, study_vote_tables
    from .stats.sampling import ELO_PER_UNIT
    from .stats.spread import calibrated_prompt_spread

    if unit == Unit.COMPARISON:
        return 0.0, "prompts not varying (the study's unit is the comparison)"
    tables = study_vote_tables(study=study)
    n_models = models_of(tables.counts.shape[1])
    estimate, source = calibrated_prompt_spread(tables.prompts, n_models, seed=seed), "its votes"
    if estimate is None:
        pilot = pilot_vote_tables(study=study, shape=tables.counts.shape)
        estimate, source = (calibrated_prompt_spread(pilot.prompts, n_models, seed=seed), "its pilot's votes") if pilot else (None, "")
    if estimate is None:
        return 0.0, "prompts not varying (too few prompts with votes to estimate how much they do)"
    return float(np.sqrt(2.0) * estimate.sd), (
        f"each model's strength varying by about {estimate.sd * ELO_PER_UNIT:.0f} Elo across prompts (estimated from {source})")


def study_decided_forecast(*, study: Study, runs: int = 50, seed: int = 0) -> dict:
    """Comparisons a ``stop_when = decided`` study still needs, overall and per model, simulated
    (``stats.versus.simulate_decided``) from its votes so far with the study's design: its unit,
    prompts, margin, alpha, sampling and refresh cadence, up to its remaining budget. Each model's
    win rate is its estimate so far (``ASSUMED_WIN_RATE`` without votes: a draft study before
    launch); on the prompt unit the prompts' spread from its votes (``decided_prompt_spread``, said in the text)."""
    from .results.votes import model_label, study_votes
    from .stats.versus import simulate_decided

    done = answered_comparisons(study=study)
    reference = model_label(study.reference)
    others = sorted(model_label(spec) for spec in study.job.specs.exclude(pk=study.reference_id))
    votes = study_votes(study=study, include_flagged=False)
    arrays = votes.arrays
    unit = forecast_unit(study.unit)
    n_prompts = max(2, study.job.prompt_set.prompts.count())
    prompt_ids = sorted(set(study.job.prompt_set.prompts.values_list("pk", flat=True)))
    column = {pk: g for g, pk in enumerate(prompt_ids)}
    wins, counts = np.zeros((len(others), n_prompts)), np.zeros((len(others), n_prompts))
    pair_criteria = [c for c, name in enumerate(arrays.criterion_names) if name in set(study.criteria)] if arrays.n_votes else []
    if arrays.n_votes and reference in arrays.model_names and pair_criteria:
        ref = arrays.model_names.index(reference)
        for m, name in enumerate(others):
            if name not in arrays.model_names:
                continue
            i = arrays.model_names.index(name)
            take = (((arrays.model_a == i) & (arrays.model_b == ref)) | ((arrays.model_a == ref) & (arrays.model_b == i))) & np.isin(arrays.criterion, pair_criteria)
            score = np.where(arrays.model_a[take] == i, arrays.outcome[take], 1.0 - arrays.outcome[take])
            where = np.array([column.get(int(pk), 0) for pk in votes.prompt_ids[take]], dtype=np.int64)
            np.add.at(wins[m], where, score / len(pair_criteria))
            np.add.at(counts[m], where, 1.0 / len(pair_criteria))
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(counts.sum(axis=1) > 0, wins.sum(axis=1) / counts.sum(axis=1), ASSUMED_WIN_RATE)
    budget = (study.vote_budget - done) if study.vote_budget is not None else FORECAST_DEFAULT_BUDGET
    budget = max(1, min(budget, FORECAST_MAX_BUDGET))
    prompt_sd, prompts_text = decided_prompt_spread(study=study, unit=unit, seed=seed)
    result = simulate_decided(  # refitted as often as the study is: every refresh_votes() comparisons
        rates, margin=study.versus_margin, alpha=study.stop_alpha, look_every=refresh_votes(), budget=budget, sampling=study.sampling,
        exploration=study.exploration, unit=unit, prompts=n_prompts, prompt_sd=prompt_sd, runs=runs, seed=seed, start=(wins, counts),
    )
    now = {row.model for row in study_decisions(study=study)} - set(study_undecided(study=study))
    per_model = result.per_model(others)
    for row, rate in zip(per_model, rates):
        row["win_rate"] = round(float(rate), 4)
        if row["model"] in now:
            row.update(median=0, low=0, high=0)
    overall = result.overall()
    assumed = [row["model"] for row, n in zip(per_model, counts.sum(axis=1)) if n == 0]
    text = (f"About {overall['median']:,} more comparisons until every model is decided against {reference}, 90% range "
            f"{overall['low']:,}–{overall['high']:,}")
    if overall["budget_hits"]:
        text += f"; {overall['budget_hits']:.0%} of simulated runs hit the budget first"
    text += (f". Per model: " + "; ".join(f"{row['model']} about {row['median']:,} ({row['low']:,}–{row['high']:,})" for row in per_model)
             + f". Simulated with each model's win rate so far, {prompts_text}")
    if assumed:
        text += f"; assumed win rate {ASSUMED_WIN_RATE:g} for {', '.join(assumed)} (no votes yet)"
    return {
        "comparisons": {"median": float(overall["median"]), "low": float(overall["low"]), "high": float(overall["high"]), "range": "90%"},
        "budget_hits": overall["budget_hits"], "runs": overall["runs"], "unit": unit, "done": done, "text": text + ".",
        "versus": per_model,
    }


def decided_design_forecast(*, elo_rows, reference: int, margin: float, alpha: float, budget: int, sampling: str, exploration: float,
                            unit: str, prompts: int, prompt_spread: float | None, runs: int, seed: int) -> dict:
    """Before launch (POST /api/v1/forecasts/): comparisons a ``stop_when = decided`` study of
    models with these assumed Elo ratings (averaged over the criteria) needs to decide every model
    against the one at position ``reference``, overall and per model, simulated at the refresh
    cadence (``stats.versus.simulate_decided``)."""
    from .stats.sampling import ELO_PER_UNIT
    from .stats.versus import simulate_decided

    elo = np.asarray(elo_rows, dtype=np.float64).mean(axis=0)
    others = [i for i in range(elo.size) if i != reference]
    rates = 1.0 / (1.0 + np.exp(-(elo[others] - elo[reference]) / ELO_PER_UNIT))
    # A model's strength varies by prompt_spread: its difference from the reference by sqrt(2) times that.
    spread = 0.0 if unit == Unit.COMPARISON else np.sqrt(2.0) * (prompt_spread or 0.0) / ELO_PER_UNIT
    result = simulate_decided(
        rates, margin=margin, alpha=alpha, look_every=refresh_votes(), budget=budget,
        sampling=sampling, exploration=exploration, unit=unit, prompts=prompts, prompt_sd=spread, runs=runs, seed=seed,
    )
    names = [f"model {i}" for i in others]
    per_model = result.per_model(names)
    for row, rate in zip(per_model, rates):
        row["win_rate"] = round(float(rate), 4)
    overall = result.overall()
    text = (f"About {overall['median']:,} comparisons until every model is decided against model {reference}, 90% range "
            f"{overall['low']:,}–{overall['high']:,}")
    if overall["budget_hits"]:
        text += f"; {overall['budget_hits']:.0%} of simulated runs hit the budget first"
    text += ". Per model: " + "; ".join(f"{row['model']} (win rate {row['win_rate']:.2f}) about {row['median']:,}" for row in per_model) + "."
    return {
        "comparisons": {"median": float(overall["median"]), "low": float(overall["low"]), "high": float(overall["high"]), "range": "90%"},
        "budget_hits": overall["budget_hits"], "runs": overall["runs"], "unit": unit, "text": text, "versus": per_model,
    }
