"""PostgreSQL cut for ~3 s under a real gunicorn: the server reaches the test database through a
fault-injecting proxy. Votes sent during the cut get a 503 with a retry message, no submit is
half-written, and the same submits succeed once the database is back."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count

from ratings.models import Comparison, Vote
from tests.processes import GunicornServer
from tests.reliability.http_rater import HttpRater
from tests.reliability.proxy import FaultProxy

pytestmark = pytest.mark.slow

RATERS = 6
CUT_S = 3.0


@pytest.fixture
def server_through_proxy(transactional_db, artifacts_dir, request):
    db = connection.settings_dict
    proxy = FaultProxy(int(db["PORT"] or 5432), db["HOST"] or "127.0.0.1").start()
    server = GunicornServer(
        env={
            "DATABASE_URL": f"postgres://{db['USER']}@127.0.0.1:{proxy.port}/{db['NAME']}",
            "EVALSITE_DATA_DIR": str(settings.DATA_DIR),
            "REDIS_URL": "",
        },
        log_path=artifacts_dir / "logs" / f"gunicorn-{request.node.name}.log",
    ).start()
    yield proxy, server
    server.stop()
    proxy.stop()


def test_a_three_second_database_cut_loses_no_vote_and_half_writes_none(server_through_proxy, make_study):
    proxy, server = server_through_proxy
    # 4 models x 10 prompts = 60 pairs per rater: more than a rater gets through at 5 votes a second.
    study = make_study(n_models=4, n_prompts=10, votes_per_pair=RATERS, quota_per_rater=60, attention_check_rate=0, repeat_share=0)
    raters = [HttpRater(server.url, study, f"cut{i}") for i in range(RATERS)]
    for rater in raters:
        rater.start()
        assert rater.token, "the rater was served no pair before the cut"
    replies: list[tuple[str, int, dict]] = []
    lock, errors = threading.Lock(), []
    stop_at = time.monotonic() + CUT_S + 4

    def rate(i: int) -> None:
        # Vote until the time is up; after a 503, send the very same submit again.
        rater = raters[i]
        try:
            body = None
            while rater.token and (time.monotonic() < stop_at or body is not None):
                body = body or rater.vote_body()
                response = rater.post_vote(body)
                payload = response.json()
                with lock:
                    replies.append((body["token"], response.status_code, payload))
                if response.status_code == 503:
                    time.sleep(0.2)
                    continue
                assert response.status_code == 200 and payload["status"] in ("recorded", "duplicate"), payload
                rater.state, body = payload, None
                time.sleep(0.2)
        except Exception as error:  # reported below with the rater's number
            errors.append((i, repr(error)))

    threads = [threading.Thread(target=rate, args=(i,)) for i in range(RATERS)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    proxy.cut()
    time.sleep(CUT_S)
    proxy.restore()
    for thread in threads:
        thread.join(60)
    assert not errors, errors

    statuses = Counter((code, payload["status"]) for _, code, payload in replies)
    assert set(statuses) <= {(200, "recorded"), (200, "duplicate"), (503, "unavailable")}, statuses
    assert statuses[(503, "unavailable")] >= RATERS, f"the cut was not felt by every rater: {statuses}"
    unavailable = [payload for _, code, payload in replies if code == 503]
    assert all("briefly unavailable" in p["message"] and "Submit again" in p["message"] for p in unavailable)

    # Every submit that met the cut was later acknowledged, and each submit is all or nothing.
    refused = {token for token, code, _ in replies if code == 503}
    acknowledged = {token for token, code, _ in replies if code == 200}
    assert refused <= acknowledged, "a submit refused during the cut never succeeded afterwards"
    criteria = len(study.criteria)
    stored = dict(Comparison.objects.filter(study=study).annotate(n=Count("votes")).filter(n__gt=0).values_list("token", "n"))
    assert set(stored.values()) == {criteria}, f"a submit was half-written: {stored}"
    assert {str(t) for t in stored} == acknowledged
    recorded = [token for token, code, payload in replies if code == 200 and payload["status"] == "recorded"]
    assert Vote.objects.filter(comparison__study=study).count() == len(set(acknowledged)) * criteria
    assert len(recorded) <= len(acknowledged)  # a commit whose reply was lost shows up as "duplicate"
    print(f"\n{statuses}, {proxy.accepted} database connections through the proxy")
