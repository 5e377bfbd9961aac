"""Adaptive sampling, the stopping rule and the votes-needed forecast of a study: the Django
half of issue 13 (the rule itself is pure NumPy in ``ratings/stats/sampling.py``, the simulator
in ``ratings/stats/forecast.py``; read their docstrings for the rule and its references).

- ``study_sampling_refresh`` turns a study's counted votes into per-criterion pair counts,
  fits Bradley-Terry, writes ``Study.pair_weights`` (adaptive studies) and checks the stopping
  rule and the vote budget. It runs in the background (``tasks.study_sampling_refresh``, and
  ``study_sampling_refresh_due`` from beat for every study with ``RATINGS_SAMPLING_REFRESH_VOTES``
  new answered comparisons), never inside a rater's request: the scheduler only reads the
  weights (``scheduler.serving.drawn_model_pair`` and ``ratings_serve_locked`` in ``scheduler/sql/``).
- Pair order: ``stats.sampling.pair_index`` over the study's model specs sorted by id (the
  order the leaderboards use); ``PairSlot.model_pair`` holds that index.
- A stopped study keeps its status (rating) with ``stopped_at`` and ``stop_reason`` set: no new
  pair is served, open pairs can still be answered, then the rater gets the completion page.
  ``study_reopen`` raises the budget and serves again.
- The vote budget is checked by the refresh, so a study may pass it by the comparisons answered
  between two refreshes (at most ``RATINGS_SAMPLING_REFRESH_VOTES`` plus the pairs open then).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from . import selectors
from .models import Comparison, Study
from .stats import forecast as stats_forecast
from .stats import sampling as stats_sampling

CHOICE_COLUMN = {"a": 0, "b": 1, "tie": 2}
# A forecast must answer within a second or two: it simulates at most this much.
FORECAST_MAX_RUNS = 100
FORECAST_MAX_MODELS = 12
FORECAST_MAX_CRITERIA = 4
FORECAST_MAX_BUDGET = 100_000
FORECAST_MAX_LOOKS = 60  # refits per simulated run: look_every is raised to budget / this
# A study stopped by a rule without a budget of its own is simulated up to this many comparisons.
FORECAST_DEFAULT_BUDGET = 20_000


def design_errors(
    *, n_models: int, sampling_rule: str, exploration: float, stop_when: str, stop_alpha: float,
    stop_top_k: int | None, stop_width: float | None, vote_budget: int | None,
) -> dict[str, str]:
    """Field -> what is wrong with a study's sampling and stopping settings (empty: all fine)."""
    errors = {}
    if sampling_rule not in ("uniform", "adaptive"):
        errors["sampling"] = f"Sampling is uniform or adaptive, not '{sampling_rule}'."
    if not 0 <= exploration <= 1:
        errors["exploration"] = "Give the share of uniformly served pairs, between 0 and 1 (default 0.2)."
    if stop_when not in stats_sampling.STOP_RULES:
        errors["stop_when"] = f"stop_when is target, separated or width, not '{stop_when}'."
    if not 0 < stop_alpha < 0.5:
        errors["stop_alpha"] = "Give an error level between 0 and 0.5 (exclusive), e.g. 0.05."
    if stop_top_k is not None and not 1 <= stop_top_k < max(n_models, 2):
        errors["stop_top_k"] = f"top k counts adjacent pairs from the top: between 1 and {max(n_models - 1, 1)} (the models minus one), or empty for all."
    if stop_when == "width" and (stop_width is None or stop_width <= 0):
        errors["stop_width"] = "stop_when width needs stop_width, the widest interval allowed in Elo points (e.g. 50)."
    if vote_budget is not None and vote_budget < 1:
        errors["vote_budget"] = "Give the most comparisons the study may use, a positive whole number."
    elif vote_budget is None and stop_when in ("separated", "width"):
        errors["vote_budget"] = f"stop_when {stop_when} needs a vote_budget: the most comparisons to spend if the rule is never met."
    return errors


def refresh_votes() -> int:
    return int(getattr(settings, "RATINGS_SAMPLING_REFRESH_VOTES", 100))


def study_spec_ids(*, study: Study) -> list[int]:
    """The study's models in pair-weight order: ModelSpec ids, ascending."""
    return sorted(study.job.specs.values_list("pk", flat=True))


def model_pair_index(*, study: Study) -> dict[tuple[int, int], int]:
    """(spec id, spec id) in either order -> the model pair's index in ``pair_weights``."""
    spec_ids = study_spec_ids(study=study)
    lo, hi = stats_sampling.pair_index(len(spec_ids))
    index = {}
    for k, (i, j) in enumerate(zip(lo.tolist(), hi.tolist())):
        index[(spec_ids[i], spec_ids[j])] = index[(spec_ids[j], spec_ids[i])] = k
    return index


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


def answered_comparisons(*, study: Study) -> int:
    """Answered comparisons of the study's pairs (what the budget caps): every rater's, flagged
    ones too (they were shown and paid), not attention checks or deliberate repeats."""
    return Comparison.objects.filter(
        study=study, answered_at__isnull=False, slot__isnull=False, is_repeat=False, attention_check__isnull=True
    ).count()


def study_pair_counts(*, study: Study) -> np.ndarray:
    """float[C, P, 3]: per criterion and model pair (``pair_index`` order), the counted votes
    won by the lower-id model, by the higher-id one, and ties (the leaderboards' votes)."""
    spec_ids = study_spec_ids(study=study)
    position = {spec_id: i for i, spec_id in enumerate(spec_ids)}
    pair = model_pair_index(study=study)
    criteria = {name: c for c, name in enumerate(study.criteria)}
    counts = np.zeros((len(criteria), len(spec_ids) * (len(spec_ids) - 1) // 2, 3))
    rows = (
        selectors.counted_votes(study=study)
        .values_list("comparison__image_a__spec_id", "comparison__image_b__spec_id", "criterion", "choice")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for spec_a, spec_b, criterion, choice, n in rows:
        if criterion not in criteria or spec_a == spec_b or spec_a not in position or spec_b not in position:
            continue
        column = CHOICE_COLUMN[choice]
        if position[spec_a] > position[spec_b] and column < 2:
            column = 1 - column  # image A is the higher-id model here: its win is the hi side's
        counts[criteria[criterion], pair[(spec_a, spec_b)], column] += n
    return counts


def _fit(counts: np.ndarray) -> stats_sampling.Fit:
    n_models = _models_of(counts.shape[1])
    lo, hi = stats_sampling.pair_index(n_models)
    return stats_sampling.fit(counts, lo, hi, n_models)


def _models_of(n_pairs: int) -> int:
    return int(round((1 + np.sqrt(1 + 8 * n_pairs)) / 2))


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
    if study.sampling == "adaptive":
        pair_slots_model_pairs_set(study=study)
    comparisons = answered_comparisons(study=study)
    counts = study_pair_counts(study=study)
    model_fit = _fit(counts)
    weights = None
    if study.sampling == "adaptive":
        top_k = study.stop_top_k if study.stop_top_k and study.stop_top_k < model_fit.n_models else None
        weights = stats_sampling.pair_weights(
            model_fit, exploration=study.exploration, alpha=study.stop_alpha, top_k=top_k
        ).astype(float)
        weights = [round(float(w), 6) for w in weights]
    reason = ""
    if counts.sum() > 0 and study.stop_when in ("separated", "width"):
        top_k = study.stop_top_k if study.stop_top_k and study.stop_top_k < model_fit.n_models else None
        met = bool(stats_sampling.stop_reached(
            model_fit, rule=study.stop_when, alpha=study.stop_alpha, top_k=top_k, width=study.stop_width
        ))
        if met and study.stop_when == "separated":
            which = f"the top {top_k} adjacent pairs" if top_k else "every pair of adjacent models"
            reason = (f"Decided: {which} separated in every criterion at confidence {1 - study.stop_alpha:.0%} "
                      f"(anytime-valid), after {comparisons} comparisons.")
        elif met:
            reason = (f"Decided: every model's interval is narrower than {study.stop_width:g} Elo points in every "
                      f"criterion, after {comparisons} comparisons.")
    if not reason and study.vote_budget is not None and comparisons >= study.vote_budget:
        reason = f"Vote budget reached: {comparisons} of {study.vote_budget} comparisons answered before the ranking was decided."
    now = timezone.now()
    with transaction.atomic():
        fields = {"pair_weights_at": now, "pair_weights_votes": comparisons}
        if weights is not None:
            fields["pair_weights"] = weights
            fields["pair_levels"] = pair_levels(study=study, n_pairs=len(weights))
        updated = Study.objects.filter(pk=study.pk)
        updated.update(**fields)
        stopped = False
        if reason:
            stopped = bool(updated.filter(stopped_at__isnull=True).update(stopped_at=now, stop_reason=reason))
    return Refresh(study_id=study.pk, comparisons=comparisons, pair_weights=weights, stopped=stopped, stop_reason=reason)


def sampling_studies():
    """Open studies whose serving or stopping depends on the refresh."""
    from django.db.models import Q

    return Study.objects.filter(status=Study.Status.RATING, stopped_at__isnull=True).filter(
        Q(sampling="adaptive") | ~Q(stop_when="target") | Q(vote_budget__isnull=False)
    )


def study_sampling_refresh_due(*, every: int | None = None) -> list[int]:
    """Refresh every open adaptive or rule-stopped study with ``every`` or more answered
    comparisons since its last refresh (or never refreshed); returns their ids. Run by beat."""
    every = every or refresh_votes()
    refreshed = []
    for study in sampling_studies():
        if study.pair_weights_at is None or answered_comparisons(study=study) - study.pair_weights_votes >= every:
            study_sampling_refresh(study=study)
            refreshed.append(study.pk)
    return refreshed


def study_reopen(*, study: Study, vote_budget: int) -> Study:
    """Serve a stopped (or budget-capped) study again with a higher budget. The new budget must
    be above the old one and above the comparisons answered so far."""
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        answered = answered_comparisons(study=locked)
        if locked.vote_budget is not None and vote_budget <= locked.vote_budget:
            raise ValidationError({"vote_budget": [
                f"Give a budget higher than the current one ({locked.vote_budget} comparisons) to reopen the study."
            ]})
        if vote_budget <= answered:
            raise ValidationError({"vote_budget": [
                f"{answered} comparisons are already answered; give a budget above that to reopen the study."
            ]})
        Study.objects.filter(pk=locked.pk).update(vote_budget=vote_budget, stopped_at=None, stop_reason="")
        locked.refresh_from_db()
        return locked


def study_sampling_state(*, study: Study) -> dict:
    """What the API and the dashboard say about a study's sampling and stopping."""
    return {
        "sampling": study.sampling,
        "stop_when": study.stop_when,
        "vote_budget": study.vote_budget,
        "stopped": study.stopped_at is not None,
        "stopped_at": study.stopped_at,
        "stop_reason": study.stop_reason,
        "pair_weights_at": study.pair_weights_at,
        "pair_weights_votes": study.pair_weights_votes,
    }


def design_for(*, study: Study, remaining_budget: int, tie_share: float) -> stats_forecast.StudyDesign:
    budget = max(1, min(remaining_budget, FORECAST_MAX_BUDGET))
    n_models = len(study_spec_ids(study=study))
    top_k = study.stop_top_k if study.stop_top_k and study.stop_top_k < n_models else None
    return stats_forecast.StudyDesign(
        sampling=study.sampling, stop_when=study.stop_when, alpha=study.stop_alpha, top_k=top_k,
        width=study.stop_width, budget=budget, exploration=study.exploration,
        look_every=max(refresh_votes(), -(-budget // FORECAST_MAX_LOOKS)), tie_share=tie_share,
    )


def study_forecast(*, study: Study, runs: int = 100, seed: int = 0, price_per_vote=None, crowd_size=None, seconds_per_vote=None) -> dict:
    """Comparisons the study still needs, simulated from its votes so far (each run draws its
    true strengths from the current fit), with cost and time where a price and a crowd are given."""
    runs = max(1, min(runs, FORECAST_MAX_RUNS))
    comparisons = answered_comparisons(study=study)
    extras = {"price_per_vote": price_per_vote, "crowd_size": crowd_size, "seconds_per_vote": seconds_per_vote}
    if study.stopped_at is not None:
        result = stats_forecast.Forecast(median=0.0, low=0.0, high=0.0, budget_hits=0.0, runs=0).as_dict(**extras)
        return {**result, "done": comparisons, "text": f"Stopped: {study.stop_reason}"}
    if study.stop_when == "target":
        slots = study.pair_slots.filter(retired=False).count()
        left = max(0, slots * study.votes_per_pair - comparisons)
        result = stats_forecast.Forecast(median=float(left), low=float(left), high=float(left), budget_hits=0.0, runs=0)
        document = result.as_dict(**extras)
        return {**document, "done": comparisons, "text": f"{left:,} more comparisons to fill every pair to its target."}
    counts = study_pair_counts(study=study)
    prior = pilot_pair_counts(study=study, shape=counts.shape)
    if counts.sum() == 0 and prior is None:
        return {"comparisons": {"median": None, "low": None, "high": None, "range": "90%"}, "budget_hits": 0.0, "runs": 0,
                "done": comparisons, "text": "No votes yet: the forecast starts from the first refresh of votes "
                "(before launch, POST /api/v1/forecasts/ forecasts from assumed ratings, or run a pilot)."}
    remaining = (study.vote_budget if study.vote_budget is not None else comparisons + FORECAST_DEFAULT_BUDGET) - comparisons
    if remaining <= 0:
        result = stats_forecast.Forecast(median=0.0, low=0.0, high=0.0, budget_hits=1.0, runs=0).as_dict(**extras)
        return {**result, "done": comparisons, "text": "The vote budget is used up; the next refresh stops the study."}
    evidence = counts if prior is None else counts + prior
    total = evidence[0].sum()
    tie_share = float(evidence[0, :, 2].sum() / total) if study.allow_ties and total else 0.0
    design = design_for(study=study, remaining_budget=remaining, tie_share=min(tie_share, 0.9))
    n_models = counts.shape[1] and _models_of(counts.shape[1])
    result = stats_forecast.forecast(design, counts=counts, prior_counts=prior, n_models=n_models, runs=runs, seed=seed)
    document = result.as_dict(**extras)
    text = forecast_text(document)
    if prior is not None:
        pilot_votes = int(prior[0].sum())
        document["pilot_comparisons"] = pilot_votes
        text += f" Strengths estimated with the pilot's {pilot_votes:,} comparisons too (the pilot's votes do not count towards this study's rule)."
    return {**document, "done": comparisons, "text": text}


def pilot_pair_counts(*, study: Study, shape: tuple) -> np.ndarray | None:
    """The counted votes of the study's pilot (``ratings/pilots.py``) in the study's pair order,
    for the forecast's strengths; None without a pilot, or one with no votes or other models."""
    pilot = Study.objects.filter(pilot_of=study).select_related("job").first()
    if pilot is None or study_spec_ids(study=pilot) != study_spec_ids(study=study) or list(pilot.criteria) != list(study.criteria):
        return None
    counts = study_pair_counts(study=pilot)
    if counts.shape != tuple(shape) or counts.sum() == 0:
        return None
    return counts


def forecast_text(document: dict) -> str:
    c = document["comparisons"]
    text = f"About {c['median']:,.0f} more comparisons, 90% range {c['low']:,.0f}–{c['high']:,.0f}"
    if document.get("budget_hits"):
        text += f"; {document['budget_hits']:.0%} of simulated runs hit the budget first"
    if "cost" in document:
        text += f"; cost about {document['cost']['median']:,.2f}"
    if "hours" in document:
        text += f"; about {document['hours']['median']:,.1f} hours"
    return text + "."


def forecast_design(
    *, elo_rows, sampling: str, stop_when: str, vote_budget: int, exploration: float = 0.2, stop_alpha: float = 0.05,
    stop_top_k: int | None = None, stop_width: float | None = None, allow_ties: bool = False, runs: int = 100,
    price_per_vote=None, crowd_size=None, seconds_per_vote=None, seed: int = 0, **_unused,
) -> dict:
    """Before launch: comparisons a study of models with these assumed Elo ratings (one row per
    criterion) needs under its sampling and stopping rule, simulated ``runs`` times (bounded by
    the FORECAST_MAX_* caps the API states)."""
    runs = max(1, min(runs, FORECAST_MAX_RUNS))
    budget = max(1, min(vote_budget, FORECAST_MAX_BUDGET))
    n_models = len(elo_rows[0])
    design = stats_forecast.StudyDesign(
        sampling=sampling, stop_when=stop_when, alpha=stop_alpha,
        top_k=stop_top_k if stop_top_k and stop_top_k < n_models else None, width=stop_width, budget=budget,
        exploration=exploration, look_every=max(refresh_votes(), -(-budget // FORECAST_MAX_LOOKS)),
        tie_share=0.1 if allow_ties else 0.0,
    )
    result = stats_forecast.forecast(design, elo=np.asarray(elo_rows, dtype=np.float64), runs=runs, seed=seed)
    document = result.as_dict(price_per_vote=price_per_vote, crowd_size=crowd_size, seconds_per_vote=seconds_per_vote)
    return {**document, "text": forecast_text(document)}


def study_sampling_summary(*, study: Study) -> dict:
    """The staff dashboard's line: the study's rules, whether and why it stopped, and the
    forecast (cached per refresh: computed at most once per ``pair_weights_votes``)."""
    from django.core.cache import cache

    rules = {"target": f"fills every slot to {study.votes_per_pair} comparisons", "separated": "stops when adjacent models are separated",
             "width": f"stops when every interval is under {study.stop_width or 0:g} Elo"}[study.stop_when]
    budget = f"budget {study.vote_budget:,} comparisons" if study.vote_budget is not None else "no budget cap"
    stopped = study.stopped_at.timestamp() if study.stopped_at else 0
    pilot = Study.objects.filter(pilot_of=study).first()
    pilot_votes = answered_comparisons(study=pilot) if pilot is not None else 0  # new pilot votes change the forecast
    key = f"ratings:forecast:{study.pk}:{study.pair_weights_votes}:{study.vote_budget}:{stopped}:{pilot_votes}"
    text = cache.get(key)
    if text is None:
        text = study_forecast(study=study, runs=30)["text"]
        cache.set(key, text, timeout=3600)
    return {"rules": f"{study.get_sampling_display()} sampling; {rules}; {budget}", "stopped": study.stopped_at is not None,
            "stop_reason": study.stop_reason, "forecast": text}
