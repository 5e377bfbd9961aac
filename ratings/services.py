"""The pair scheduler and votes: serve, vote, report, release (studies are in ``studies``,
raters in ``raters``).

The rater's hot path (record a vote, serve the next pairs) runs as one PL/pgSQL call on
PostgreSQL (``scheduler_sql.py``) and as the ORM code below elsewhere (SQLite, the demo); the
two are kept equal by tests that run both on PostgreSQL.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import OperationalError, connection, transaction
from django.db.models import Exists, F, Min, OuterRef
from django.utils import timezone

from . import sampling, scheduler_sql, selectors
from .models import REPORT_REASONS, AttentionCheck, Comparison, PairSlot, Participation, Rater, Study, Vote
from .raters import participation_start

# What a rater's page sends for each criterion, mapped to the stored choice given the sides.
SIDES = ("left", "right", "tie")

# A pair reported this many times is no longer served to anyone.
REPORTS_TO_RETIRE = 2


def _planner_statistics_refresh() -> None:
    """Refresh PostgreSQL's statistics of the pair slots after a study's were bulk-inserted.

    Each database connection keeps the scheduler's query plans once made, until the next
    ANALYZE: made from the statistics of a table that looked empty, they scan instead of using
    the indexes (autovacuum's ANALYZE comes a minute later at best, never where it is off)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ratings_pairslot")


def serve_levels_repair() -> list[int]:
    """Lower any study's fill level that is above its least-filled open slot; returns the ids of
    the studies repaired. A periodic task: a level raised at the moment a lapsed reservation
    was given back below it would otherwise serve that slot only after the level's others."""
    return _serve_levels_lower(PairSlot.objects.filter(study__status=Study.Status.RATING, retired=False))


def _serve_levels_lower(slots) -> list[int]:
    """Lower the fill level of each study among ``slots`` to its least-filled one where the level
    is above it; returns the ids of the studies lowered."""
    lowered = []
    for row in slots.values("study_id").annotate(lowest=Min("filled")):
        if Study.objects.filter(pk=row["study_id"], serve_level__gt=row["lowest"]).update(serve_level=row["lowest"]):
            lowered.append(row["study_id"])
    return lowered


def pair_slots_sync(*, study: Study, rng: random.Random | None = None) -> int:
    """Add the slots of image pairs that exist now (idempotent); returns how many were added."""
    rng = rng or random.SystemRandom()
    before = PairSlot.objects.filter(study=study).count()
    image_spec = {image: spec for images in selectors.study_items(study=study).values() for spec, image in images.items()}
    model_pair = sampling.model_pair_index(study=study)  # (spec id, spec id) -> index in pair_weights
    slots = [
        PairSlot(
            study=study, prompt_id=prompt_id, seed=seed, image_a_id=a, image_b_id=b, random_key=rng.random(),
            model_pair=model_pair[(image_spec[a], image_spec[b])] if study.sampling == "adaptive" else None,
        )
        for prompt_id, seed, a, b in selectors.study_image_pairs(study=study)
    ]
    PairSlot.objects.bulk_create(slots, ignore_conflicts=True, batch_size=2000)
    added = PairSlot.objects.filter(study=study).count() - before
    if added:
        # New slots start empty: the scheduler serves from the lowest level again.
        Study.objects.filter(pk=study.pk).update(serve_level=0)
    return added


def _reservations_release(comparisons, *, now) -> int:
    """Give back open reservations among ``comparisons`` (rows locked, slots in id order)."""
    lapsed = list(
        comparisons.select_for_update()
        .filter(answered_at__isnull=True, released_at__isnull=True)
        .order_by("pk")
        .values_list("pk", "slot_id", "is_repeat")
    )
    return _release_rows(lapsed, now=now)


def _release_rows(rows, *, now) -> int:
    if not rows:
        return 0
    Comparison.objects.filter(pk__in=[pk for pk, _, _ in rows]).update(released_at=now)
    per_slot = Counter(slot_id for _, slot_id, is_repeat in rows if slot_id is not None and not is_repeat)
    for slot_id in sorted(per_slot):
        PairSlot.objects.filter(pk=slot_id).update(filled=F("filled") - per_slot[slot_id])
    _serve_levels_lower(PairSlot.objects.filter(pk__in=per_slot))  # a slot given back below the level comes first
    return len(rows)


def reservations_release_lapsed(*, study_id: int, now=None, limit: int = 200) -> int:
    """Free the pairs of abandoned tabs: reservations past their expiry go back to the pool."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(
            Comparison.objects.select_for_update(skip_locked=True)
            .filter(study_id=study_id, answered_at__isnull=True, released_at__isnull=True, expires_at__lt=now)
            .order_by("expires_at")
            .values_list("pk", "slot_id", "is_repeat")[:limit]
        )
        return _release_rows(rows, now=now)


def _sql_hot_path() -> bool:
    return connection.vendor == "postgresql" and getattr(settings, "RATINGS_SQL_HOT_PATH", True)


def _call_sql(function: str, args: list) -> dict:
    placeholders = ", ".join(["%s"] * len(args))
    for attempt in range(2):
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {function}({placeholders})", args)
                result = cursor.fetchone()[0]
            return result if isinstance(result, dict) else json.loads(result)
        except OperationalError as error:
            # Lock order makes deadlocks impossible by design; retry once if one happens anyway.
            if attempt or "deadlock" not in str(error):
                raise
    raise AssertionError("unreachable")


def session_serve(*, study_id: int, rater_id: int, rng: random.Random | None = None) -> dict:
    """The rater's open pairs (current first), serving new ones up to two; see ``scheduler_sql``."""
    if _sql_hot_path():
        return _call_sql("ratings_serve", [study_id, rater_id])
    return _serve_python(study_id=study_id, rater_id=rater_id, rng=rng or random.SystemRandom())


def vote_submit(*, study_id: int, rater_id: int, token, answers: Mapping[str, str], response_ms: int, rng: random.Random | None = None) -> dict:
    """Record the answers to one served pair and serve the next; one statement on PostgreSQL.

    Returns ``{"status": recorded | duplicate | forbidden | invalid | too_fast | expired |
    reported, "message"?, "answered", "quota", "pairs"}``; only ``recorded`` wrote votes.
    """
    answers = {str(k): str(v) for k, v in answers.items()}
    response_ms = max(0, min(int(response_ms), 2_000_000_000))
    if _sql_hot_path():
        result = _call_sql("ratings_vote", [study_id, rater_id, str(token), json.dumps(answers), response_ms])
    else:
        result = _vote_python(study_id=study_id, rater_id=rater_id, token=token, answers=answers, response_ms=response_ms, rng=rng or random.SystemRandom())
    if result.pop("flagged_now", False):  # never shown to the rater
        from .results.caches import leaderboards_invalidate

        leaderboards_invalidate(study_ids=[study_id])
    return result


def comparison_serve(*, study: Study, rater: Rater, rng: random.Random | None = None) -> Comparison | None:
    """The rater's current comparison, serving one if needed; None when nothing is left."""
    participation_start(study=study, rater=rater)
    result = session_serve(study_id=study.pk, rater_id=rater.pk, rng=rng)
    if not result.get("pairs"):
        return None
    return Comparison.objects.select_related("image_a", "image_b", "prompt").get(token=result["pairs"][0]["token"])


def vote_record(*, token, rater: Rater, answers: Mapping[str, str], response_ms: int) -> Comparison:
    """Record one answer per criterion for a comparison served to this rater.

    A second submit of the same comparison counts once; a comparison served to someone else
    raises ``PermissionDenied`` and writes nothing; a refused vote raises ``ValidationError``.
    """
    comparison = Comparison.objects.filter(token=token).only("study_id", "rater_id").first()
    if comparison is None or comparison.rater_id != rater.pk:
        raise PermissionDenied("This pair was not given to you to rate.")
    result = vote_submit(study_id=comparison.study_id, rater_id=rater.pk, token=token, answers=answers, response_ms=response_ms)
    if result["status"] == "forbidden":
        raise PermissionDenied("This pair was not given to you to rate.")
    if result["status"] not in ("recorded", "duplicate"):
        raise ValidationError(result["message"])
    return Comparison.objects.get(token=token)


def comparison_report(*, study_id: int, rater_id: int, token, reason: str, note: str = "") -> dict:
    """Skip a pair and say why (a broken or offensive image); its reservation goes back, a pair
    reported twice is served no more, and another pair is served."""
    if reason not in dict(REPORT_REASONS):
        raise ValidationError("Choose why you skip this pair: " + ", ".join(dict(REPORT_REASONS)) + ".")
    now = timezone.now()
    with transaction.atomic():
        participation = Participation.objects.select_for_update().filter(study_id=study_id, rater_id=rater_id).first()
        comparison = Comparison.objects.select_for_update().filter(token=token).first()
        if participation is None or comparison is None or comparison.rater_id != rater_id or comparison.study_id != study_id:
            raise PermissionDenied("This pair was not given to you to rate.")
        if comparison.answered_at is None and comparison.reported_at is None:
            if comparison.released_at is None:
                _release_rows([(comparison.pk, comparison.slot_id, comparison.is_repeat)], now=now)
            Comparison.objects.filter(pk=comparison.pk).update(
                reported_at=now, report_reason=reason, report_note=note[:500], released_at=now
            )
            if comparison.slot_id is not None and (
                Comparison.objects.filter(slot_id=comparison.slot_id, reported_at__isnull=False).count() >= REPORTS_TO_RETIRE
            ):
                PairSlot.objects.filter(pk=comparison.slot_id).update(retired=True)
    return session_serve(study_id=study_id, rater_id=rater_id)


# The ORM path: the same steps as scheduler_sql's functions, for SQLite (the demo).

def _open_pairs(study_id: int, rater_id: int):
    return Comparison.objects.filter(study_id=study_id, rater_id=rater_id, answered_at__isnull=True, released_at__isnull=True)


def _serve_result(study: Study, participation: Participation) -> dict:
    pairs = [
        {"token": str(token), "prompt": prompt}
        for token, prompt in _open_pairs(study.pk, participation.rater_id).order_by("pk").values_list("token", "prompt__text")
    ]
    return {"status": "ok", "answered": participation.answered, "quota": study.quota_per_rater, "pairs": pairs}


def _serve_python(*, study_id: int, rater_id: int, rng: random.Random) -> dict:
    now = timezone.now()
    with transaction.atomic():
        study = Study.objects.filter(pk=study_id).first()
        participation = Participation.objects.select_for_update().filter(study_id=study_id, rater_id=rater_id).first()
        if study is None or participation is None:
            return {"status": "forbidden"}
        hold = timedelta(seconds=study.reservation_seconds)
        _open_pairs(study_id, rater_id).filter(expires_at__gte=now, expires_at__lt=now + hold / 2).update(expires_at=now + hold)
        reservations_release_lapsed(study_id=study_id, now=now)
        n_open = _open_pairs(study_id, rater_id).count()
        retries = 0
        while (
            n_open < scheduler_sql.OPEN_PAIRS
            and participation.answered + n_open < study.quota_per_rater
            and study.status == Study.Status.RATING
            and study.stopped_at is None
            and participation.finished_at is None
        ):
            fields = dict(study_id=study_id, rater_id=rater_id, served_at=now, expires_at=now + hold)
            if not (
                _serve_attention_check(study, rater_id, rng, fields)
                or _serve_repeat(study, rater_id, rng, fields)
                or _serve_slot(study, rater_id, rng, fields)
            ):
                if n_open == 0 and retries < 4:
                    # The rest may be locked by raters being served, or given back, right now:
                    # look again shortly rather than end this rater's session.
                    retries += 1
                    time.sleep(0.02)
                    continue
                break
            n_open += 1
        return _serve_result(study, participation)


def _serve_attention_check(study: Study, rater_id: int, rng: random.Random, fields: dict) -> bool:
    if not (study.attention_check_rate > 0 and rng.random() < study.attention_check_rate):
        return False
    shown = Comparison.objects.filter(rater_id=rater_id, attention_check_id=OuterRef("pk"))
    checks = list(AttentionCheck.objects.filter(study=study).exclude(Exists(shown)))
    if not checks:
        return False
    check = rng.choice(checks)
    Comparison.objects.create(
        prompt_id=check.prompt_id, seed=check.seed, image_a_id=check.image_id,
        image_b_id=check.decoy_image_id or check.image_id, left_is_a=rng.random() < 0.5, attention_check=check, **fields,
    )
    return True


def _serve_repeat(study: Study, rater_id: int, rng: random.Random, fields: dict) -> bool:
    if not (study.repeat_share > 0 and rng.random() < study.repeat_share):
        return False
    recent = list(Comparison.objects.filter(study=study, rater_id=rater_id).order_by("-pk").values_list("pk", flat=True)[:3])
    if not recent:
        return False
    candidates = list(
        Comparison.objects.filter(
            study=study, rater_id=rater_id, answered_at__isnull=False, slot__isnull=False, is_repeat=False, pk__lt=min(recent)
        ).exclude(Exists(Comparison.objects.filter(repeat_of_id=OuterRef("pk"))))
    )
    if not candidates:
        return False
    original = rng.choice(candidates)
    Comparison.objects.create(
        prompt_id=original.prompt_id, seed=original.seed, image_a_id=original.image_a_id, image_b_id=original.image_b_id,
        left_is_a=rng.random() < 0.5, slot_id=original.slot_id, is_repeat=True, repeat_of=original, **fields,
    )
    return True


def _slot_cap(study: Study) -> int:
    """Most reservations plus answers a slot takes: the vote target, or (for a study that its
    stopping rule or budget stops) none: a hot model pair's slots take more than the target,
    and least-filled-first within the pair keeps its prompts and seeds balanced."""
    return study.votes_per_pair if study.stop_when == "target" else 2**31 - 1


def _drawn_model_pair(study: Study, rng: random.Random) -> int | None:
    """Adaptive sampling: a model pair drawn by the study's precomputed weights, else None."""
    weights = study.pair_weights
    if study.sampling != "adaptive" or not isinstance(weights, list) or not weights:
        return None
    draw = rng.random() * sum(float(w) for w in weights)
    cumulative = 0.0
    for index, weight in enumerate(weights):
        cumulative += float(weight)
        if cumulative > draw:
            return index
    return None


def _serve_slot(study: Study, rater_id: int, rng: random.Random, fields: dict) -> bool:
    seen = Comparison.objects.filter(rater_id=rater_id, slot_id=OuterRef("pk"))
    open_slots = PairSlot.objects.select_for_update(skip_locked=True).filter(study=study, retired=False, filled__lt=_slot_cap(study))
    slot = None
    model_pair = _drawn_model_pair(study, rng)
    if model_pair is not None:
        levels = study.pair_levels if isinstance(study.pair_levels, list) else []
        level = int(levels[model_pair]) if model_pair < len(levels) else 0
        slot = (
            open_slots.filter(model_pair=model_pair, filled__gte=level).exclude(Exists(seen)).order_by("filled", "random_key").first()
        )
    if slot is None:
        # Uniform, or the drawn pair has nothing for this rater: the least-filled slot.
        slot = open_slots.exclude(Exists(seen)).order_by("filled", "random_key").first()
    if slot is None:
        return False
    PairSlot.objects.filter(pk=slot.pk).update(filled=F("filled") + 1, random_key=rng.random())
    Comparison.objects.create(
        prompt_id=slot.prompt_id, seed=slot.seed, image_a_id=slot.image_a_id, image_b_id=slot.image_b_id,
        left_is_a=rng.random() < 0.5, slot=slot, **fields,
    )
    return True


def _answers_problem(study: Study, answers: Mapping[str, str]) -> str | None:
    missing = [c for c in study.criteria if not answers.get(c)]
    if missing:
        return scheduler_sql.MISSING_ANSWERS.format(missing=", ".join(missing))
    allowed = SIDES if study.allow_ties else SIDES[:2]
    for criterion in study.criteria:
        if answers[criterion] not in allowed:
            return scheduler_sql.BAD_ANSWER.format(
                criterion=criterion, allowed="left, right or tie" if study.allow_ties else "left or right"
            )
    return None


def _vote_python(*, study_id: int, rater_id: int, token, answers: Mapping[str, str], response_ms: int, rng: random.Random) -> dict:
    now = timezone.now()

    def serve_with(status: str, message: str | None = None) -> dict:
        result = _serve_python(study_id=study_id, rater_id=rater_id, rng=rng)
        return {**result, "status": status, **({"message": message} if message else {})}

    with transaction.atomic():
        participation = Participation.objects.select_for_update().filter(study_id=study_id, rater_id=rater_id).first()
        comparison = Comparison.objects.select_for_update().filter(token=token).first()
        if participation is None or comparison is None or comparison.rater_id != rater_id or comparison.study_id != study_id:
            return {"status": "forbidden"}
        if comparison.answered_at is not None:
            return serve_with("duplicate")
        if comparison.reported_at is not None:
            return serve_with("reported", scheduler_sql.REPORTED)
        study = Study.objects.get(pk=study_id)
        if study.status != Study.Status.RATING:
            return {**_serve_result(study, participation), "status": "closed", "message": scheduler_sql.NOT_OPEN}
        if participation.finished_at is not None:
            return {**_serve_result(study, participation), "status": "finished", "message": scheduler_sql.NOT_TAKING}
        if participation.answered >= study.quota_per_rater:
            return {**_serve_result(study, participation), "status": "quota", "message": scheduler_sql.QUOTA_REACHED}
        problem = _answers_problem(study, answers)
        if problem:
            return {"status": "invalid", "message": problem}
        started = max(comparison.served_at, participation.last_answered_at or comparison.served_at)
        if (now - started).total_seconds() < study.min_seconds_per_vote:
            return serve_with("too_fast", scheduler_sql.TOO_FAST.format(seconds=f"{study.min_seconds_per_vote:g}"))
        if comparison.released_at is not None and comparison.slot_id is not None and not comparison.is_repeat:
            retaken = PairSlot.objects.filter(
                pk=comparison.slot_id, filled__lt=_slot_cap(study), retired=False
            ).update(filled=F("filled") + 1)
            if not retaken:
                return serve_with("expired", scheduler_sql.EXPIRED)

        def choice(side: str) -> str:
            if side == "tie":
                return Vote.Choice.TIE
            return Vote.Choice.A if (side == "left") == comparison.left_is_a else Vote.Choice.B

        Vote.objects.bulk_create(
            Vote(comparison=comparison, criterion=c, choice=choice(answers[c]), response_ms=response_ms, created_at=now)
            for c in study.criteria
        )
        failed = None
        if comparison.attention_check_id is not None:
            known = [c for c in comparison.attention_check.criteria if c in study.criteria]
            failed = any(choice(answers[c]) != Vote.Choice.A for c in known)
        Comparison.objects.filter(pk=comparison.pk).update(answered_at=now, released_at=None, failed_check=failed)
        Participation.objects.filter(pk=participation.pk).update(
            answered=F("answered") + 1, last_answered_at=now, failed_checks=F("failed_checks") + (1 if failed else 0)
        )
        participation.refresh_from_db(fields=["failed_checks", "flagged"])
        if failed and participation.failed_checks >= study.flag_after_failed_checks and not participation.flagged:
            # Flagged in this study only; vote_submit refreshes the study's cached leaderboards.
            Participation.objects.filter(pk=participation.pk).update(flagged=True, flag_reason=Participation.FlagReason.ATTENTION_CHECKS)
            return {**serve_with("recorded"), "flagged_now": True}
        return serve_with("recorded")
