"""Votes only where they count, and crowd identities that cannot be taken over (issue 18).

The vote-refusal matrix runs every combination of study status x participant state x
reservation state through both database paths (the PL/pgSQL function and the ORM), and the
crowd-identity tests attack through HTTP as a second browser holding a victim's PROLIFIC_PID.
"""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import pytest
from django.utils import timezone

from ratings import raters, scheduler
from ratings.models import Comparison, Participation, Rater, Study, Vote
from tests.ratings.rater_client import RaterSession, RecordingClient

pytestmark = pytest.mark.django_db

STATUSES = ("rating", "paused", "closed")
PARTICIPANTS = ("active", "finished", "withdrawn")
# live: a reservation still held; lapsed: given back, its slot still has room (a late vote
# counts); past_quota: given back after the rater already answered their quota elsewhere.
RESERVATIONS = ("live", "lapsed", "past_quota")
ANSWERS = {"prompt_adherence": "left", "image_quality": "right"}


def _serve(study, rater):
    return scheduler.session_serve(study_id=study.pk, rater_id=rater.pk, rng=random.Random(1))


def _vote(study, rater, token):
    return scheduler.vote_submit(study_id=study.pk, rater_id=rater.pk, token=token, answers=ANSWERS, response_ms=2000)


def _expected(status: str, participant: str, reservation: str) -> str:
    if status != "rating":
        return "closed"
    if participant != "active":
        return "finished"
    if reservation == "past_quota":
        return "quota"
    return "recorded"


@pytest.mark.parametrize("status,participant,reservation", list(itertools.product(STATUSES, PARTICIPANTS, RESERVATIONS)))
def test_a_vote_counts_only_in_an_open_study_from_a_live_session_within_quota(make_study, hot_path, status, participant, reservation):
    study = make_study(n_models=3, n_prompts=4, quota_per_rater=2, votes_per_pair=5, attention_check_rate=0, repeat_share=0)
    rater, participation = raters.rater_join(study=study, source=Rater.Source.PROLIFIC, external_id="victim")
    raters.participation_consent(participation=participation)
    first = _serve(study, rater)["pairs"]
    assert len(first) == 2
    target = first[0]["token"]
    if reservation in ("lapsed", "past_quota"):
        Comparison.objects.filter(rater=rater).update(expires_at=timezone.now() - timedelta(seconds=1))
        scheduler.reservations_release_lapsed(study_id=study.pk)
    if reservation == "past_quota":
        # Two fresh pairs answered: the quota is reached; the old tokens are still in hand.
        for pair in _serve(study, rater)["pairs"]:
            assert _vote(study, rater, pair["token"])["status"] == "recorded"
    if participant == "finished":
        raters.participation_finish(participation=participation)
    elif participant == "withdrawn":
        raters.rater_withdraw(rater=rater)
    Study.objects.filter(pk=study.pk).update(status=status)
    votes_before = Vote.objects.count()

    result = _vote(study, rater, target)

    expected = _expected(status, participant, reservation)
    assert result["status"] == expected, result
    comparison = Comparison.objects.get(token=target)
    if expected == "recorded":
        assert Vote.objects.count() == votes_before + len(ANSWERS) and comparison.answered_at is not None
    else:
        assert result["message"] and Vote.objects.count() == votes_before and comparison.answered_at is None
        assert "recorded" in result["message"]  # "... was not recorded"
    answered = Participation.objects.get(pk=participation.pk).answered
    assert answered <= study.quota_per_rater
    # The other old token: never past the quota either.
    if reservation == "past_quota":
        assert _vote(study, rater, first[1]["token"])["status"] != "recorded"
        assert Participation.objects.get(pk=participation.pk).answered == 2


def test_the_vote_endpoint_answers_a_refusal_with_409_and_its_message(make_study, hot_path):
    study = make_study(n_models=2, n_prompts=2, attention_check_rate=0, repeat_share=0)
    session = RaterSession(RecordingClient(), study)
    session.join_prolific("p-closed", "S", "SESSION-A")
    session.start()
    token = session.token
    Study.objects.filter(pk=study.pk).update(status=Study.Status.CLOSED)
    response = session.vote(token=token)
    assert response.status_code == 409
    assert "not taking answers" in response.json()["message"]
    assert not Vote.objects.exists()


# --- Crowd identity --------------------------------------------------------------------------


def test_a_second_join_with_a_victims_pid_cannot_withdraw_vote_or_read_as_them(make_study):
    study = make_study(n_models=3, n_prompts=4, attention_check_rate=0, repeat_share=0)
    victim = RaterSession(RecordingClient(), study)
    assert victim.join_prolific("5f1e2d3c4b5a69788796a5b4", "PSTUDY", "VICTIM-SESSION").status_code == 302
    victim.start()
    assert victim.vote().status_code == 200
    token = victim.token
    victim_rater = Rater.objects.get(external_id="5f1e2d3c4b5a69788796a5b4")

    for session_id in ("", "ATTACKER-SESSION"):
        attacker = RaterSession(RecordingClient(), study)
        response = attacker.join_prolific("5f1e2d3c4b5a69788796a5b4", "PSTUDY", session_id)
        assert response.status_code == 409
        assert "already started this study in another browser" in response.content.decode()
        assert f"rater_{study.pk}" not in attacker.client.cookies or not attacker.client.cookies[f"rater_{study.pk}"].value
        # Nothing of the victim's is reachable: not the page, the pair's images, a vote, or withdrawal.
        page = attacker.client.get(f"/rate/{study.pk}/")
        assert page.status_code == 302 and "/login/" in page["Location"]
        for side in ("left", "right"):
            assert attacker.client.get(f"/rate/{study.pk}/image/{token}/{side}/").status_code == 404
        attacker.client.get("/login/")  # a CSRF cookie, as a real browser would have
        assert attacker.vote(token=token).status_code == 403
        withdrawal = attacker.post_form(f"/rate/{study.pk}/withdraw/")
        assert withdrawal.status_code == 302 and "/login/" in withdrawal["Location"]

    victim_rater.refresh_from_db()
    assert victim_rater.withdrawn_at is None and victim_rater.external_id == "5f1e2d3c4b5a69788796a5b4"
    assert Participation.objects.filter(study=study).count() == 1
    assert not Vote.objects.filter(comparison__rater=victim_rater, excluded=True).exists()
    assert Comparison.objects.get(token=token).answered_at is None
    # The victim carries on in their own browser.
    assert victim.vote().status_code == 200
    assert Participation.objects.get(study=study).answered == 2


def test_joins_are_bounded_per_client_address_and_per_participant_id(make_study, settings, monkeypatch):
    settings.EVALSITE_JOINS_PER_ADDRESS_PER_MINUTE = 3
    settings.EVALSITE_JOINS_PER_ID_PER_MINUTE = 2
    monkeypatch.setattr(raters, "join_window", lambda: 1)  # one minute throughout: the test cannot straddle two
    study = make_study(n_models=2, n_prompts=2)

    def join(pid, address, session="S1"):
        return RaterSession(RecordingClient(REMOTE_ADDR=address), study).join_prolific(pid, "S", session)

    statuses = [join(f"crowd{i:04d}", "203.0.113.7", f"SESSION{i}").status_code for i in range(5)]
    assert statuses == [302, 302, 302, 429, 429]
    assert "from your network" in join("crowd0099", "203.0.113.7").content.decode()
    assert Participation.objects.filter(study=study).count() == 3
    # Another address is not held back by the first one's joins.
    assert join("crowd9999", "198.51.100.9", "SESSION9").status_code == 302
    # One id opened again and again, from addresses of its own: bounded too.
    assert [join("again0001", f"192.0.2.{n}", "SESSIONX").status_code for n in range(1, 4)] == [302, 302, 429]
    # The next minute takes joins again.
    monkeypatch.setattr(raters, "join_window", lambda: 2)
    assert join("crowd0005", "203.0.113.7", "SESSION5").status_code == 302


@pytest.mark.parametrize("status", [Study.Status.PAUSED, Study.Status.CLOSED])
def test_no_completion_code_for_a_participant_who_never_consented(make_study, status):
    study = make_study(n_models=2, n_prompts=2)
    session = RaterSession(RecordingClient(), study)
    assert session.join_prolific("never-consented", "S", "SESSION-N").status_code == 302
    Study.objects.filter(pk=study.pk).update(status=status)
    response = session.client.get(f"/rate/{study.pk}/finish/", follow=True)
    assert study.completion_code not in response.content.decode()
    assert Participation.objects.get(study=study).finished_at is None
