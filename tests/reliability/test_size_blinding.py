"""Size-blind images (issue 18): everything a rater downloads for a study, whichever model
made it and whether it is an attention check's decoy or an instructions example, has one byte
length and one pixel size; and a study refuses models of different aspect ratios."""

from __future__ import annotations

import io
import random

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from generation import png
from generation.models import DisplayCopy
from ratings import studies
from ratings.models import AttentionCheck, Study
from tests.factories import ModelSpecFactory, PromptSetFactory, StudyFactory
from tests.ratings.rater_client import RaterSession, RecordingClient

pytestmark = pytest.mark.django_db


def _shape(body: bytes) -> tuple[int, tuple[int, int]]:
    with PILImage.open(io.BytesIO(body)) as picture:
        picture.load()
        assert not picture.info.get("dpi") and not getattr(picture, "text", {}), "no metadata in what raters download"
        return len(body), picture.size


def _rate_everything(study) -> list[tuple[str, bytes, str]]:
    session = RaterSession(RecordingClient(), study)
    assert session.join_prolific("sizeblind01", "S", "SESSION-1").status_code == 302
    session.start()
    for kind in ("clear", "degraded", "unrelated"):
        session.client.get(f"/rate/{study.pk}/example/{kind}/")
    while session.state.get("pairs"):
        assert session.vote().status_code == 200
    return [(r.url, r.body, r.headers.get("Content-Length", "")) for r in session.client.received if "/image/" in r.url or "/example/" in r.url]


def test_every_image_a_rater_downloads_has_one_length_and_size_across_models_and_checks(make_study):
    # make_study stores ordinary compressed PNGs, whose lengths differ by content (as the
    # display copies of studies made before this fix do): serving must still blind them.
    study = make_study(n_models=4, n_prompts=6, attention_check_rate=0.4, repeat_share=0, quota_per_rater=40)
    stored = {default_storage.size(name) for name in DisplayCopy.objects.values_list("file", flat=True)}
    assert len(stored) > 1, "the fixture's files differ in length, or this test proves nothing"
    downloads = _rate_everything(study)
    images = [d for d in downloads if "/image/" in d[0]]
    assert len(images) >= 2 * 20
    served_checks = {c for c in study.comparisons.filter(attention_check__isnull=False).values_list("attention_check__kind", flat=True)}
    assert AttentionCheck.Kind.DEGRADED in served_checks, "a degraded decoy was served"
    shapes = {_shape(body) for _, body, _ in downloads}
    assert shapes == {(png.display_length(64, 64), (64, 64))}, shapes
    assert {int(length) for _, _, length in downloads if length} <= {png.display_length(64, 64)}


def test_generated_display_copies_and_decoys_are_stored_at_one_length(tiny_specs, prompt_set):
    """The real path: tiny pipelines, display copies written by the worker code, decoys made
    at opening; every stored file a rater can be served has the same length."""
    from generation.jobs import job_run_inline

    study = StudyFactory(specs=tiny_specs[:2], prompt_set=prompt_set, display_size=48, attention_check_rate=0.5)
    job_run_inline(job=study.job)
    studies.study_open(study=study, rng=random.Random(3))
    names = list(DisplayCopy.objects.filter(image__spec__in=tiny_specs[:2], size=48).values_list("file", flat=True))
    names += [name for name in AttentionCheck.objects.filter(study=study).values_list("decoy_file", flat=True) if name]
    assert AttentionCheck.objects.filter(study=study, kind=AttentionCheck.Kind.DEGRADED).exists()
    lengths = set()
    for name in names:
        with default_storage.open(name, "rb") as handle:
            lengths.add(_shape(handle.read()))
    assert lengths == {(png.display_length(48, 48), (48, 48))}


def test_a_study_refuses_models_of_different_aspect_ratios(db):
    square, wide = ModelSpecFactory(), ModelSpecFactory(width=128, height=64)
    prompts = PromptSetFactory(size=1)
    with pytest.raises(ValidationError) as refused:
        studies.study_create(name="Mixed", specs=[square, wide], prompt_set=prompts, seeds=[0])
    assert "aspect ratio" in str(refused.value)
    assert not Study.objects.exists()
    same_shape = ModelSpecFactory(width=1024, height=1024)
    assert studies.study_create(name="Square", specs=[square, same_shape], prompt_set=prompts, seeds=[0]).pk
