"""Many raters at once against the real PostgreSQL: each thread has its own connection and
transaction, as gunicorn workers do. Run on both hot paths."""

import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from ratings import raters, scheduler
from ratings.raters import rater_join
from ratings.models import Comparison, PairSlot, Rater, Vote

pytestmark = pytest.mark.django_db(transaction=True)


def all_at_once(work, count: int) -> list:
    """Run ``work(i)`` in ``count`` threads released together; returns results in order."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as error:  # surfaced below with the thread's number
            errors.append((i, error))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


def test_many_raters_at_once_never_hold_more_than_the_last_slots_of_a_pair(make_study, hot_path):
    # Two slots (one model pair x two prompts), two votes each: four reservations in all.
    study = make_study(n_models=2, n_prompts=2, votes_per_pair=2, attention_check_rate=0, repeat_share=0)
    crowd = [rater_join(study=study, source=Rater.Source.PROLIFIC, external_id=f"c{i}")[0] for i in range(16)]
    results = all_at_once(lambda i: scheduler.session_serve(study_id=study.pk, rater_id=crowd[i].pk, rng=random.Random(i)), 16)
    served = [pair["token"] for result in results for pair in result["pairs"]]
    assert len(served) == 4 == len(set(served))
    per_slot = Counter(Comparison.objects.filter(study=study).values_list("slot_id", flat=True))
    assert sorted(per_slot.values()) == [2, 2]
    assert sorted(PairSlot.objects.filter(study=study).values_list("filled", flat=True)) == [2, 2]
    # Every live reservation's vote is accepted, all at once.
    holders = [(r, result["pairs"][0]["token"]) for r, result in zip(crowd, results) if result["pairs"]]
    votes = all_at_once(
        lambda i: scheduler.vote_submit(study_id=study.pk, rater_id=holders[i][0].pk, token=holders[i][1],
                                       answers={"prompt_adherence": "left", "image_quality": "right"}, response_ms=1000),
        len(holders),
    )
    assert [v["status"] for v in votes] == ["recorded"] * len(holders)
    assert Vote.objects.count() == 2 * len(holders)


def test_concurrent_votes_and_double_submits_count_once(make_study, hot_path):
    study = make_study(n_models=3, n_prompts=6, votes_per_pair=3, attention_check_rate=0, repeat_share=0)
    crowd = [rater_join(study=study, source=Rater.Source.PROLIFIC, external_id=f"d{i}")[0] for i in range(8)]
    tokens = [scheduler.session_serve(study_id=study.pk, rater_id=r.pk)["pairs"][0]["token"] for r in crowd]

    def submit(i):  # every rater's submit arrives twice at the same moment (a double click)
        rater, token = crowd[i // 2], tokens[i // 2]
        return scheduler.vote_submit(study_id=study.pk, rater_id=rater.pk, token=token,
                                    answers={"prompt_adherence": "left", "image_quality": "left"}, response_ms=900)["status"]

    statuses = all_at_once(submit, 16)
    assert Counter(statuses) == {"recorded": 8, "duplicate": 8}
    assert Vote.objects.count() == 16
    assert set(Comparison.objects.filter(token__in=tokens).values_list("answered_at", flat=True)) != {None}


def test_expired_reservations_are_freed_for_raters_arriving_together(make_study, hot_path):
    study = make_study(n_models=2, n_prompts=3, votes_per_pair=1, attention_check_rate=0, repeat_share=0, reservation_seconds=30)
    leavers = [rater_join(study=study, source=Rater.Source.PROLIFIC, external_id=f"gone{i}")[0] for i in range(2)]
    for rater in leavers:
        scheduler.session_serve(study_id=study.pk, rater_id=rater.pk)
    assert set(PairSlot.objects.values_list("filled", flat=True)) == {1}  # 3 slots: 2 + 1 reserved
    # The tabs were abandoned long ago.
    Comparison.objects.update(expires_at=timezone.now() - timedelta(seconds=5))
    arrivals = [raters.rater_join(study=study, source=Rater.Source.PROLIFIC, external_id=f"new{i}")[0] for i in range(6)]
    results = all_at_once(lambda i: scheduler.session_serve(study_id=study.pk, rater_id=arrivals[i].pk), 6)
    served = [pair["token"] for result in results for pair in result["pairs"]]
    assert len(served) == 3 == len(set(served))
    assert Comparison.objects.filter(rater__in=leavers, released_at__isnull=False).count() == 3
    assert set(PairSlot.objects.values_list("filled", flat=True)) == {1}
