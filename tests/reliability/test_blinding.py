"""Whole rating sessions, and every other page a rater can reach, then a scan of every response
the rater received for anything that names a model: HTML (page titles included), JSON, URLs,
headers, image bytes and image metadata. The study is named after its models, as researchers
name studies: raters must see only its rater title."""

import re
import uuid

import pytest

from ratings import raters, studies
from ratings.models import DEFAULT_RATER_TITLE, Comparison, Study
from tests.ratings.blinding import image_problems, page_titles, scan_received
from tests.ratings.rater_client import RaterSession, RecordingClient, study_link
from tests.factories import UserFactory, database_random_seed

pytestmark = pytest.mark.django_db

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def name_after_models(study) -> Study:
    """Rename the study the way researchers do: every model's name and slug in it."""
    specs = list(study.job.specs.order_by("pk"))
    name = " vs ".join(f"{spec.name} ({spec.slug})" for spec in specs) + " on our prompts"
    Study.objects.filter(pk=study.pk).update(name=name)
    study.refresh_from_db()
    assert all(spec.name in study.name and spec.slug in study.name for spec in specs)
    return study


def test_a_full_rating_session_never_shows_a_model_identity(make_study):
    study = make_study(n_models=4, n_prompts=5, seeds=(0, 1), attention_check_rate=0.4, repeat_share=0.5, quota_per_rater=16)  # high shares: the scan must meet both kinds (P(miss) < 1e-3)
    study = name_after_models(study)
    database_random_seed(250)  # the scheduler's SQL draws with random(): one seed, one session that meets both check kinds
    session = RaterSession(RecordingClient(), study)
    session.join_prolific("5e9d8c7b6a5f4e3d2c1b0a99")
    session.start()
    session.report("broken")
    while session.state["pairs"]:
        session.vote({"prompt_adherence": "left", "image_quality": "right"})
    session.finish()
    received = session.client.received
    shown = Comparison.objects.filter(study=study)
    assert shown.filter(attention_check__isnull=False).exists() and shown.filter(is_repeat=True).exists()
    assert shown.filter(attention_check__kind="degraded").exists()

    assert scan_received(received, study) == []
    assert image_problems(received, study.display_size) == []
    titles = page_titles(received)
    assert titles and all(DEFAULT_RATER_TITLE in title for title in titles.values()), titles
    image_urls = [r.url for r in received if r.headers.get("Content-Type") == "image/png"]
    assert len(image_urls) >= 2 * 16
    pattern = rf"^/rate/{study.pk}/(image/{UUID}/(left|right)|example/(clear|degraded|unrelated))/$"
    assert [url for url in image_urls if not re.match(pattern, url)] == []
    # The page's JSON carries only what the page needs: no sides, images or models.
    for response in received:
        if response.headers.get("Content-Type") == "application/json":
            payload = response.body.decode()
            assert not re.search(r'"(left_is_a|image_a|image_b|spec|model)', payload)


SET_SEEDS = (7340031, 5120017, 9437011)  # distinctive, so the scan can look for them


def test_a_session_with_set_questions_never_shows_a_model_a_seed_or_a_size_difference(make_study):
    """Set pages (issue 16): every image of both sets comes from an opaque URL (the comparison's
    token, a side and a position), the same size and length as every other, and nothing the
    rater receives names a model, a stored file or a seed."""
    study = make_study(
        n_models=2, n_prompts=3, seeds=SET_SEEDS, set_criteria=["diversity"], votes_per_pair=1,
        attention_check_rate=0.3, repeat_share=0.3, quota_per_rater=40,
    )  # 9 pair slots and 3 set slots, one vote each: the session meets every one
    study = name_after_models(study)
    session = RaterSession(RecordingClient(), study)
    session.join_prolific("5e9d8c7b6a5f4e3d2c1b0a98")
    session.start()
    kinds = set()
    while session.state["pairs"]:
        kinds.add(session.state["pairs"][0].get("kind", "pair"))
        session.vote({"prompt_adherence": "left", "image_quality": "right", "diversity": "left"})
    session.finish()
    received = session.client.received
    shown = Comparison.objects.filter(study=study, answered_at__isnull=False)
    assert kinds == {"pair", "set"} and shown.filter(slot__kind="set", is_repeat=False).count() == 3

    assert scan_received(received, study) == []
    assert image_problems(received, study.display_size) == []
    images = [r for r in received if r.headers.get("Content-Type") == "image/png" and "/image/" in r.url]
    set_urls = [r.url for r in images if re.match(rf"^/rate/{study.pk}/image/{UUID}/(left|right)/[0-2]/$", r.url)]
    assert len(set_urls) >= 3 * 2 * 3
    pattern = rf"^/rate/{study.pk}/image/{UUID}/(left|right)/([0-2]/)?$"
    assert [r.url for r in images if not re.match(pattern, r.url)] == []
    # Size-blind: every image a rater receives, pair or set, has one byte length.
    assert len({len(r.body) for r in images}) == 1
    for response in received:
        text = response.body.decode(errors="replace") if not response.headers.get("Content-Type", "").startswith("image/") else ""
        for seed in SET_SEEDS:
            assert str(seed) not in response.url + text + repr(sorted(response.headers.items())), f"seed {seed} in {response.url}"
        if response.headers.get("Content-Type") == "application/json":
            assert not re.search(r'"(left_is_a|image_a|image_b|spec|model|seed)', response.body.decode())


def test_the_scan_finds_a_leak_when_there_is_one(make_study):
    """The scanner itself: a response naming a model is caught in body, header and URL."""
    from tests.ratings.rater_client import Received

    study = make_study(n_models=2, n_prompts=2)
    spec = study.job.specs.first()
    leaks = [
        Received("GET", "/rate/1/", 200, {"Content-Type": "text/html"}, f"<img alt='{spec.name.upper()}'>".encode()),
        Received("GET", f"/rate/1/{spec.slug}.png", 200, {"X-Model": spec.config_hash}, b""),
    ]
    hits = scan_received(leaks, study)
    assert any("model name" in hit and "body" in hit for hit in hits)
    assert any("slug" in hit and "URL" in hit for hit in hits)
    assert any("config hash" in hit and "headers" in hit for hit in hits)


def test_every_page_a_rater_can_reach_shows_the_rater_title_and_never_the_study_name(make_study):
    """Home, consent, instructions (and the MTurk preview), rate, withdraw, withdrawn, declined,
    finish, closed, full, bad links and error answers, for account and crowd raters."""
    study = name_after_models(make_study(n_models=3, n_prompts=3, attention_check_rate=0, repeat_share=0, quota_per_rater=2, max_participants=3))
    received = []

    # An invited account: the home page lists the study by its rater title.
    user = UserFactory(username="blind-rater", password="blind-password")
    raters.rater_invite(study=study, user=user)
    account = RaterSession(RecordingClient(), study)
    account.client.force_login(user)
    home = account.client.get("/")
    assert DEFAULT_RATER_TITLE in home.content.decode()
    account.start()
    account.vote()
    account.client.get(f"/rate/{study.pk}/withdraw/")
    account.post_form(f"/rate/{study.pk}/withdraw/")
    account.client.get(f"/rate/{study.pk}/")  # withdrawn
    received += account.client.received

    # A crowd rater through the study link: a whole session, then errors on purpose.
    crowd = RaterSession(RecordingClient(), study)
    crowd.join_prolific("blind0000000000000000001")
    crowd.start()
    while crowd.state["pairs"]:
        crowd.vote()
    crowd.finish()
    crowd.client.get(f"/rate/{study.pk}/finish/")
    crowd.client.get(f"/rate/{study.pk}/image/{uuid.uuid4()}/left/")  # 404
    crowd.client.get(f"/rate/{study.pk}/example/nonsense/")  # 404
    crowd.client.post(f"/rate/{study.pk}/vote/", "not json", content_type="application/json", HTTP_X_CSRFTOKEN=crowd.csrf())  # 400
    received += crowd.client.received

    # Someone who declines, an MTurk preview, bad links, a rater arriving when the study is full.
    other = RecordingClient()
    other.get(study_link(study, PROLIFIC_PID="blind0000000000000000002", STUDY_ID="S", SESSION_ID="X"), follow=True)
    other.post(f"/rate/{study.pk}/consent/", {"answer": "decline", "csrfmiddlewaretoken": other.cookies["csrftoken"].value})
    other.get(study_link(study, "mturk", assignmentId="ASSIGNMENT_ID_NOT_AVAILABLE", hitId="H"))
    other.get(study_link(study, PROLIFIC_PID="bad id!"))
    other.get(f"/rate/{study.pk}/join/not-the-signature/?PROLIFIC_PID=blind0000000000000000003")
    other.get(f"/rate/{study.pk}/vote/")  # 405
    other.post(f"/rate/{study.pk}/report/", "{}", content_type="application/json")  # 403, no cookie
    other.get("/rate/999999/")  # 404
    for n in range(4, 8):  # new arrivals who consent (a place is taken on consent) until the cap is reached
        full = other.get(study_link(study, PROLIFIC_PID=f"blind000000000000000000{n}", STUDY_ID="S", SESSION_ID=f"Y{n}"))
        if full.status_code != 302:
            break
        other.post(f"/rate/{study.pk}/consent/", {"answer": "agree", "csrfmiddlewaretoken": other.cookies["csrftoken"].value})
    assert full.status_code == 409 and "This study is full" in full.content.decode()
    received += other.received

    # The study closes: a returning rater and a new arrival see the closed page.
    services_close(study)
    late = RaterSession(RecordingClient(), study)
    assert late.join_prolific("blind0000000000000000006").status_code == 409
    crowd.client.received.clear()
    closed = crowd.client.get(f"/rate/{study.pk}/")
    assert closed.status_code in (302, 409)
    received += late.client.received + crowd.client.received

    statuses = {r.status for r in received}
    assert {200, 302, 400, 403, 404, 405, 409} <= statuses, statuses
    assert scan_received(received, study) == []
    # The study's own pages carry its rater title; error pages (bad links, 403, 404) name no study.
    titles = page_titles(r for r in received if r.status in (200, 409) and f"/rate/{study.pk}/" in r.url)
    assert len(titles) >= 8 and [url for url, title in titles.items() if DEFAULT_RATER_TITLE not in title] == [], titles
    assert not any(study.name.lower() in title.lower() for title in page_titles(received).values())
    assert not any(study.name.lower() in r.body.decode(errors="replace").lower() for r in received)


def test_the_screener_feedback_and_outcome_pages_never_show_a_model_identity(make_study):
    """The screener (its images too), the feedback box, every outcome's finish page and the
    MTurk form that posts the assignment back: scanned like the voting pages."""
    from ratings import crowd
    from ratings.models import Participation
    from ratings.selectors import study_items

    study = name_after_models(make_study(n_models=3, n_prompts=3, attention_check_rate=0, repeat_share=0, quota_per_rater=2, ask_feedback=True))
    images = sorted(image for by_spec in study_items(study=study).values() for image in by_spec.values())
    crowd.study_screener_set(study=study, questions=[
        {"question": "Which image has higher quality?", "right_image": images[0], "wrong_image": None},
        {"question": "Which image follows the prompt?", "prompt": "a small red cube", "right_image": images[1], "wrong_image": images[-1]},
    ])
    received = []
    for pid, passes in (("blindscreen000000000001", True), ("blindscreen000000000002", False)):
        session = RaterSession(RecordingClient(), study)
        session.client.get(study_link(study, "mturk", workerId=pid, assignmentId=f"A{pid}", hitId="H", turkSubmitTo="https%3A%2F%2Fworkersandbox.mturk.com"))
        session.open()
        session.post_form(f"/rate/{study.pk}/consent/", {"answer": "agree"})
        session.post_form(f"/rate/{study.pk}/instructions/")
        session.open()  # the screener and its four images
        participation = Participation.objects.get(rater__external_id=pid)
        answers = {f"q{n}": crowd.screener_right_side(participation=participation, number=n) for n in range(2)}
        if not passes:
            answers["q0"] = "left" if answers["q0"] == "right" else "right"
        session.post_form(f"/rate/{study.pk}/screener/", answers)
        session.open()
        while passes and session.state.get("pairs"):
            session.vote()
        session.finish()  # the feedback box
        session.post_form(f"/rate/{study.pk}/feedback/", {"feedback": "x" * 3000})  # too long: given back
        session.post_form(f"/rate/{study.pk}/feedback/", {"feedback": "Fine."})
        session.finish()  # the code and the MTurk form
        session.client.get(f"/rate/{study.pk}/finish/?outcome=completed")  # forged: 400 or the same code
        received += session.client.received
    screener_images = [r for r in received if re.match(rf"^/rate/{study.pk}/screener/[01]/(left|right)/$", r.url)]
    assert len(screener_images) == 8 and all(r.status == 200 for r in screener_images)
    pages = {r.url.split("?")[0] for r in received if r.headers.get("Content-Type", "").startswith("text/html")}
    assert {f"/rate/{study.pk}/", f"/rate/{study.pk}/finish/", f"/rate/{study.pk}/feedback/", f"/rate/{study.pk}/screener/"} <= pages
    assert any(b"mturk/externalSubmit" in r.body for r in received)
    assert scan_received(received, study) == []
    assert image_problems(received, study.display_size) == []
    titles = page_titles(r for r in received if r.status in (200, 400, 409) and f"/rate/{study.pk}/" in r.url)
    assert titles and [url for url, title in titles.items() if DEFAULT_RATER_TITLE not in title] == [], titles


def services_close(study) -> None:

    studies.study_close(study=study)
