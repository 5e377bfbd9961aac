"""Studies, the pair scheduler and votes, on PostgreSQL with in-process generation."""

import random

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError

from ratings import raters, scheduler, studies
from ratings.results import leaderboards
from ratings.models import Comparison, Vote


@pytest.fixture
def study(tiny_specs, prompt_set, django_capture_on_commit_callbacks):
    study = studies.study_create(
        name="s", specs=tiny_specs, prompt_set=prompt_set, seeds=[0, 1], display_size=64, votes_per_pair=1,
        attention_check_rate=0, repeat_share=0, min_seconds_per_vote=0,
    )
    with django_capture_on_commit_callbacks(execute=True):
        studies.study_start_generation(study=study)
    studies.study_open(study=study)
    return study


def make_rater(study, name):
    user = get_user_model().objects.create_user(name, password="pw-" + name)
    return raters.rater_invite(study=study, user=user)


@pytest.mark.django_db(transaction=True)
def test_every_image_of_the_study_is_generated(study):
    from generation.selectors import job_progress

    progress = job_progress(job=study.job)
    assert progress["total"] == 3 * 8 * 2 and progress["done"] == progress["total"]


@pytest.mark.django_db(transaction=True)
def test_scheduler_serves_each_pair_once_until_the_target_is_met(study):
    rater = make_rater(study, "r1")
    seen = set()
    rng = random.Random(0)
    while (comparison := scheduler.comparison_serve(study=study, rater=rater, rng=rng)) is not None:
        key = frozenset((comparison.image_a_id, comparison.image_b_id))
        assert key not in seen
        assert comparison.image_a.prompt_id == comparison.image_b.prompt_id == comparison.prompt_id
        assert comparison.image_a.seed == comparison.image_b.seed == comparison.seed
        assert comparison.image_a.spec_id != comparison.image_b.spec_id
        seen.add(key)
        scheduler.vote_record(token=comparison.token, rater=rater, answers={"prompt_adherence": "left", "image_quality": "right"}, response_ms=900)
        if len(seen) > 100:
            break
    assert len(seen) == min(study.quota_per_rater, 3 * 8 * 2)  # 3 model pairs x 8 prompts x 2 seeds = 48


@pytest.mark.django_db(transaction=True)
def test_left_right_maps_to_the_right_model_and_a_double_submit_counts_once(study):
    rater = make_rater(study, "r1")
    comparison = scheduler.comparison_serve(study=study, rater=rater)
    answers = {"prompt_adherence": "left", "image_quality": "right"}
    scheduler.vote_record(token=comparison.token, rater=rater, answers=answers, response_ms=1200)
    scheduler.vote_record(token=comparison.token, rater=rater, answers=answers, response_ms=1300)
    votes = {v.criterion: v.choice for v in Vote.objects.filter(comparison=comparison)}
    left, right = ("a", "b") if comparison.left_is_a else ("b", "a")
    assert votes == {"prompt_adherence": left, "image_quality": right}


@pytest.mark.django_db(transaction=True)
def test_a_rater_cannot_vote_on_a_pair_served_to_someone_else(study):
    owner, intruder = make_rater(study, "r1"), make_rater(study, "r2")
    comparison = scheduler.comparison_serve(study=study, rater=owner)
    with pytest.raises(PermissionDenied):
        scheduler.vote_record(token=comparison.token, rater=intruder, answers={"prompt_adherence": "left", "image_quality": "left"}, response_ms=1000)
    assert Vote.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_incomplete_or_tie_answers_on_a_forced_choice_study_write_nothing(study):
    rater = make_rater(study, "r1")
    comparison = scheduler.comparison_serve(study=study, rater=rater)
    with pytest.raises(ValidationError, match="missing: image_quality"):
        scheduler.vote_record(token=comparison.token, rater=rater, answers={"prompt_adherence": "left"}, response_ms=1000)
    with pytest.raises(ValidationError, match="must be left or right"):
        scheduler.vote_record(token=comparison.token, rater=rater, answers={"prompt_adherence": "left", "image_quality": "tie"}, response_ms=1000)
    assert Vote.objects.count() == 0
    assert Comparison.objects.get(pk=comparison.pk).answered_at is None


@pytest.mark.django_db(transaction=True)
def test_win_rates_count_each_models_votes_per_criterion(study):
    rater = make_rater(study, "r1")
    slug_of = {spec.pk: spec.slug for spec in study.job.specs.all()}
    while (comparison := scheduler.comparison_serve(study=study, rater=rater)) is not None:
        slug_a, slug_b = slug_of[comparison.image_a.spec_id], slug_of[comparison.image_b.spec_id]
        side = {"a": "left" if comparison.left_is_a else "right", "b": "right" if comparison.left_is_a else "left"}
        # The turbo model always wins on adherence and always loses on quality; LCM beats the baseline on both.
        if "tiny-turbo-1step" in (slug_a, slug_b):
            turbo = "a" if slug_a == "tiny-turbo-1step" else "b"
            other = "b" if turbo == "a" else "a"
            answers = {"prompt_adherence": side[turbo], "image_quality": side[other]}
        else:
            lcm = "a" if slug_a == "tiny-lcm-4step" else "b"
            answers = {"prompt_adherence": side[lcm], "image_quality": side[lcm]}
        scheduler.vote_record(token=comparison.token, rater=rater, answers=answers, response_ms=1000)
    board = leaderboards.compute_study_leaderboard(study=study, method="winrate", rounds=20)
    adherence = {row["model"]: (row["votes"], row["rating"]) for row in board["models"] if row["criterion"] == "prompt_adherence"}
    quality = {row["model"]: (row["votes"], row["rating"]) for row in board["models"] if row["criterion"] == "image_quality"}
    assert adherence == {"tiny-turbo-1step": (32, 1.0), "tiny-lcm-4step": (32, 0.5), "tiny-base-25step": (32, 0.0)}
    assert quality == {"tiny-turbo-1step": (32, 0.0), "tiny-lcm-4step": (32, 1.0), "tiny-base-25step": (32, 0.5)}
