"""The rater's hot path, and nothing else: serve, vote, report, release.

Contract (every call takes ids and keyword arguments, runs in one transaction, and returns
``{"status", "message"?, "answered", "quota", "pairs": [{"token", "prompt"}, ...]}``, ``pairs``
being the rater's open comparisons, the one on screen first; ``status`` is an ``Outcome``):

- ``session_serve(study_id, rater_id)``: the rater's open pairs, topped up to ``OPEN_PAIRS``
  while the study is rating and not stopped, the participation live and within its quota.
  Outcomes: ``ok``; ``forbidden`` (no such participation).
- ``vote_submit(study_id, rater_id, token, answers, response_ms)``: one answer per criterion
  ("left", "right", "tie" where allowed) for a pair served to this rater, then serve.
  Outcomes: ``recorded`` (the only one that wrote votes), ``duplicate`` (counted once already),
  ``forbidden``, ``invalid``, ``too_fast``, ``expired`` (the lapsed reservation's slot is full),
  ``reported``, ``closed``, ``finished``, ``quota``. ``vote_record`` is the same for callers
  that want exceptions.
- ``comparison_report(study_id, rater_id, token, reason, note)``: skip a pair with a reason; its
  reservation goes back, a pair reported ``REPORTS_TO_RETIRE`` times is retired; then serve.
- ``reservations_release_lapsed(study_id)`` and ``reservations_release(comparisons, now)``: give
  reservations back to the pool (abandoned tabs; a rater who finished or withdrew).
- Slot planning: ``pair_slots_sync`` (slots for the image pairs that exist),
  ``serve_levels_repair`` (a periodic task), ``planner_statistics_refresh``.

Two implementations do the same steps: the PL/pgSQL functions of the newest file in ``sql/`` on
PostgreSQL (one round trip per vote), and the ORM modules here elsewhere (SQLite, the demo);
the tests run both on PostgreSQL. Locks are always taken in the order participation ->
comparison -> pair slot, and every lock on someone else's rows is taken with SKIP LOCKED or in
id order, so raters never deadlock (a deadlock is still retried once, as a safety net).

Adaptive sampling is read here only: ``serving.drawn_model_pair`` and the SQL's slot search turn
``Study.pair_weights`` (written in the background by ``ratings/sampling.py``) into the pair served.
"""

from .outcomes import Outcome
from .planning import pair_slots_sync, planner_statistics_refresh, serve_levels_repair
from .reservations import reservations_release, reservations_release_lapsed
from .serving import OPEN_PAIRS, comparison_serve, session_serve
from .voting import REPORTS_TO_RETIRE, SIDES, comparison_report, vote_record, vote_submit

__all__ = [
    "OPEN_PAIRS", "REPORTS_TO_RETIRE", "SIDES", "Outcome",
    "comparison_report", "comparison_serve", "pair_slots_sync", "planner_statistics_refresh",
    "reservations_release", "reservations_release_lapsed", "serve_levels_repair", "session_serve",
    "vote_record", "vote_submit",
]
