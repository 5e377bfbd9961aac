"""Steps the scheduler tests share: a crowd rater joins, is served, votes, rates until done."""

import random

from ratings import raters, scheduler
from ratings.models import Comparison, Rater

def crowd_rater(study, name="p1"):
    rater, participation = raters.rater_join(study=study, source=Rater.Source.PROLIFIC, external_id=name)
    return rater


def serve(study, rater):
    return scheduler.session_serve(study_id=study.pk, rater_id=rater.pk, rng=random.Random())


def vote(study, rater, token, answers=None, response_ms=1500):
    """As the rating page votes: through ``raters.vote_submit`` (a flag refreshes the caches)."""
    answers = answers or {"prompt_adherence": "left", "image_quality": "right"}
    return raters.vote_submit(study_id=study.pk, rater_id=rater.pk, token=token, answers=answers, response_ms=response_ms)


def current(result):
    return Comparison.objects.get(token=result["pairs"][0]["token"])


def rate_until_done(study, rater, answers=None, limit=500):
    result = serve(study, rater)
    seen = []
    while result["pairs"] and len(seen) < limit:
        comparison = current(result)
        seen.append(comparison)
        result = vote(study, rater, comparison.token, answers)
        assert result["status"] == "recorded", result
    return seen, result
