"""A paid crowd that cannot be drained (issue 25), attacked over HTTP as a stranger with a leaked
study link would: invented participants reporting every pair, a screened-out participant trying
again, a flood of invented joins beside one real participant, and 20 consents racing for 3
places. The rules on the hot path run on both database paths (``hot_path``)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from django.test import Client

from ratings import crowd, payments, raters, selectors, studies
from ratings.models import Comparison, PairSlot, Participation, Rater, Study
from ratings.scheduler.voting import REPORTER_MIN_ANSWERED, reports_allowed
from tests.factories import UserFactory
from tests.ratings.rater_client import RaterSession, RecordingClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_minute(monkeypatch):
    """Pin the join throttle's window, so a test cannot straddle two minutes."""
    monkeypatch.setattr(raters, "join_window", lambda: 1)


def joined(study, pid: str, address: str, session_id: str | None = None) -> RaterSession:
    session = RaterSession(RecordingClient(REMOTE_ADDR=address), study)
    response = session.join_prolific(pid, "STUDY1", session_id or f"SESSION{pid}")
    assert response.status_code == 302, response.content.decode()[:500]
    return session


def page_text(response) -> str:
    return response.content.decode()


# --- 1. Reports are not a lever --------------------------------------------------------------


def report_everything(session: RaterSession) -> tuple[int, object]:
    """Skip pair after pair until the site refuses; returns (skips accepted, the refusal)."""
    accepted = 0
    while session.state.get("pairs"):
        response = session.report("broken", "made up")
        if response.status_code != 200:
            return accepted, response
        accepted += 1
    return accepted, None


def test_two_invented_participants_reporting_everything_retire_nothing_and_are_not_paid(make_study, hot_path, one_minute):
    study = make_study(n_models=3, n_prompts=4, votes_per_pair=2, attention_check_rate=0, repeat_share=0, quota_per_rater=6)
    slots = PairSlot.objects.filter(study=study).count()
    attackers = [joined(study, f"invented{n}", f"203.0.113.{n}") for n in (1, 2)]
    for attacker in attackers:
        attacker.start()
    # The first reports everything before answering anything; the second answers enough pairs to
    # look like a rater first. Neither can skip more than their allowance, nor retire a pair.
    for _ in range(REPORTER_MIN_ANSWERED):
        assert attackers[1].vote().status_code == 200
    for attacker in attackers:
        accepted, refusal = report_everything(attacker)
        assert accepted == reports_allowed(study)
        assert refusal.status_code == 429 and "as many as it allows" in refusal.json()["message"]
        assert refusal.json()["pairs"]  # the pair stays on the page to be answered
    assert PairSlot.objects.filter(study=study, retired=True).count() == 0
    # A withdrawn attacker replaying the old cookie reports nothing.
    cookie = attackers[0].client.cookies[f"rater_{study.pk}"].value
    token = attackers[0].token
    attackers[0].post_form(f"/rate/{study.pk}/withdraw/")
    attackers[0].client.cookies[f"rater_{study.pk}"] = cookie
    replay = attackers[0].post_json(f"/rate/{study.pk}/report/", {"token": token, "reason": "broken"})
    assert replay.status_code == 409 and "your report was not recorded" in replay.json()["message"]
    # The study is whole: an honest participant rates a full quota and gets the completed code.
    honest = joined(study, "honest1", "192.0.2.50")
    honest.start()
    answered = 0
    while honest.state["pairs"]:
        assert honest.vote().status_code == 200
        answered += 1
    assert answered == study.quota_per_rater and PairSlot.objects.filter(study=study, retired=False).count() == slots
    assert study.completion_code in page_text(honest.finish())
    # Neither attacker got the completed code, and the export approves neither.
    for attacker in attackers:
        assert all(study.completion_code.encode() not in received.body for received in attacker.client.received)
    rows = {row["crowd_id"]: row for row in payments.study_participants(study=study) if row["crowd_id"]}
    assert rows["honest1"]["suggested_decision"] == "approve"
    assert rows["invented2"]["suggested_decision"] == "return"


def test_reports_from_three_raters_in_good_standing_retire_a_pair_and_staff_serve_it_again(make_study, hot_path, admin_client, one_minute):
    study = make_study(n_models=2, n_prompts=24, votes_per_pair=5, attention_check_rate=0, repeat_share=0, quota_per_rater=30)
    reporters = [joined(study, f"reporter{n}", f"198.51.100.{n + 1}") for n in range(3)]
    for session in reporters:
        session.start()
        for _ in range(REPORTER_MIN_ANSWERED):
            assert session.vote().status_code == 200
    # A pair none of them was shown yet: each answers pairs until it is on their screen, then reports it.
    seen = Comparison.objects.filter(study=study).values("slot_id")
    target = PairSlot.objects.filter(study=study).exclude(pk__in=seen).order_by("filled", "pk").first().pk
    for session in reporters:
        for _ in range(15):
            if Comparison.objects.get(token=session.token).slot_id == target:
                break
            assert session.vote().status_code == 200
        assert session.report("offensive", "looks wrong").status_code == 200
    slot = PairSlot.objects.get(pk=target)
    assert Comparison.objects.filter(slot=slot, reported_at__isnull=False).values("rater_id").distinct().count() == 3
    assert slot.retired and slot.report_retired_at is not None
    # The operations page lists it; serving it again puts it back (its reports stop counting).
    client = admin_client  # staff
    page = client.get(f"/studies/{study.pk}/operations/")
    assert page.status_code == 200 and "retired by reports" in page_text(page) and "looks wrong" in page_text(page)
    restored = client.post(f"/studies/{study.pk}/operations/reports/", {"slots": [target]}, follow=True)
    assert "1 retired pair(s) serve again" in page_text(restored)
    slot.refresh_from_db()
    assert not slot.retired and slot.report_retired_at is None and slot.reports_reviewed_at is not None
    refused = client.post(f"/studies/{study.pk}/operations/reports/", {"slots": ["999999"]}, follow=True)
    assert "Nothing was changed: Not reported pairs of this study: 999999" in page_text(refused)
    # Someone outside the study team cannot: a second researcher is refused, a stranger sent to log in.
    second = UserFactory(username="second-researcher")
    studies.researcher_grant(user=second)
    other = Client()
    other.force_login(second)
    assert other.post(f"/studies/{study.pk}/operations/reports/", {"slots": [target]}).status_code == 403
    assert Client().post(f"/studies/{study.pk}/operations/reports/", {"slots": [target]}).status_code == 302


def test_a_study_out_of_pairs_gives_the_quota_full_code_never_the_completed_one(make_study, hot_path, one_minute):
    study = make_study(n_models=2, n_prompts=2, votes_per_pair=1, attention_check_rate=0, repeat_share=0, quota_per_rater=2)
    first = joined(study, "first", "192.0.2.1")
    first.start()
    while first.state["pairs"]:
        first.vote()
    assert study.completion_code in page_text(first.finish())
    late = joined(study, "late", "192.0.2.2")
    late.start()
    response = late.client.get(f"/rate/{study.pk}/", follow=True)
    text = page_text(response)
    assert response.status_code == 409 and "no pairs left for you" in text
    assert study.quota_full_code in text and study.completion_code not in text
    assert study.completion_code not in page_text(late.finish())
    participation = Participation.objects.get(rater__external_id="late")
    assert (participation.outcome, participation.outcome_reason) == ("quota_full", crowd.OUT_OF_PAIRS)
    rows = {row["crowd_id"]: row for row in payments.study_participants(study=study)}
    assert rows["late"]["suggested_decision"] == "return"
    # A completed outcome with no counted votes (recorded before this rule) is never approved either.
    Participation.objects.filter(pk=participation.pk).update(outcome="completed")
    row = {row["crowd_id"]: row for row in payments.study_participants(study=study)}["late"]
    assert row["suggested_decision"] == "return" and "no counted pairs" in row["suggested_reason"]
    assert b"late" in payments.participants_csv(study=study) and row["bonus"] == 0


# --- 2. An outcome is final ------------------------------------------------------------------


def screened_study(make_study):
    study = make_study(n_models=2, n_prompts=3, attention_check_rate=0, repeat_share=0, quota_per_rater=2)
    images = sorted(selectors.study_items(study=study).items())
    (_, first), (_, second), *_ = images
    right, wrong = next(iter(first.values())), next(iter(second.values()))
    crowd.study_screener_set(study=study, questions=[{"question": "Which image shows the prompt?", "right_image": right, "wrong_image": wrong}])
    return study


def fail_the_screener(session: RaterSession, study) -> None:
    session.start()
    participation = Participation.objects.get(study=study, rater__external_id=session.pid)
    right = crowd.screener_right_side(participation=participation, number=0)
    session.post_form(f"/rate/{study.pk}/screener/", {"q0": "left" if right == "right" else "right"})


def test_a_screened_out_id_rejoining_gets_the_same_outcome_and_is_listed_once(make_study, one_minute):
    study = screened_study(make_study)
    first = joined(study, "5f0c1e2d3b4a59687766aa01", "192.0.2.7", "SESSIONFIRST")
    first.pid = "5f0c1e2d3b4a59687766aa01"
    fail_the_screener(first, study)
    assert study.screened_out_code in page_text(first.finish())

    # Another browser, another session id: the same code, no fresh session.
    again = RaterSession(RecordingClient(REMOTE_ADDR="192.0.2.8"), study)
    response = again.join_prolific(first.pid, "STUDY1", "SESSIONSECOND")
    assert response.status_code == 409 and study.screened_out_code in page_text(response)
    assert "already taken part" in page_text(response) and study.completion_code not in page_text(response)
    assert again.client.get(f"/rate/{study.pk}/").status_code == 302  # no cookie: nothing to rate

    # Withdraw, then rejoin with the same ids: still screened out, still one row.
    first.post_form(f"/rate/{study.pk}/withdraw/")
    back = RaterSession(RecordingClient(REMOTE_ADDR="192.0.2.9"), study)
    response = back.join_prolific(first.pid, "STUDY1", "SESSIONFIRST")
    assert response.status_code == 409 and study.screened_out_code in page_text(response)
    assert back.client.post(f"/rate/{study.pk}/screener/", {"q0": "left"}).status_code == 302  # login: not a participant
    assert Participation.objects.filter(study=study).count() == 1
    csv_text = payments.participants_csv(study=study).decode()
    assert csv_text.count(first.pid) == 1
    (row,) = payments.study_participants(study=study)
    assert row["outcome"] == "screened_out" and row["suggested_decision"] != "approve"


def test_an_id_that_withdrew_before_any_code_cannot_start_again(make_study, one_minute):
    study = make_study(n_models=2, n_prompts=3, attention_check_rate=0, repeat_share=0)
    session = joined(study, "leaver", "192.0.2.20", "SESSIONL")
    session.start()
    session.vote()
    session.post_form(f"/rate/{study.pk}/withdraw/")
    back = RaterSession(RecordingClient(REMOTE_ADDR="192.0.2.21"), study)
    response = back.join_prolific("leaver", "STUDY1", "SESSIONL")
    assert response.status_code == 409 and "You withdrew from this study" in page_text(response)
    assert study.completion_code not in page_text(response)
    assert Participation.objects.filter(study=study).count() == 1 and not Rater.objects.filter(external_id="leaver").exists()


# --- 5. Invented joins close nothing ---------------------------------------------------------


def test_a_flood_of_invented_joins_does_not_close_the_study_to_a_real_participant(make_study, hot_path, settings, one_minute):
    study = make_study(n_models=3, n_prompts=4, attention_check_rate=0, repeat_share=0, quota_per_rater=3, max_participants=2)
    # Sixty invented ids a minute from one address: the address is throttled.
    statuses = [
        RaterSession(RecordingClient(REMOTE_ADDR="203.0.113.66"), study).join_prolific(f"bot{n:03d}", "S", f"B{n}").status_code
        for n in range(60)
    ]
    allowed = settings.EVALSITE_JOINS_PER_ADDRESS_PER_MINUTE
    assert statuses == [302] * allowed + [429] * (60 - allowed)
    # Sixty more from sixty addresses (a botnet): they get in, but joining takes no place.
    for n in range(60):
        joined(study, f"net{n:03d}", f"198.51.100.{n + 1}")
    assert raters.counted_participants(study=study).count() == 0
    # The real participant is let in, rates, and is paid.
    real = joined(study, "5f0c1e2d3b4a59687766bb02", "192.0.2.99")
    real.start()
    while real.state["pairs"]:
        assert real.vote().status_code == 200
    assert study.completion_code in page_text(real.finish())
    assert raters.counted_participants(study=study).count() == 1
    # The cap still holds for people who consent: one more place, then the study is full.
    second, third = joined(study, "net000", "198.51.100.1", "SESSIONnet000"), joined(study, "net001", "198.51.100.2", "SESSIONnet001")
    second.start()
    third.open()
    refused = third.post_form(f"/rate/{study.pk}/consent/", {"answer": "agree"})
    assert refused.status_code == 409 and "This study is full" in page_text(refused)
    assert raters.counted_participants(study=study).count() == 2


def test_twenty_concurrent_consents_against_a_cap_of_three_let_three_in(transactional_db, make_study):
    study = make_study(n_models=2, n_prompts=3, attention_check_rate=0, repeat_share=0, max_participants=3)
    participations = [
        raters.rater_join(study=study, source=Rater.Source.PROLIFIC, external_id=f"racer{n:02d}", crowd_session_id=f"R{n}")[1]
        for n in range(20)
    ]
    barrier, outcomes, lock = threading.Barrier(20), [], threading.Lock()

    def consent(participation):
        try:
            barrier.wait(10)
            try:
                raters.participation_consent(participation=participation)
                result = "in"
            except raters.StudyFull:
                result = "full"
            with lock:
                outcomes.append(result)
        finally:
            connection.close()

    threads = [threading.Thread(target=consent, args=(p,)) for p in participations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["full"] * 17 + ["in"] * 3
    assert raters.counted_participants(study=study).count() == 3
    assert Participation.objects.filter(study=study, outcome="quota_full").count() == 17
    assert Study.objects.get(pk=study.pk).max_participants == 3
