"""A whole rating session, then a scan of every response the rater received for anything that
names a model: HTML, JSON, URLs, headers, image bytes and image metadata."""

import re

import pytest

from ratings.models import Comparison
from tests.ratings.blinding import image_problems, scan_received
from tests.ratings.rater_client import RaterSession, RecordingClient

pytestmark = pytest.mark.django_db

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def test_a_full_rating_session_never_shows_a_model_identity(make_study):
    study = make_study(n_models=4, n_prompts=5, seeds=(0, 1), attention_check_rate=0.4, repeat_share=0.5, quota_per_rater=16)  # high shares: the scan must meet both kinds (P(miss) < 1e-3)
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
    image_urls = [r.url for r in received if r.headers.get("Content-Type") == "image/png"]
    assert len(image_urls) >= 2 * 16
    pattern = rf"^/rate/{study.pk}/(image/{UUID}/(left|right)|example/(clear|degraded|unrelated))/$"
    assert [url for url in image_urls if not re.match(pattern, url)] == []
    # The page's JSON carries only what the page needs: no sides, images or models.
    for response in received:
        if response.headers.get("Content-Type") == "application/json":
            payload = response.body.decode()
            assert not re.search(r'"(left_is_a|image_a|image_b|spec|model)', payload)


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
