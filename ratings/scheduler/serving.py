"""Serving: a rater's open pairs, topped up to ``OPEN_PAIRS`` (an attention check, a repeat, or
the least-filled slot they have not seen; adaptive studies first draw a model pair by its
weight). ``session_serve`` runs the PL/pgSQL function on PostgreSQL, the ORM code below
elsewhere; both do the same steps in the same lock order."""

from __future__ import annotations

import random
import time
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from ..models import Comparison, PairSlot, Participation, Study
from . import sql
from .attention import attention_check_serve
from .outcomes import Outcome
from .reservations import reservations_release_lapsed
from .rules import OPEN_PAIRS, SERVE_RETRIES, SERVE_RETRY_SECONDS, SLOT_UNCAPPED, Sampling, StopWhen, slot_random_key


def session_serve(*, study_id: int, rater_id: int, rng: random.Random | None = None) -> dict:
    """The rater's open pairs (current first), serving new ones up to ``OPEN_PAIRS``."""
    if sql.hot_path_enabled():
        return sql.call("ratings_serve", [study_id, rater_id])
    return serve_python(study_id=study_id, rater_id=rater_id, rng=rng or random.SystemRandom())


# The ORM path: the same steps as ratings_serve_locked.sql in the newest version in sql/.

def open_pairs(study_id: int, rater_id: int):
    return Comparison.objects.filter(study_id=study_id, rater_id=rater_id, answered_at__isnull=True, released_at__isnull=True)


def serve_result(study: Study, participation: Participation) -> dict:
    """The serving's answer; a set comparison's entry also says how many images each set has
    (``set_size``: the study's seeds), looked up only in studies with set criteria."""
    rows = open_pairs(study.pk, participation.rater_id).order_by("pk")
    if study.set_criteria:
        set_size = len(study.job.seeds)
        pairs = [
            {"token": str(token), "prompt": prompt, **({"set_size": set_size} if kind == PairSlot.Kind.SET else {})}
            for token, prompt, kind in rows.values_list("token", "prompt__text", "slot__kind")
        ]
    else:
        pairs = [{"token": str(token), "prompt": prompt} for token, prompt in rows.values_list("token", "prompt__text")]
    return {"status": Outcome.OK.status, "answered": participation.answered, "quota": study.quota_per_rater, "pairs": pairs}


def serve_python(*, study_id: int, rater_id: int, rng: random.Random) -> dict:
    now = timezone.now()
    with transaction.atomic():
        study = Study.objects.filter(pk=study_id).first()
        participation = Participation.objects.select_for_update().filter(study_id=study_id, rater_id=rater_id).first()
        if study is None or participation is None:
            return {"status": Outcome.FORBIDDEN.status}
        hold = timedelta(seconds=study.reservation_seconds)
        open_pairs(study_id, rater_id).filter(expires_at__gte=now, expires_at__lt=now + hold / 2).update(expires_at=now + hold)
        reservations_release_lapsed(study_id=study_id, now=now)
        n_open = open_pairs(study_id, rater_id).count()
        retries = 0
        while (
            n_open < OPEN_PAIRS
            and participation.answered + n_open < study.quota_per_rater
            and study.status == Study.Status.RATING
            and study.stopped_at is None
            and participation.finished_at is None
            and budget_serves_remain(study)
        ):
            fields = dict(study_id=study_id, rater_id=rater_id, served_at=now, expires_at=now + hold)
            if not (
                attention_check_serve(study, rater_id, rng, fields)
                or _serve_repeat(study, rater_id, rng, fields)
                or _serve_slot(study, rater_id, rng, fields)
            ):
                if n_open == 0 and retries < SERVE_RETRIES:
                    # The rest may be locked by raters being served, or given back, right now:
                    # look again shortly rather than end this rater's session.
                    retries += 1
                    time.sleep(SERVE_RETRY_SECONDS)
                    continue
                break
            n_open += 1
        return serve_result(study, participation)


def _serve_repeat(study: Study, rater_id: int, rng: random.Random, fields: dict) -> bool:
    if not (study.repeat_share > 0 and rng.random() < study.repeat_share):
        return False
    recent = list(Comparison.objects.filter(study=study, rater_id=rater_id).order_by("-pk").values_list("pk", flat=True)[:3])
    if not recent:
        return False
    # Only a pair whose slot still serves: a retired slot shows a hidden image, or one raters reported.
    candidates = list(
        Comparison.objects.filter(
            study=study, rater_id=rater_id, answered_at__isnull=False, slot__retired=False, is_repeat=False, pk__lt=min(recent)
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


def slot_cap(study: Study) -> int:
    """Most reservations plus answers a slot takes: the vote target, or (for a study that its
    stopping rule or budget stops) none: a hot model pair's slots take more than the target,
    and least-filled-first within the pair keeps its prompts and seeds balanced."""
    return study.votes_per_pair if study.stop_when == StopWhen.TARGET else SLOT_UNCAPPED


def budget_serves_remain(study: Study) -> bool:
    """The vote budget lets the study serve another pair (as last read; see ``budget_serve_take``)."""
    return study.vote_budget is None or study.budget_serves_left is None or study.budget_serves_left > 0


def budget_serve_take(study: Study) -> bool:
    """Take one of the serves the vote budget has left (``ratings/sampling.py`` sets them); False
    when none is left, and then the study serves nothing more until a refresh or a reopen."""
    if study.vote_budget is None or study.budget_serves_left is None:
        return True
    taken = Study.objects.filter(pk=study.pk, budget_serves_left__gt=0).update(budget_serves_left=F("budget_serves_left") - 1)
    if not taken:
        study.budget_serves_left = 0  # ends this serving loop without the retries meant for locked slots
    return bool(taken)


def drawn_model_pair(study: Study, rng: random.Random) -> int | None:
    """Adaptive sampling: a model pair drawn by the study's precomputed weights, else None.

    The weights are written off the request path (``ratings/sampling.py``); a new sampling rule
    that serves differently changes this, ``_serve_slot`` and the slot search of the SQL."""
    weights = study.pair_weights
    if study.sampling != Sampling.ADAPTIVE or not isinstance(weights, list) or not weights:
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
    open_slots = PairSlot.objects.select_for_update(skip_locked=True).filter(study=study, retired=False, filled__lt=slot_cap(study))
    slot = None
    model_pair = drawn_model_pair(study, rng)
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
    if not budget_serve_take(study):
        return False
    PairSlot.objects.filter(pk=slot.pk).update(filled=F("filled") + 1, random_key=slot_random_key(study, slot.seed, rng))
    Comparison.objects.create(
        prompt_id=slot.prompt_id, seed=slot.seed, image_a_id=slot.image_a_id, image_b_id=slot.image_b_id,
        left_is_a=rng.random() < 0.5, slot=slot, **fields,
    )
    return True
