"""The rater's hot path, and nothing else: serve, vote, report, release.

Contract (every call takes ids and keyword arguments, runs in one transaction, and returns
``{"status", "message"?, "answered", "quota", "pairs": [{"token", "prompt"}, ...]}``, ``pairs``
being the rater's open comparisons, the one on screen first; ``status`` is an ``Outcome``):

- ``session_serve(study_id, rater_id)``: the rater's open pairs, topped up to ``OPEN_PAIRS``
  while the study is rating and not stopped, its vote budget has a serve left
  (``Study.budget_serves_left``, one taken per pair served), the participation live and within
  its quota.
  Outcomes: ``ok``; ``forbidden`` (no such participation).
- ``vote_submit(study_id, rater_id, token, answers, response_ms)``: one answer per criterion
  ("left", "right", "tie" where allowed) for a pair served to this rater, then serve.
  Outcomes: ``recorded`` (the only one that wrote votes), ``duplicate`` (counted once already),
  ``forbidden``, ``invalid``, ``too_fast``, ``expired`` (the lapsed reservation's slot is full),
  ``reported``, ``closed``, ``finished``, ``quota``. ``flagged_now: true`` beside ``recorded``
  says the vote's failed attention check flagged the participation: the scheduler touches no
  cache, the caller refreshes the study's results (``raters.vote_submit``, which the views call).
- ``comparison_report(study_id, rater_id, token, reason, note)``: skip a pair with a reason; its
  reservation goes back, then serve. Bounded per participant and per study per minute
  (``ReportRefused`` otherwise); a pair is retired only when ``REPORTS_TO_RETIRE`` distinct
  raters in good standing who answered other pairs reported it, and only up to a share of the
  study's pairs (then staff decide on the operations page).
- ``reservations_release_lapsed(study_id)`` and ``reservations_release(comparisons, now)``: give
  reservations back to the pool (abandoned tabs; a rater who finished or withdrew).
- Slot planning: ``pair_slots_add`` (the slots ``ratings/slots.py`` decides a study serves from),
  ``serve_levels_repair`` (a periodic task), ``planner_statistics_refresh``.

The scheduler depends on ``ratings.models`` only (and ``common``, Django, the standard library):
it returns what happened and its callers do the rest (start a participation before serving,
refresh caches after a flag). ``tests/test_architecture.py`` enforces it.

Its constants and the rule names it branches on are written once, in ``rules.py``; the SQL gets
them rendered in at install time (``sql/__init__.py``).

Two implementations do the same steps: the PL/pgSQL functions of the newest version in ``sql/``
on PostgreSQL (one round trip per vote), and the ORM modules here elsewhere (SQLite, the
demo); both are production code, and the tests run every rule on both on PostgreSQL. Locks are always taken in the order participation ->
comparison -> pair slot -> study (its serve level, and a budgeted study's serves left), and every lock on someone else's rows is taken with SKIP LOCKED or in
id order, so raters never deadlock (a deadlock is still retried once, as a safety net).

Adaptive sampling is read here only: ``serving.drawn_model_pair`` and the SQL's slot search turn
``Study.pair_weights`` (written in the background by ``ratings/sampling.py``) into the pair served.
"""

from .outcomes import Outcome
from .planning import SlotRow, pair_slots_add, planner_statistics_refresh, serve_levels_repair
from .reservations import reservations_release, reservations_release_lapsed
from .rules import OPEN_PAIRS, SIDES
from .serving import session_serve
from .voting import REPORTS_TO_RETIRE, ReportRefused, comparison_report, vote_submit

__all__ = [
    "OPEN_PAIRS", "REPORTS_TO_RETIRE", "SIDES", "Outcome", "ReportRefused", "SlotRow",
    "comparison_report", "pair_slots_add", "planner_statistics_refresh",
    "reservations_release", "reservations_release_lapsed", "serve_levels_repair", "session_serve",
    "vote_submit",
]
