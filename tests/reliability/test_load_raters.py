"""32 raters at once over real HTTP against a live server on PostgreSQL, on a study with two votes
per pair so they contend for the last slots, and with double submits (the same vote sent twice
at once on two connections). The votes in the database are exactly the acknowledged ones."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db.models import Count

from ratings.models import Comparison, PairSlot, Vote
from tests.reliability.http_rater import HttpRater

pytestmark = pytest.mark.slow

RATERS = 32


def test_32_raters_with_double_submits_store_exactly_the_acknowledged_votes(transactional_db, live_server, make_study, settings):
    settings.EVALSITE_JOINS_PER_ADDRESS_PER_MINUTE = RATERS  # every rater joins from 127.0.0.1
    # 3 models x 8 prompts = 24 slots x 2 votes = 48 slot votes, for 32 raters wanting 5 each.
    study = make_study(n_models=3, n_prompts=8, votes_per_pair=2, quota_per_rater=5)
    raters = [HttpRater(live_server.url, study, f"load{i}") for i in range(RATERS)]
    submits: list[tuple[str, int, dict]] = []  # (token, HTTP status, JSON) of every vote sent
    lock, errors = threading.Lock(), []
    barrier = threading.Barrier(RATERS)

    def send(rater: HttpRater, body: dict, http=None) -> dict:
        response = rater.post_vote(body, http)
        payload = response.json()
        with lock:
            submits.append((body["token"], response.status_code, payload))
        return payload

    def walk(i: int) -> None:
        rater = raters[i]
        try:
            rater.start()
            barrier.wait(60)
            for n in range(20):  # bounded: the quota is 5
                if rater.token is None:
                    return
                body = rater.vote_body()
                if n % 2 == 0:
                    # A double click: the same submit twice, concurrently, on two connections.
                    twin = rater.twin()
                    other: list[dict] = []
                    thread = threading.Thread(target=lambda: other.append(send(rater, body, twin)))
                    thread.start()
                    payload = send(rater, body)
                    thread.join(60)
                else:
                    payload = send(rater, body)
                if "pairs" not in payload:
                    raise AssertionError(f"rater {i} got no next pairs: {payload}")
                rater.state = payload
        except Exception as error:  # reported below with the rater's number
            errors.append((i, repr(error)))
            barrier.abort()

    threads = [threading.Thread(target=walk, args=(i,)) for i in range(RATERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads), "a rater thread did not finish within 3 minutes"

    # Accepted = HTTP 200 with status "recorded"; "duplicate" (200) wrote nothing; nothing else came back.
    statuses = Counter((code, payload["status"]) for _, code, payload in submits)
    assert set(statuses) <= {(200, "recorded"), (200, "duplicate")}, statuses
    recorded = [token for token, _, payload in submits if payload["status"] == "recorded"]
    per_token = Counter(token for token, _, _ in submits)
    assert len(recorded) == len(set(recorded)), "one submit was recorded twice"
    assert statuses[(200, "duplicate")] == sum(n - 1 for n in per_token.values()), "a double submit was not answered as a duplicate"
    assert sum(1 for n in per_token.values() if n == 2) >= RATERS, "too few double submits were sent"

    criteria = len(study.criteria)
    assert Vote.objects.filter(comparison__study=study).count() == len(recorded) * criteria
    stored = dict(Comparison.objects.filter(study=study).annotate(n=Count("votes")).filter(n__gt=0).values_list("token", "n"))
    assert {str(token): n for token, n in stored.items()} == {token: criteria for token in recorded}

    # No slot past its target, counted both ways, and the slots were contended to the end.
    for slot in PairSlot.objects.filter(study=study):
        answered = Comparison.objects.filter(slot=slot, is_repeat=False, attention_check__isnull=True, answered_at__isnull=False).count()
        assert answered <= slot.filled <= study.votes_per_pair, (slot.pk, answered, slot.filled)
    assert PairSlot.objects.filter(study=study, filled=study.votes_per_pair).count() == PairSlot.objects.filter(study=study).count()
    print(f"\n{len(submits)} submits, {len(recorded)} recorded, {statuses[(200, 'duplicate')]} duplicates")
