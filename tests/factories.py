"""The rows tests and benchmarks build, in one place: users, model specs, prompt sets, studies,
studies with image files, rated studies.

Rows that have a service are made through it (``prompt_set_create``, ``study_create``, which makes
the study's job; votes through ``ratings.scheduler``), so a factory never holds a rule of its own.
factory_boy comes with the ``test`` extra; the benchmarks that import this module need it too.

    UserFactory(staff=True)                              # a staff account, password PASSWORD
    StudyFactory(no_checks=True, specs=..., prompt_set=...)
    StudyWithImagesFactory(specs__n=2, prompt_set__size=4)   # open, with display copies
    RatedStudyFactory(raters=2, votes_per_rater=6)       # open, with answered comparisons
"""

from __future__ import annotations

import hashlib
import io
import random
import uuid

import factory
from factory.django import DjangoModelFactory

from generation.models import PromptSet
from ratings.models import Study

PASSWORD = "a-test-password"

#: Study settings for tests that count plain comparisons: no attention checks, repeats or minimum time.
NO_CHECKS = {"attention_check_rate": 0.0, "repeat_share": 0.0, "min_seconds_per_vote": 0.0}


class UserFactory(DjangoModelFactory):
    """An account made by ``create_user`` (password hashed); ``researcher=True`` also grants API access."""

    class Meta:
        model = "auth.User"
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user-{n}")
    password = PASSWORD

    class Params:
        staff = factory.Trait(is_staff=True)
        superuser = factory.Trait(is_staff=True, is_superuser=True)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class.objects.create_user(*args, **kwargs)

    @factory.post_generation
    def researcher(user, create, extracted, **kwargs):
        if create and extracted:
            from ratings.studies import researcher_grant

            researcher_grant(user=user)


class ModelSpecFactory(DjangoModelFactory):
    """A spec whose name, slug and weights path are distinctive (a blinding scan looks for them);
    no weights exist behind it, so it serves studies whose images are written by hand."""

    class Meta:
        model = "generation.ModelSpec"

    name = factory.Sequence(lambda n: f"Test model {n}")
    slug = factory.LazyAttribute(lambda spec: spec.name.lower().replace(" ", "-"))
    weights = factory.LazyAttribute(lambda spec: f"/weights/{spec.slug}-weights")
    pipeline_class = "StableDiffusionPipeline"
    steps = factory.Sequence(lambda n: n % 50 + 1)
    config_hash = factory.LazyAttribute(lambda spec: hashlib.sha256(spec.slug.encode()).hexdigest())


class PromptSetFactory(factory.Factory):
    """``size`` prompts made from the ``text`` pattern (``{i}`` numbers them), each with the
    ``fields`` given (category, challenge), through ``prompt_set_create``."""

    class Meta:
        model = PromptSet

    class Params:
        size = 6
        text = "a photo of object number {i} on a table"
        fields = factory.Dict({})

    name = factory.Sequence(lambda n: f"Prompt set {n}")
    prompts = factory.LazyAttribute(lambda o: [{"text": o.text.format(i=i), **o.fields} for i in range(o.size)])

    @classmethod
    def _create(cls, model_class, **kwargs):
        from generation.prompts import prompt_set_create

        return prompt_set_create(**kwargs)


class SpecList(factory.declarations.BaseDeclaration):
    """``n`` fresh specs (``specs__n=2``), unless the caller passes its own list."""

    def evaluate(self, instance, step, extra):
        return ModelSpecFactory.create_batch(extra.get("n", 3))


class StudyFactory(factory.Factory):
    """A draft study through ``study_create`` (which makes its job); any study setting may be passed."""

    class Meta:
        model = Study

    class Params:
        no_checks = factory.Trait(**NO_CHECKS)

    name = factory.Sequence(lambda n: f"Study {n}")
    specs = SpecList()
    prompt_set = factory.SubFactory(PromptSetFactory)
    seeds = (0,)
    display_size = 64

    @classmethod
    def _create(cls, model_class, **kwargs):
        from ratings.studies import study_create

        kwargs["seeds"] = list(kwargs["seeds"])
        return study_create(**kwargs)


class StudyWithImagesFactory(StudyFactory):
    """A study whose images and display copies exist as files (no diffusers), opened unless
    ``opened=False``; the minimum vote time defaults to none, as the rater tests want."""

    min_seconds_per_vote = 0

    @factory.post_generation
    def images(study, create, extracted, **kwargs):
        if create and extracted is not False:
            images_add(study, list(study.job.specs.order_by("pk")), size=study.display_size)

    @factory.post_generation
    def opened(study, create, extracted, **kwargs):
        from ratings.studies import study_open

        if create and extracted is not False:
            study_open(study=study, rng=random.Random(0))
        study.refresh_from_db()

    @factory.post_generation
    def screened(study, create, extracted, **kwargs):
        """Crowd links work only after screening (ratings/screening.py): recorded as skipped by
        nobody, unless ``screened=False`` (the screening tests)."""
        from django.utils import timezone

        from ratings.models import Study

        if create and extracted is not False:
            Study.objects.filter(pk=study.pk).update(images_reviewed_at=timezone.now(), images_review_skipped=True)
            study.refresh_from_db()


class RatedStudyFactory(StudyWithImagesFactory):
    """An open study without checks whose ``raters`` raters each answered ``votes_per_rater``
    comparisons through the scheduler, always choosing the left image."""

    attention_check_rate = 0.0
    repeat_share = 0.0

    @factory.post_generation
    def votes(study, create, extracted, raters: int = 2, per_rater: int = 6, seed: int = 7, **kwargs):
        from ratings.raters import rater_invite

        if not create or extracted is False:
            return
        rng = random.Random(seed)
        for _ in range(raters):
            vote_as(study, rater_invite(study=study, user=UserFactory()), per_rater, rng)
        study.refresh_from_db()


def database_random_seed(seed: int) -> None:
    """Seed PostgreSQL's random() on this connection (the scheduler's SQL draws with it), so one
    seed gives one run; nothing to do on SQLite (the ORM path draws from a Python rng)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000])


def vote_as(study, rater, n: int, rng: random.Random, response_ms: int = 4000) -> None:
    """Answer ``n`` comparisons through the scheduler, always for the left image."""
    for _ in range(n):
        comparison = comparison_serve(study=study, rater=rater, rng=rng)
        assert comparison is not None, "the scheduler ran out of pairs"
        vote_record(token=comparison.token, rater=rater, answers={c: "left" for c in study.all_criteria}, response_ms=response_ms)


def comparison_serve(*, study, rater, rng: random.Random | None = None):
    """The rater's current comparison (a ``Comparison``), starting their participation and serving
    one if needed, as the rating page does; None when nothing is left."""
    from ratings import raters, scheduler
    from ratings.models import Comparison

    raters.participation_start(study=study, rater=rater)
    result = scheduler.session_serve(study_id=study.pk, rater_id=rater.pk, rng=rng)
    if not result.get("pairs"):
        return None
    return Comparison.objects.select_related("image_a", "image_b", "prompt").get(token=result["pairs"][0]["token"])


def vote_record(*, token, rater, answers, response_ms: int):
    """Record one answer per criterion for a comparison served to this rater, as the rating page
    does (``raters.vote_submit``), with exceptions for what the page would show.

    A second submit of the same comparison counts once; a comparison served to someone else
    raises ``PermissionDenied`` and writes nothing; a refused vote raises ``ValidationError``.
    """
    from django.core.exceptions import PermissionDenied, ValidationError

    from ratings import raters
    from ratings.models import Comparison
    from ratings.scheduler import Outcome

    comparison = Comparison.objects.filter(token=token).only("study_id", "rater_id").first()
    if comparison is None or comparison.rater_id != rater.pk:
        raise PermissionDenied(Outcome.FORBIDDEN.message)
    result = raters.vote_submit(study_id=comparison.study_id, rater_id=rater.pk, token=token, answers=answers, response_ms=response_ms)
    if result["status"] == Outcome.FORBIDDEN.status:
        raise PermissionDenied(Outcome.FORBIDDEN.message)
    if result["status"] not in (Outcome.RECORDED.status, Outcome.DUPLICATE.status):
        raise ValidationError(result["message"])
    return Comparison.objects.get(token=token)


def png_bytes(size: int, seed: int) -> bytes:
    """A noisy square PNG of one colour per seed: compressed lengths differ by content."""
    import numpy as np
    from PIL import Image as PILImage

    rng = np.random.default_rng(seed)
    colour = rng.integers(0, 255, 3)
    pixels = np.clip(colour + rng.normal(0, 30, (size, size, 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def images_add(study, specs, *, size: int) -> None:
    """One image per model, prompt and seed, with a display copy, written to Django's storage.

    Not through ``generation.storage``, on purpose: ordinary compressed PNGs whose lengths differ
    by content, as display copies made before issue 18 were (tests/reliability/test_size_blinding)."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from generation.models import DisplayCopy, Image

    seed_counter = 0
    for prompt in study.job.prompt_set.prompts.all():
        for seed in study.job.seeds:
            for spec in specs:
                seed_counter += 1
                content = png_bytes(size, seed_counter)
                name = default_storage.save(f"images/{uuid.uuid4().hex}.png", ContentFile(content))
                display = default_storage.save(f"display/{uuid.uuid4().hex}.png", ContentFile(content))
                image = Image.objects.create(
                    spec=spec, prompt=prompt, seed=seed, file=name, width=size, height=size, config_hash=spec.config_hash,
                    latency_s=0.01, batch_size=1, device="cpu", torch_version="test", diffusers_version="test",
                )
                DisplayCopy.objects.create(image=image, size=size, file=display)


def token_client(user):
    """A REST client authenticated by the user's researcher token."""
    from rest_framework.test import APIClient

    from ratings import studies

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {studies.researcher_grant(user=user).key}")
    return client


def external_images_zip(prompt_set, seeds, size=64, colour=(200, 30, 30)):
    import io
    import zipfile

    from PIL import Image as PILImage

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for position in range(prompt_set.prompts.count()):
            for seed in seeds:
                png = io.BytesIO()
                PILImage.new("RGB", (size, size), (colour[0], (colour[1] + 40 * position) % 256, seed % 256)).save(png, format="PNG")
                zipped.writestr(f"{position}_{seed}.png", png.getvalue())
    buffer.seek(0)
    buffer.name = "images.zip"
    return buffer


EXTERNAL_SYSTEMS = [("midjourney-v6", "Midjourney v6", 9.0), ("dall-e-3", "DALL-E 3", 12.0), ("ideogram-2", "Ideogram 2", 6.0)]
