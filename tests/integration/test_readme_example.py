"""The README's API example, run as written against a live server: it uploads a PartiPrompts
TSV, queues two models, opens the study when the images exist, waits while raters vote, and
downloads the leaderboard."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ratings import raters, studies
from ratings.models import Study
from tests.factories import NO_CHECKS, vote_as
from tests.processes import wait_for
from tests.factories import UserFactory

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"
PARTI_SAMPLE = (
    "Prompt\tCategory\tChallenge\tNote\n"
    "A robot painting a self-portrait\tArts\tImagination\t\n"
    "a red apple on a blue plate\tFood & Beverage\tColors\t\n"
    "\tWorld Knowledge\tBasic\t\n"
    "three birds on a wire\tAnimals\tQuantity\t\n"
    "the Eiffel tower at night\tWorld Knowledge\tBasic\t\n"
)


def readme_example() -> str:
    section = README.read_text().split("## The REST API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.django_db(transaction=True)
def test_readme_example_runs_a_study_to_its_leaderboard(live_server, tiny_specs, tmp_path, artifacts_dir):
    (tmp_path / "compare.py").write_text(readme_example())
    (tmp_path / "PartiPrompts.tsv").write_text(PARTI_SAMPLE)
    user = UserFactory(username="ada")
    env = {
        **os.environ,
        "EVALSITE_URL": live_server.url,
        "EVALSITE_TOKEN": studies.researcher_grant(user=user).key,
        "EVALSITE_MODELS": "tiny-turbo-1step,tiny-lcm-4step",
        "EVALSITE_POLL_SECONDS": "0.5",
    }
    log = open(artifacts_dir / "readme-example.log", "w")
    script = subprocess.Popen([sys.executable, "compare.py"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        study = wait_for(lambda: Study.objects.filter(status=Study.Status.RATING).first(), 180, "the script to open the study")
        Study.objects.filter(pk=study.pk).update(**NO_CHECKS)  # the script made it with the defaults
        study.refresh_from_db()
        rng = random.Random(1)
        # 4 prompts x 2 seeds x 1 pair x 3 votes: three raters answer 8 comparisons each.
        for n in range(3):
            rater = raters.rater_invite(study=study, user=UserFactory(username=f"rater-{n}"))
            vote_as(study, rater, 8, rng)
        assert script.wait(120) == 0, (artifacts_dir / "readme-example.log").read_text()
    finally:
        if script.poll() is None:
            script.kill()
        log.close()
    output = (artifacts_dir / "readme-example.log").read_text()
    assert "4 prompts taken, 1 refused" in output and "line 4: The prompt is empty." in output
    study.refresh_from_db()
    assert study.status == Study.Status.CLOSED
    leaderboard = (tmp_path / "leaderboard.csv").read_text()
    assert "tiny-turbo-1step" in leaderboard and "tiny-lcm-4step" in leaderboard
    assert "votes 48 in 24 comparisons by 3 raters" in leaderboard
