"""Screening before launch (ratings/screening.py): hidden images are never served on either
database path, crowd links wait for the screening (or its recorded skip), hiding after opening
retires pairs, showing again restores them, bad input writes nothing, and the pages say it."""

from __future__ import annotations

import random

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.test import Client
from django.utils import timezone

from ratings import raters, scheduler, screening, studies
from ratings.models import AttentionCheck, Comparison, HiddenImage, PairSlot, Study
from tests.factories import StudyWithImagesFactory, UserFactory, comparison_serve, vote_record
from tests.ratings.rater_client import RaterSession, RecordingClient
from tests.ratings.scheduler.steps import crowd_rater, current, serve, vote

pytestmark = pytest.mark.django_db


def _image(study, *, spec_index: int, position: int, seed: int = 0) -> int:
    spec = list(study.job.specs.order_by("pk"))[spec_index]
    return screening.study_images(study=study).get(spec=spec, prompt__position=position, seed=seed).pk


def _serve_everything(study, *, raters_count: int, start: int = 0) -> None:
    """Raters answer until the scheduler has nothing left for them (or their quota is met)."""
    rng = random.Random(5)
    for index in range(start, start + raters_count):
        rater = raters.rater_invite(study=study, user=UserFactory(username=f"scan-{study.pk}-{index}"))
        while True:
            comparison = comparison_serve(study=study, rater=rater, rng=rng)
            if comparison is None:
                break
            answered = vote_record(
                token=comparison.token, rater=rater, answers={c: "left" for c in study.criteria}, response_ms=4000
            )
            assert answered.answered_at is not None  # vote_record raises on any refusal


def test_a_hidden_image_is_never_served_on_either_path(make_study, hot_path):
    study = make_study(
        n_models=3, n_prompts=4, seeds=(0, 1), open_study=False, screened=False,
        attention_check_rate=0.3, repeat_share=0.2, quota_per_rater=40, votes_per_pair=2,
    )
    owner = UserFactory(username="owner")
    hidden = {_image(study, spec_index=0, position=0), _image(study, spec_index=1, position=2, seed=1)}
    result = screening.images_hide(study=study, image_ids=hidden, reason="broken", by=owner)
    assert result["hidden"] == 2 and result["pairs_retired"] == 0  # no slot exists before opening
    studies.study_open(study=study, rng=random.Random(1))
    screening.study_images_reviewed(study=study, by=owner)

    slots = PairSlot.objects.filter(study=study)
    assert slots.count() == 8 * 3 - 4  # each hidden image was in two of its item's three pairs
    assert not slots.filter(image_a_id__in=hidden).exists() and not slots.filter(image_b_id__in=hidden).exists()
    checks = AttentionCheck.objects.filter(study=study)
    assert checks.exists()
    assert not checks.filter(image_id__in=hidden).exists() and not checks.filter(decoy_image_id__in=hidden).exists()

    _serve_everything(study, raters_count=5)
    comparisons = Comparison.objects.filter(study=study)
    assert comparisons.count() > 40
    assert comparisons.filter(attention_check__isnull=False).exists() and comparisons.filter(is_repeat=True).exists()
    shown = set(comparisons.values_list("image_a_id", flat=True)) | set(comparisons.values_list("image_b_id", flat=True))
    assert shown.isdisjoint(hidden)
    assert len(shown) == 3 * 8 - 2  # every other image was served


def test_hiding_after_opening_retires_the_pairs_and_lets_a_pair_on_screen_be_answered(make_study, hot_path):
    study = make_study(n_models=3, n_prompts=4, seeds=(0, 1), attention_check_rate=0, repeat_share=0, quota_per_rater=40, votes_per_pair=2)
    staff = UserFactory(username="staff", staff=True)
    first = raters.rater_invite(study=study, user=UserFactory(username="first"))
    on_screen = comparison_serve(study=study, rater=first, rng=random.Random(2))
    target = on_screen.image_a_id
    before_hiding = Comparison.objects.filter(study=study).order_by("-pk").values_list("pk", flat=True).first()

    result = screening.images_hide(study=study, image_ids=[target], reason="offensive", by=staff)
    assert result["pairs_retired"] == 2 and result["open_pairs"] >= 1
    assert PairSlot.objects.filter(study=study, retired=True).count() == 2
    # Already on the rater's screen: still answerable, and counted.
    answer = vote_record(token=on_screen.token, rater=first, answers={c: "left" for c in study.criteria}, response_ms=4000)
    assert answer.answered_at is not None and answer.votes.count() == len(study.criteria)

    _serve_everything(study, raters_count=4)
    later = Comparison.objects.filter(study=study, pk__gt=before_hiding)
    assert later.count() > 30
    assert not later.filter(image_a_id=target).exists() and not later.filter(image_b_id=target).exists()


def test_hiding_after_opening_removes_attention_checks_nobody_saw(make_study):
    study = make_study(n_models=2, n_prompts=6, attention_check_rate=0.5)
    checks = list(AttentionCheck.objects.filter(study=study))
    assert checks
    target = checks[0].image_id
    result = screening.images_hide(study=study, image_ids=[target], reason="broken")
    assert result["attention_checks_removed"] >= 1 and result["attention_checks_kept"] == 0
    assert not AttentionCheck.objects.filter(study=study, image_id=target).exists()


def _answer_until_done(study, rater) -> list[Comparison]:
    """The rater answers until nothing is left for them, attention checks rightly (the real image,
    A) and pairs with the left image; returns the comparisons served in this run, in order."""
    served = []
    result = serve(study, rater)
    while result["pairs"]:
        comparison = current(result)
        served.append(comparison)
        right = "left" if comparison.left_is_a else "right"
        result = vote(study, rater, comparison.token, {c: right if comparison.attention_check_id else "left" for c in study.criteria})
        assert result["status"] == "recorded", result
        assert len(served) < 200, "the scheduler kept serving"
    return served


def _shows(comparisons, image_id: int) -> list[Comparison]:
    return [c for c in comparisons if image_id in (c.image_a_id, c.image_b_id)]


def test_a_pair_with_an_image_hidden_after_it_was_answered_is_never_repeated(make_study, hot_path):
    study = make_study(n_models=3, n_prompts=6, attention_check_rate=0, repeat_share=1.0, quota_per_rater=30)
    staff = UserFactory(username="staff", staff=True)
    rater = crowd_rater(study)
    result = serve(study, rater)
    answered = []
    for _ in range(2):  # with two answered, the first is due for a repeat on the next serve
        answered.append(current(result))
        result = vote(study, rater, answered[-1].token)
        assert result["status"] == "recorded", result
    target = answered[0].image_a_id
    before_hiding = Comparison.objects.filter(study=study).order_by("-pk").values_list("pk", flat=True).first()
    screening.images_hide(study=study, image_ids=[target], reason="broken", by=staff)

    served = _answer_until_done(study, rater)
    after = [c for c in Comparison.objects.filter(study=study, pk__gt=before_hiding).order_by("pk")]
    assert len(after) >= 10 and {c.pk for c in after} <= {c.pk for c in served}  # the rater kept being served
    assert [c for c in after if c.is_repeat], "repeats of the other pairs still come"
    assert _shows(after, target) == []
    assert not any(c.repeat_of_id == answered[0].pk for c in after)


def test_a_shown_attention_check_on_a_hidden_image_is_served_to_nobody_else_until_shown_again(make_study, hot_path):
    study = make_study(n_models=2, n_prompts=6, attention_check_rate=1.0, repeat_share=0, quota_per_rater=40, flag_after_failed_checks=99)
    staff = UserFactory(username="staff", staff=True)
    first = crowd_rater(study, "p1")
    check = current(serve(study, first)).attention_check
    assert check is not None  # every serve starts with a check at this rate
    target = check.image_id

    result = screening.images_hide(study=study, image_ids=[target], reason="offensive", by=staff)
    assert result["attention_checks_kept"] >= 1
    check.refresh_from_db()
    assert check.retired  # kept (the first rater's answer needs it), served to nobody else
    served = _answer_until_done(study, crowd_rater(study, "p2"))
    assert [c for c in served if c.attention_check_id], "the other checks are still served"
    assert not [c for c in served if c.attention_check_id == check.pk]
    assert _shows(served, target) == []

    result = screening.images_unhide(study=study, image_ids=[target])
    assert result["attention_checks_restored"] >= 1
    check.refresh_from_db()
    assert not check.retired
    served = _answer_until_done(study, crowd_rater(study, "p3"))
    assert [c for c in served if c.attention_check_id == check.pk]


def test_a_check_stays_retired_while_another_of_its_images_is_hidden(make_study):
    study = make_study(n_models=2, n_prompts=6, attention_check_kinds=["unrelated_prompt"], attention_check_rate=1.0, repeat_share=0)
    check = AttentionCheck.objects.filter(study=study, decoy_image__isnull=False).first()
    rater = crowd_rater(study)
    Comparison.objects.create(  # shown to someone: the hide keeps it
        study=study, rater=rater, prompt_id=check.prompt_id, seed=check.seed, image_a_id=check.image_id,
        image_b_id=check.decoy_image_id, left_is_a=True, attention_check=check,
    )
    screening.images_hide(study=study, image_ids=[check.image_id, check.decoy_image_id], reason="broken")
    assert AttentionCheck.objects.get(pk=check.pk).retired
    assert screening.images_unhide(study=study, image_ids=[check.image_id])["attention_checks_restored"] == 0
    assert AttentionCheck.objects.get(pk=check.pk).retired
    assert screening.images_unhide(study=study, image_ids=[check.decoy_image_id])["attention_checks_restored"] == 1
    assert not AttentionCheck.objects.get(pk=check.pk).retired


def test_crowd_links_wait_for_the_screening_but_invited_accounts_do_not(make_study):
    study = make_study(screened=False, attention_check_rate=0, repeat_share=0)
    owner, helper = UserFactory(username="owner"), UserFactory(username="helper")
    Study.objects.filter(pk=study.pk).update(owner=owner)
    study.refresh_from_db()
    stranger = RaterSession(RecordingClient(), study)
    response = stranger.join_prolific("p1screening")
    assert response.status_code == 409 and "not taking answers at the moment" in response.content.decode()
    assert "screen" not in response.content.decode().lower()  # raters are told nothing of the team's steps
    assert "Crowd links do not work yet" in screening.crowd_entry_problem(study=study)

    invited = Client()
    user = UserFactory(username="invited")
    raters.rater_invite(study=study, user=user)
    invited.force_login(user)
    assert invited.get(f"/rate/{study.pk}/").status_code == 200

    with pytest.raises(PermissionDenied):
        screening.study_images_review_skip(study=study, by=helper)
    assert Study.objects.get(pk=study.pk).images_reviewed_at is None
    screening.study_images_review_skip(study=study, by=owner)
    study.refresh_from_db()
    assert study.images_review_skipped and study.images_reviewed_by == owner and study.images_reviewed_at is not None
    assert "skipped on purpose by owner" in screening.screening_state(study=study)["text"]
    assert RaterSession(RecordingClient(), study).join_prolific("p2screening").status_code == 302


def test_the_screening_is_done_only_once_every_image_exists(make_study):
    from generation.models import Image

    study = make_study(open_study=False, screened=False)
    Image.objects.filter(pk=_image(study, spec_index=0, position=0)).update(seed=99)  # one image missing
    with pytest.raises(studies.StudyStateError, match="images are made"):
        screening.study_images_reviewed(study=study, by=None)
    assert Study.objects.get(pk=study.pk).images_reviewed_at is None


def test_showing_an_image_again_restores_its_pairs_but_not_those_reports_retired_until_staff_serve_them_again(make_study):
    study = make_study(n_models=3, n_prompts=3, attention_check_rate=0, repeat_share=0)
    target = _image(study, spec_index=1, position=1)
    slots = list(PairSlot.objects.filter(Q(image_a_id=target) | Q(image_b_id=target), study=study).order_by("pk"))
    assert len(slots) == 2
    reported = slots[0]
    for name in ("r1", "r2", "r3"):  # reports that retired the slot before the hide, as the scheduler does
        rater = raters.rater_invite(study=study, user=UserFactory(username=name))
        Comparison.objects.create(
            study=study, rater=rater, prompt_id=reported.prompt_id, seed=reported.seed, image_a_id=reported.image_a_id,
            image_b_id=reported.image_b_id, left_is_a=True, slot=reported, reported_at=timezone.now(), report_reason="broken",
        )
    PairSlot.objects.filter(pk=reported.pk).update(retired=True, report_retired_at=timezone.now())
    screening.images_hide(study=study, image_ids=[target], reason="broken")
    result = screening.images_unhide(study=study, image_ids=[target])
    assert result == {"shown": 1, "pairs_restored": 1, "pairs_added": 0, "attention_checks_restored": 0}
    assert PairSlot.objects.get(pk=reported.pk).retired
    assert not HiddenImage.objects.filter(study=study).exists()
    (row,) = screening.study_reported_pairs(study=study)
    assert (row["slot"].pk, row["reports"], row["retired_by_reports"], row["reasons"]) == (reported.pk, 3, True, "broken 3")

    # Staff look at it and serve it again: its reports stop counting; hidden meanwhile, it waits for its image.
    screening.images_hide(study=study, image_ids=[target], reason="broken")
    assert screening.reported_pairs_restore(study=study, slot_ids=[reported.pk]) == {"reviewed": 1, "pairs_restored": 0}
    assert PairSlot.objects.get(pk=reported.pk).retired
    screening.images_unhide(study=study, image_ids=[target])
    restored = PairSlot.objects.get(pk=reported.pk)
    assert not restored.retired and restored.report_retired_at is None and restored.reports_reviewed_at is not None
    (row,) = screening.study_reported_pairs(study=study)
    assert (row["reports"], row["all_reports"], row["retired_by_reports"]) == (0, 3, False)
    for bad in ([], ["x"], [slots[1].pk]):
        with pytest.raises(ValidationError):
            screening.reported_pairs_restore(study=study, slot_ids=bad)


def test_images_hidden_before_opening_get_their_pairs_when_shown_again_after(make_study):
    study = make_study(n_models=2, n_prompts=3, open_study=False, attention_check_rate=0)
    target = _image(study, spec_index=0, position=0)
    screening.images_hide(study=study, image_ids=[target], reason="other", note="looks cut off")
    studies.study_open(study=study)
    assert PairSlot.objects.filter(study=study).count() == 2
    assert screening.images_unhide(study=study, image_ids=[target])["pairs_added"] == 1
    assert PairSlot.objects.filter(study=study, retired=False).count() == 3


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"reason": "ugly"}, "reason"),
        ({"reason": "other", "note": ""}, "note"),
        ({"note": "x" * 501}, "note"),
        ({"image_ids": []}, "images"),
        ({"image_ids": ["seven"]}, "images"),
        ({"image_ids": "not-an-image"}, "images"),
    ],
)
def test_bad_input_is_refused_with_its_reason_and_hides_nothing(make_study, changes, field):
    study = make_study(n_models=2, n_prompts=2)
    arguments = {"study": study, "image_ids": [_image(study, spec_index=0, position=0)], "reason": "broken", "note": "", **changes}
    with pytest.raises(ValidationError) as refused:
        screening.images_hide(**arguments)
    assert field in refused.value.message_dict and refused.value.message_dict[field][0]
    assert not HiddenImage.objects.exists() and not PairSlot.objects.filter(retired=True).exists()


def test_an_image_of_another_study_is_refused_and_nothing_is_hidden(make_study):
    study, other = make_study(n_models=2, n_prompts=2), StudyWithImagesFactory(specs__n=2, prompt_set__size=2)
    mine, theirs = _image(study, spec_index=0, position=0), _image(other, spec_index=0, position=0)
    with pytest.raises(ValidationError, match=f"Not images of this study: {theirs}"):
        screening.images_hide(study=study, image_ids=[mine, theirs], reason="broken")
    assert not HiddenImage.objects.exists()


def test_the_operations_page_and_the_leaderboard_say_what_was_hidden(make_study):
    study = make_study(n_models=2, n_prompts=2, screened=False)
    owner, shared, stranger = UserFactory(username="owner"), UserFactory(username="shared"), UserFactory(username="stranger")
    Study.objects.filter(pk=study.pk).update(owner=owner)
    studies.researcher_grant(user=shared)
    studies.study_share(study=study, users=[shared])
    client = Client()
    client.force_login(owner)
    target = _image(study, spec_index=1, position=1)
    checks = AttentionCheck.objects.filter(Q(image_id=target) | Q(decoy_image_id=target), study=study).count()
    assert checks > 0  # the study's checks are built on every image
    response = client.post(f"/studies/{study.pk}/operations/screening/", {"action": "hide", "images": [target], "reason": "offensive"}, follow=True)
    page = response.content.decode()
    assert response.status_code == 200 and "1 image(s) hidden" in page and "hidden</strong>: offensive" in page
    assert f"{checks} attention check(s) on them are no longer served" in page
    assert "Not screened yet" in page and "Crowd links do not work yet" in page
    assert "PROLIFIC_PID={{%PROLIFIC_PID%}}" in page  # the platform's placeholder, as Prolific wants it
    assert client.get(f"/studies/{study.pk}/operations/images/{target}/")["Content-Type"] == "image/png"
    board = client.get(f"/studies/{study.pk}/leaderboard/").content.decode()
    model = study.job.specs.order_by("pk")[1].slug
    assert "Hidden in screening (never served)" in board and f"{model} 1 of 2 images" in board

    helper = Client()
    helper.force_login(shared)
    assert helper.get(f"/studies/{study.pk}/operations/").status_code == 200
    response = helper.post(f"/studies/{study.pk}/operations/screening/", {"action": "skip"})
    assert response.status_code == 403 and Study.objects.get(pk=study.pk).images_reviewed_at is None
    helper.post(f"/studies/{study.pk}/operations/screening/", {"action": "review"})
    assert Study.objects.get(pk=study.pk).images_reviewed_by == shared

    outsider = Client()
    outsider.force_login(stranger)
    assert outsider.get(f"/studies/{study.pk}/operations/").status_code == 403
    assert outsider.get(f"/studies/{study.pk}/operations/images/{target}/").status_code == 403
    assert outsider.post(f"/studies/{study.pk}/operations/screening/", {"action": "unhide", "images": [target]}).status_code == 403
    assert HiddenImage.objects.filter(study=study, image_id=target).exists()
    # A bad form writes nothing and says why.
    response = client.post(f"/studies/{study.pk}/operations/screening/", {"action": "hide", "images": ["x"], "reason": "broken"}, follow=True)
    assert "Nothing was changed" in response.content.decode() and HiddenImage.objects.filter(study=study).count() == 1


def test_progress_targets_leave_out_the_pairs_of_hidden_images(make_study):
    from ratings.progress import study_progress

    study = make_study(n_models=3, n_prompts=4, votes_per_pair=2)
    screening.images_hide(study=study, image_ids=[_image(study, spec_index=0, position=0)], reason="broken")
    per_pair = {(row["model_a"], row["model_b"]): row["target"] for row in study_progress(study=study)["comparisons"]["per_pair"]}
    slugs = [spec.slug for spec in study.job.specs.order_by("pk")]
    assert per_pair == {(slugs[0], slugs[1]): 6, (slugs[0], slugs[2]): 6, (slugs[1], slugs[2]): 8}
    assert study_progress(study=study)["comparisons"]["target"] == 20 == 2 * PairSlot.objects.filter(study=study, retired=False).count()
