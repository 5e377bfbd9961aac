"""The versus-reference design (ratings/versus.py): only reference pairs are served, on both hot
paths, with prompts and seeds balanced, sides randomized and attention checks kept; a kept
share of other pairs; the settings refused in plain words; the decision table in the results."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from ratings import scheduler
from ratings.models import Comparison, PairSlot
from ratings.slots import pair_slots_sync
from ratings.versus import kept_share_draw
from tests.factories import ModelSpecFactory, PromptSetFactory, StudyFactory, StudyWithImagesFactory, UserFactory
from tests.ratings.scheduler.steps import crowd_rater, current, serve, vote

pytestmark = pytest.mark.django_db


def versus_study(*, n_models=4, n_prompts=6, seeds=(0, 1), **settings):
    specs = [ModelSpecFactory(name=f"Student {i}", steps=i + 1) for i in range(n_models)]
    teacher = specs[2]  # not the lowest id: the reference may sit anywhere in the pair order
    study = StudyWithImagesFactory(
        name="Versus study", specs=specs, prompt_set=PromptSetFactory(name="Versus prompts", size=n_prompts), seeds=seeds,
        design="versus_reference", reference=teacher, **settings,
    )
    return study, teacher, [spec for spec in specs if spec != teacher]


def crowd_answers(study, n_raters, **answers):
    """Raters answering in turn until none is served anything; the answered comparisons."""
    raters = [crowd_rater(study, f"p{i}") for i in range(n_raters)]
    results = {r.pk: serve(study, r) for r in raters}
    while any(results[r.pk]["pairs"] for r in raters):
        for r in raters:
            if results[r.pk]["pairs"]:
                results[r.pk] = vote(study, r, current(results[r.pk]).token, answers or None)
                assert results[r.pk]["status"] == "recorded", results[r.pk]
    return Comparison.objects.filter(study=study, answered_at__isnull=False).select_related("image_a", "image_b")


def test_only_reference_pairs_are_served_with_prompts_and_seeds_balanced(hot_path):
    study, teacher, students = versus_study(votes_per_pair=2, attention_check_rate=0, repeat_share=0, quota_per_rater=13)
    slots = PairSlot.objects.filter(study=study)
    assert slots.count() == 3 * 6 * 2  # reference x 3 others x 6 prompts x 2 seeds; no student-student slot
    assert all(teacher.pk in (a, b) for a, b in slots.values_list("image_a__spec_id", "image_b__spec_id"))
    answered = crowd_answers(study, n_raters=6)
    assert answered.count() == 6 * 13 - 6  # 78 wanted, 72 = 36 slots x 2 votes available
    pairs = Counter(frozenset((c.image_a.spec_id, c.image_b.spec_id)) for c in answered)
    assert set(pairs) == {frozenset((teacher.pk, s.pk)) for s in students}
    assert set(pairs.values()) == {24}  # every student against the teacher equally often
    per_student_prompt_seed = Counter(
        (next(s for s in (c.image_a.spec_id, c.image_b.spec_id) if s != teacher.pk), c.prompt_id, c.seed) for c in answered
    )
    assert len(per_student_prompt_seed) == 3 * 6 * 2 and set(per_student_prompt_seed.values()) == {2}
    sides = Counter(c.left_is_a for c in answered)
    assert sides[True] > 15 and sides[False] > 15
    teacher_left = Counter((c.image_a.spec_id == teacher.pk) == c.left_is_a for c in answered)
    assert teacher_left[True] > 15 and teacher_left[False] > 15  # the teacher is on either side, not always left
    # Progress counts only the pairs the design serves: the study is complete, nothing is left.
    from ratings.progress import study_progress

    progress = study_progress(study=study)
    assert progress["comparisons"]["target"] == progress["comparisons"]["done"] == 72 and progress["complete"]
    from ratings.results.votes import model_label

    targets = {frozenset((p["model_a"], p["model_b"])): p["target"] for p in progress["comparisons"]["per_pair"]}
    assert targets == {frozenset((model_label(a), model_label(b))): 24 if teacher in (a, b) else 0
                       for a, b in itertools.combinations(sorted([teacher, *students], key=lambda s: s.pk), 2)}


def test_attention_checks_are_still_served_in_a_versus_study(hot_path):
    study, teacher, _ = versus_study(votes_per_pair=1, attention_check_rate=0.3, repeat_share=0, quota_per_rater=40)
    rater = crowd_rater(study)
    result = serve(study, rater)
    seen = []
    while result["pairs"]:
        comparison = current(result)
        seen.append(comparison)
        result = vote(study, rater, comparison.token, {"prompt_adherence": "left", "image_quality": "left"})
    checks = [c for c in seen if c.attention_check_id is not None]
    pairs = [c for c in seen if c.attention_check_id is None]
    assert checks, "attention checks are served in a versus-reference study too"
    assert pairs and all(teacher.pk in (c.image_a.spec_id, c.image_b.spec_id) for c in pairs)


def test_a_kept_share_of_other_pairs_is_served_and_stays_the_same_when_slots_are_synced_again(hot_path):
    study, teacher, students = versus_study(n_prompts=20, seeds=(0, 1, 2), other_pairs_share=0.3, votes_per_pair=1,
                                            attention_check_rate=0, repeat_share=0)
    rows = list(PairSlot.objects.filter(study=study).values_list("pk", "prompt_id", "seed", "image_a__spec_id", "image_b__spec_id"))
    reference_slots = [r for r in rows if teacher.pk in r[3:]]
    other_slots = [r for r in rows if teacher.pk not in r[3:]]
    assert len(reference_slots) == 3 * 20 * 3
    expected_other = sum(
        kept_share_draw(study_id=study.pk, prompt_id=p, seed=s, spec_a=a.pk, spec_b=b.pk) < 0.3
        for p in study.job.prompt_set.prompts.values_list("pk", flat=True) for s in (0, 1, 2)
        for i, a in enumerate(students) for b in students[i + 1:]
    )
    # About 30% of 3 other pairs x 60: the draws hash the rows' ids, so the count is binomial
    # (mean 54, sd 6; 36 was seen once), bounded here six standard deviations out.
    assert len(other_slots) == expected_other and 0.1 * 180 < expected_other < 0.5 * 180
    assert pair_slots_sync(study=study, rng=random.Random(1)) == 0  # the same slots, however often synced
    from ratings.progress import study_progress

    assert study_progress(study=study)["comparisons"]["target"] == len(rows)  # one vote per kept slot
    answered = crowd_answers(study, n_raters=3)
    served_other = [c for c in answered if teacher.pk not in (c.image_a.spec_id, c.image_b.spec_id)]
    assert served_other, "the kept other pairs are served"
    assert {c.slot_id for c in served_other} <= {r[0] for r in other_slots}


def test_design_settings_are_checked_in_plain_words(db):
    specs = [ModelSpecFactory() for _ in range(3)]
    outsider = ModelSpecFactory()
    cases = [
        (dict(design="versus_reference"), "reference", "needs a reference"),
        (dict(design="versus_reference", reference=outsider), "reference", "must be one of the study's models"),
        (dict(design="versus_reference", reference=specs[0], other_pairs_share=1.5), "other_pairs_share", "between 0 and 1"),
        (dict(reference=specs[0], versus_margin=0.5), "versus_margin", "up to (not including) 0.5"),
        (dict(design="half_pairs"), "design", "all_pairs or versus_reference"),
    ]
    for settings, field, words in cases:
        with pytest.raises(ValidationError) as error:
            StudyFactory(specs=specs, **settings)
        assert words in " ".join(error.value.message_dict[field]), (settings, error.value.message_dict)


def test_api_creates_a_versus_study_and_its_leaderboard_has_the_decision_table(db):
    from rest_framework.test import APIClient

    from ratings import studies
    from ratings.results.leaderboards import compute_study_leaderboard
    from ratings.results.votes import study_votes
    from ratings.stats.versus import versus_reference

    owner = UserFactory(username="ada")
    specs = [ModelSpecFactory(slug=f"student-{i}", owner=None) for i in range(3)]
    prompts = PromptSetFactory(name="API prompts", size=4)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {studies.researcher_grant(user=owner).key}")
    body = {"name": "Students vs teacher", "models": [s.slug for s in specs], "prompt_set": prompts.pk, "seeds": [0],
            "design": "versus_reference", "reference": "student-9"}
    refused = api.post("/api/v1/studies/", body, format="json")
    assert refused.status_code == 400 and "must be one of the study's models" in refused.json()["reference"][0]
    made = api.post("/api/v1/studies/", {**body, "reference": "student-1", "versus_margin": 0.1}, format="json")
    assert made.status_code == 201, made.json()
    document = made.json()
    assert document["design"] == "versus_reference" and document["reference"]["slug"] == "student-1"
    assert document["versus_margin"] == 0.1 and document["other_pairs_share"] == 0.0

    # Rate it through the scheduler (left always wins; sides are random, so the win rates sit near 0.5).
    from ratings.models import Study
    from ratings.raters import rater_invite
    from ratings.studies import study_open
    from tests.factories import images_add, vote_as

    study = Study.objects.get(pk=document["id"])
    Study.objects.filter(pk=study.pk).update(attention_check_rate=0, repeat_share=0, min_seconds_per_vote=0)
    study.refresh_from_db()
    images_add(study, list(study.job.specs.order_by("pk")), size=study.display_size)
    study_open(study=study, rng=random.Random(0))
    for _ in range(3):
        vote_as(study, rater_invite(study=study, user=UserFactory()), 8, random.Random(3))
    # Comparison unit, as the expected table below (the study's own default, prompts, needs more than 4 prompts to decide).
    leaderboard = compute_study_leaderboard(study=study, method="bt", rounds=20, seed=0, resample="comparison")
    assert leaderboard["versus_settings"]["unit"] == "comparison"
    assert leaderboard["versus_settings"]["reference"] == "student-1" and leaderboard["versus_settings"]["margin"] == 0.1
    rows = {(row["model"], row["criterion"]): row for row in leaderboard["versus"]}
    assert set(rows) == {(m, c) for m in ("student-0", "student-2") for c in ("prompt_adherence", "image_quality", "mean")}
    arrays = study_votes(study=study).counted(include_flagged=False)
    expected = versus_reference(arrays, "student-1", margin=0.1, mean_of=study.criteria)
    for row in expected:
        got = rows[(row.model, row.criterion)]
        assert got["win_rate"] == pytest.approx(row.win_rate) and got["decision"] == row.decision
        # 24 comparisons over 2 students, each row only the student's own pairs: 12 per criterion, 24 votes in the mean
        assert got["votes"] == row.votes == (24 if row.criterion == "mean" else 12)
    assert leaderboard["provenance"]["design"]["design"] == "versus_reference"
    assert np.isfinite([r["win_rate"] for r in leaderboard["versus"]]).all()

    # The API leaderboard and the results page carry the same table.
    served = api.get(f"/api/v1/studies/{study.pk}/leaderboard/", {"rounds": 20, "resample": "comparison"}).json()
    assert {(r["model"], r["criterion"], r["decision"]) for r in served["versus"]} == {
        (r.model, r.criterion, r.decision) for r in expected}
    from django.test import Client

    page_client = Client()
    page_client.force_login(owner)
    page = page_client.get(f"/studies/{study.pk}/leaderboard/", {"rounds": 20}).content.decode()
    assert "Against the reference, student-1" in page and page.count('<td class="decision">') == 6


def test_the_admin_checks_the_design_and_fixes_it_once_the_study_is_open(db):
    import json

    from django.forms.models import model_to_dict

    from ratings.admin import StudyAdminForm

    study, teacher, students = versus_study(n_models=3, n_prompts=2, seeds=(0,))
    data = {key: value for key, value in model_to_dict(study).items() if value is not None}
    for key in ("criteria", "set_criteria", "attention_check_kinds", "screener_questions"):
        data[key] = json.dumps(getattr(study, key))
    form = StudyAdminForm(data=data, instance=study)
    assert form.is_valid(), form.errors
    form = StudyAdminForm(data={**data, "reference": students[0].pk}, instance=study)
    assert not form.is_valid() and "fixed once the study leaves draft" in form.errors["reference"][0]
    outsider = ModelSpecFactory()
    form = StudyAdminForm(data={**data, "reference": outsider.pk}, instance=study)
    assert not form.is_valid() and "must be one of the study's models" in " ".join(form.errors["reference"])


def test_the_leaderboard_exports_carry_the_decision_table(db):
    from ratings.results import exports

    study, teacher, students = versus_study(n_models=3, n_prompts=3, seeds=(0,), attention_check_rate=0, repeat_share=0)
    crowd_answers(study, n_raters=2)
    label = teacher.slug if teacher.version == 1 else f"{teacher.slug}@{teacher.version}"
    for fmt, marker in (("csv", f"# against {label} at margin 0.05"), ("md", f"Against {label} at margin 0.05"),
                        ("latex", "decision \\\\"), ("json", '"versus_settings"')):
        body = exports.leaderboard_export(study=study, fmt=fmt, rounds=20)[0].decode()
        assert marker in body, (fmt, body[-1500:])
    winrate = exports.leaderboard_export(study=study, method="winrate", fmt="json", rounds=20)[0].decode()
    assert "in a versus-reference study" in winrate


def test_the_decided_forecast_looks_as_often_as_the_study_refreshes_whatever_the_budget(settings):
    """A decided study reads its decisions at every background refresh (every
    RATINGS_SAMPLING_REFRESH_VOTES comparisons), so its forecast must too: a budget far above what
    the study needs changes nothing. (It once looked every budget / 60 comparisons: every 1,000 at
    a budget of 60,000, forecasting several times the comparisons a study looking every 100 stops at.)"""
    from ratings.versus import decided_design_forecast

    settings.RATINGS_SAMPLING_REFRESH_VOTES = 100
    options = dict(elo_rows=[[0, 200, 30, -200]], reference=0, margin=0.05, alpha=0.05, sampling="adaptive", exploration=0.2,
                   unit="comparison", prompts=50, prompt_spread=None, runs=50, seed=3)
    small, large = (decided_design_forecast(budget=budget, **options) for budget in (3_000, 60_000))
    assert small["budget_hits"] == large["budget_hits"] == 0
    assert small["comparisons"] == large["comparisons"] and small["versus"] == large["versus"]
    assert large["comparisons"]["high"] < 1_000, large["comparisons"]
    settings.RATINGS_SAMPLING_REFRESH_VOTES = 500  # a slower refresh: the forecast stops later with it
    assert decided_design_forecast(budget=60_000, **options)["comparisons"]["median"] > large["comparisons"]["median"]
