"""Behind a reverse proxy (issue 25, item 4): the client address comes from the trusted proxy
count (``common.network.client_address``) for the login lockout, the join throttle and the
request log. Ten wrong passwords from one client lock that client, not everyone behind the
proxy, whatever ``X-Forwarded-For`` the client forges; with the proxy count unset, the test
shows the lockout every visitor would share."""

from __future__ import annotations

import logging
import re

import pytest
from axes.models import AccessAttempt

from ratings import raters, studies
from tests.factories import UserFactory
from tests.ratings.rater_client import study_link
from tests.reliability.reverse_proxy import ReverseProxy, session_from

PASSWORD = "correct-horse-battery-staple"
ATTACKER, VICTIM = "127.0.0.2", "127.0.0.3"


@pytest.fixture
def proxy(live_server):
    running = ReverseProxy(live_server.url).start()
    yield running
    running.stop()


def login(session, proxy: ReverseProxy, username: str, password: str, forged: str | None = None):
    headers = {"X-Forwarded-For": forged} if forged else {}
    page = session.get(f"{proxy.url}/login/", headers=headers, timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return session.post(
        f"{proxy.url}/login/", data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers=headers, allow_redirects=False, timeout=30,
    )


def ten_wrong_passwords(proxy: ReverseProxy) -> list[int]:
    """The attacker: a wrong password for ten different usernames, each request claiming to come
    from the victim's address."""
    attacker = session_from(ATTACKER)
    return [login(attacker, proxy, f"guess{n}", "not-the-password", forged=VICTIM).status_code for n in range(10)]


def test_ten_wrong_passwords_from_one_client_do_not_lock_out_another(transactional_db, proxy, settings):
    settings.EVALSITE_PROXY_COUNT = 1
    assert settings.AXES_FAILURE_LIMIT == 10
    for name in ("ada", "grace"):
        studies.researcher_grant(user=UserFactory(username=name, password=PASSWORD))
    statuses = ten_wrong_passwords(proxy)
    assert statuses[:9] == [200] * 9 and statuses[9] in (200, 429)
    assert proxy.forwarded[-1] == f"{VICTIM}, {ATTACKER}"  # the chain the app saw: the forged entry, then the proxy's
    # The attacker's address is locked, even with a right password...
    assert login(session_from(ATTACKER), proxy, "ada", PASSWORD).status_code == 429
    # ...the victim behind the same proxy is not: the login page and the token endpoint.
    victim = session_from(VICTIM)
    assert login(victim, proxy, "grace", PASSWORD).status_code == 302
    token = session_from(VICTIM).post(f"{proxy.url}/api/v1/auth/token/", json={"username": "ada", "password": PASSWORD}, timeout=30)
    assert token.status_code == 200 and token.json()["token"]
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}


def test_without_the_proxy_count_everyone_behind_the_proxy_shares_one_lock(transactional_db, proxy, settings):
    """What the test above guards against: the proxy's own address for every visitor."""
    settings.EVALSITE_PROXY_COUNT = 0
    studies.researcher_grant(user=UserFactory(username="grace", password=PASSWORD))
    ten_wrong_passwords(proxy)
    assert login(session_from(VICTIM), proxy, "grace", PASSWORD).status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


def test_the_join_throttle_and_the_request_log_see_the_client_behind_the_proxy(transactional_db, proxy, settings, make_study, monkeypatch, caplog):
    settings.EVALSITE_PROXY_COUNT = 1
    settings.EVALSITE_JOINS_PER_ADDRESS_PER_MINUTE = 3
    monkeypatch.setattr(raters, "join_window", lambda: 1)
    study = make_study(n_models=2, n_prompts=2)

    def join(address: str, pid: str) -> int:
        link = study_link(study, PROLIFIC_PID=pid, STUDY_ID="S", SESSION_ID=f"X{pid}")
        return session_from(address).get(proxy.url + link, headers={"X-Forwarded-For": VICTIM}, allow_redirects=False, timeout=30).status_code

    with caplog.at_level(logging.INFO, logger="evalsite.request"):
        assert [join(ATTACKER, f"bot{n}") for n in range(5)] == [302, 302, 302, 429, 429]
        assert join(VICTIM, "real1") == 302
    clients = {record.client for record in caplog.records if getattr(record, "path", "").startswith(f"/rate/{study.pk}/join/")}
    assert clients == {ATTACKER, VICTIM}
