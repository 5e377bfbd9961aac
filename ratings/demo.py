"""The no-services demo: tiny models, a demo study with its images, and logins."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from generation.jobs import job_enqueue
from generation.prompts import prompt_set_create
from generation.models import SpeedMeasurement
from generation.specs import specs_speed_measure, tiny_family_install
from generation.selectors import job_progress

from . import raters, studies
from .models import Study

DEMO_STUDY_NAME = "Demo study: tiny turbo vs tiny LCM vs tiny baseline"

# Our own prompts in PartiPrompts' style (category, challenge); PartiPrompts itself is not shipped.
DEMO_PROMPTS = [
    ("a red bicycle leaning against a brick wall", "Vehicles", "Basic"),
    ("a bowl of ramen with a soft-boiled egg, top view", "Food & Beverage", "Basic"),
    ("three blue cubes stacked on a green sphere", "Artifacts", "Quantity"),
    ("a lighthouse on a cliff at sunset, oil painting", "Outdoor Scenes", "Style & Format"),
    ("a corgi wearing sunglasses on a skateboard", "Animals", "Imagination"),
    ("the word 'evalsite' written in neon letters", "Artifacts", "Writing & Symbols"),
    ("a snowy mountain village seen from above", "Outdoor Scenes", "Perspective"),
    ("a glass of orange juice next to a croissant", "Food & Beverage", "Properties & Positioning"),
    ("an astronaut reading a newspaper on the moon", "People", "Imagination"),
    ("a watercolor of a fox in a birch forest", "Animals", "Style & Format"),
    ("two cats sitting on a windowsill in the rain", "Animals", "Quantity"),
    ("a vintage typewriter on a wooden desk", "Artifacts", "Fine-grained Detail"),
]


def demo_prepare(*, rater_username: str = "rater", staff_username: str = "staff", generate: bool = True) -> dict:
    """Make the tiny models and the demo study, and (re)set two logins; with ``generate``, also
    generate its images and open it (else call ``demo_generate``, e.g. in the background)."""
    specs = tiny_family_install(directory=settings.EVALSITE_MODELS_DIR / "tiny")
    study = Study.objects.filter(name=DEMO_STUDY_NAME).first()
    if study is None:
        prompt_set = prompt_set_create(
            name="Demo prompts",
            source="demo",
            prompts=[{"text": t, "category": c, "challenge": ch} for t, c, ch in DEMO_PROMPTS],
        )
        study = studies.study_create(
            name=DEMO_STUDY_NAME,
            specs=specs,
            prompt_set=prompt_set,
            seeds=[0, 1],
            display_size=256,
            votes_per_pair=2,
            quota_per_rater=30,
            # Random-weight models draw no recognisable content: an image made for another prompt
            # looks as related as the right one, so only the degraded-copy check is fair here.
            attention_check_kinds=["degraded"],
        )
    User = get_user_model()
    passwords = {}
    with transaction.atomic():
        for username, is_staff in ((rater_username, False), (staff_username, True)):
            user, _ = User.objects.get_or_create(username=username)
            passwords[username] = secrets.token_urlsafe(9)
            user.set_password(passwords[username])
            user.is_staff = is_staff
            user.is_superuser = is_staff
            user.save()
        raters.rater_invite(study=study, user=User.objects.get(username=rater_username))
        Study.objects.filter(pk=study.pk).update(owner=User.objects.get(username=staff_username))
    if generate:
        demo_generate(study_id=study.pk)
    study.refresh_from_db()
    return {"study": study, "passwords": passwords, "rater": rater_username, "staff": staff_username}


def demo_generate(*, study_id: int) -> dict:
    """Generate the demo study's missing images (in-process tasks) and open it for rating;
    returns the job's progress. Safe to run in a background thread while the site serves."""
    study = Study.objects.select_related("job").get(pk=study_id)
    if study.status == Study.Status.DRAFT:
        studies.study_start_generation(study=study)
    elif study.status == Study.Status.GENERATING:
        # A demo stopped halfway: queue its missing images again (those made are skipped).
        job_enqueue(job=study.job)
    elif study.status == Study.Status.PAUSED:
        studies.study_resume(study=study)
    study.refresh_from_db()
    if study.status == Study.Status.GENERATING:
        studies.study_open(study=study)
    return job_progress(job=study.job)


def demo_speeds_measure(*, study_id: int, runs: int = 5, warmup: int = 2) -> list[SpeedMeasurement]:
    """Measure each demo model's batch-1 speed in steady state, the models' timed calls interleaved
    (``specs_speed_measure``), where it has no
    measurement yet, so the speed plot shows measured seconds per image rather than the in-batch
    estimate of its generation (whose first batch pays the process's one-time costs)."""
    study = Study.objects.select_related("job").get(pk=study_id)
    specs = [spec for spec in study.job.specs.order_by("pk") if not SpeedMeasurement.objects.filter(spec=spec).exists()]
    # Interleaved: the demo shares its machine with the browser and the server.
    return specs_speed_measure(specs=specs, runs=runs, warmup=warmup) if specs else []
