"""Forecasts through the API with a bounded cost (issue 25): the simulation itself is
``ratings.forecasting``'s (``study_forecast``, ``forecast_design``); this is the layer that decides
where it runs and remembers its answer.

- Every forecast is cached by its inputs (for a running study: its rules and how many votes it
  has), so asking again costs a cache read.
- A forecast whose simulation is estimated above ``EVALSITE_FORECAST_INLINE_WORK`` (runs x
  criteria x refits x models², an upper bound: a rule that stops early does less) runs as a task
  on the default queue, one per inputs at a time; the request raises ``ForecastPending`` (a 202)
  and the same request later finds the result. Where tasks run in-process (the demo), the task
  has finished by then and the result is returned at once.
- The API throttles forecasts per user as well (``common.api.ResearcherThrottle``).
"""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.core.cache import cache

from . import queueing
from .design import FORECAST_DEFAULT_BUDGET, FORECAST_MAX_BUDGET, answered_comparisons, refresh_votes
from .forecasting import forecast_design, study_forecast
from .models import Participation, Study, Vote
from .stats import forecast as stats_forecast

FORECAST_TTL_S = 3600
QUEUED_TTL_S = 600  # the task's time limit: past it a lost task's mark lapses
KEY_PREFIX = "ratings:forecast-api:v1"


class ForecastPending(Exception):
    """The forecast runs in the background; the message says so and when to ask again."""


def forecast_work(*, runs: int, criteria: int, models: int, budget: int) -> int:
    """Units of simulation work (about 0.3 to 5 microseconds each on one core): runs x criteria x
    refits per run x models²."""
    refits = stats_forecast.look_count(min(budget, FORECAST_MAX_BUDGET), refresh_votes())
    return runs * criteria * refits * models * models


def _digest(parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def forecast_design_cached(*, options: dict) -> dict:
    """``forecasting.forecast_design(**options)``, from the cache, computed now, or queued
    (``ForecastPending``)."""
    rows = options["elo_rows"]
    work = forecast_work(runs=options.get("runs", 100), criteria=len(rows), models=len(rows[0]), budget=options["vote_budget"])
    inputs = {**options, "look_every": refresh_votes()}  # the cadence the simulation refits at is an input too
    return _cached(key=f"{KEY_PREFIX}:design:{_digest(inputs)}", options=options, study=None, work=work)


def study_forecast_cached(*, study: Study, options: dict) -> dict:
    """``forecasting.study_forecast(study=study, **options)``, from the cache (keyed by the study's
    rules and votes so far), computed now, or queued (``ForecastPending``)."""
    pilot = Study.objects.filter(pilot_of=study).first()
    state = {
        "study": study.pk, "answered": answered_comparisons(study=study),
        "votes": Vote.objects.filter(comparison__study=study, excluded=False).count(),
        "flagged": Participation.objects.filter(study=study, flagged=True).count(),
        "pilot": answered_comparisons(study=pilot) if pilot is not None else 0,
        "rules": [study.sampling, study.stop_when, study.stop_alpha, study.stop_top_k, study.stop_width, study.vote_budget,
                  study.exploration, study.allow_ties, study.votes_per_pair, str(study.stopped_at), study.pair_weights_votes,
                  study.reference_id, study.versus_margin, study.unit],
        "options": options, "look_every": refresh_votes(),
    }
    if study.stopped_at is not None or study.stop_when == "target":
        work = 0  # nothing simulated: counted from the slots
    else:
        models = study.job.specs.count() if study.job_id else 2
        budget = study.vote_budget if study.vote_budget is not None else FORECAST_DEFAULT_BUDGET
        work = forecast_work(runs=options.get("runs", 100), criteria=len(study.criteria), models=models, budget=budget)
    return _cached(key=f"{KEY_PREFIX}:study:{study.pk}:{_digest(state)}", options=options, study=study, work=work)


def _cached(*, key: str, options: dict, study: Study | None, work: int) -> dict:
    document = cache.get(key)
    if document is not None:
        return document
    if work <= settings.EVALSITE_FORECAST_INLINE_WORK:
        return forecast_compute(key=key, options=options, study_id=study.pk if study is not None else None)
    if cache.add(f"{key}:queued", 1, timeout=QUEUED_TTL_S):  # one task per inputs at a time
        queueing.forecast_compute_send(key, options, study.pk if study is not None else None)
        document = cache.get(key)  # tasks run in-process (the demo): already done
        if document is not None:
            return document
    raise ForecastPending(
        f"This forecast simulates {options.get('runs', 100)} whole studies, too much work for one request: it is being "
        "computed on the default queue. Send the same request again in a few seconds to get it (kept for an hour)."
    )


def forecast_compute(*, key: str, options: dict, study_id: int | None) -> dict:
    """Compute a forecast and keep it under ``key`` (the task's work, and the inline path's)."""
    try:
        if study_id is None:
            document = forecast_design(**options)
        else:
            document = study_forecast(study=Study.objects.select_related("job").get(pk=study_id), **options)
        cache.set(key, document, timeout=FORECAST_TTL_S)
        return document
    finally:
        cache.delete(f"{key}:queued")
