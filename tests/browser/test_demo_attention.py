"""The demo study as its rater meets it, in Chromium: an attentive rater passes every attention
check. The demo's random-weight models draw no recognisable content, so its checks are only
degraded copies (a blurred, grainy copy of one of the pair's images); the simulated rater looks
at the two images as a person does, judging image quality by graininess, and never reads an
answer from the server."""

import pytest

from ratings.demo import demo_prepare
from ratings.models import AttentionCheck, Comparison, Participation, Rater, Study

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Mean absolute difference between neighbouring pixels: a degraded copy is far grainier.
GRAININESS = """img => {
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const context = canvas.getContext("2d");
  context.drawImage(img, 0, 0);
  const d = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let total = 0;
  for (let i = 4; i < d.length; i += 4) { total += Math.abs(d[i] - d[i - 4]) + Math.abs(d[i + 1] - d[i - 3]) + Math.abs(d[i + 2] - d[i - 2]); }
  return total / (d.length / 4);
}"""

VOTES = 16


def test_an_attentive_rater_passes_the_demo_studys_attention_checks(live_server, browser, tiny_weights, artifacts_dir):
    demo = demo_prepare()
    study = demo["study"]
    assert set(AttentionCheck.objects.filter(study=study).values_list("kind", flat=True)) == {"degraded"}
    # To meet several checks in a short test: a higher share of checks, no minimum time.
    Study.objects.filter(pk=study.pk).update(attention_check_rate=0.5, min_seconds_per_vote=0)

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/rate/{study.pk}/")
    page.fill("input[name=username]", demo["rater"])
    page.fill("input[name=password]", demo["passwords"][demo["rater"]])
    page.click("button[type=submit]")
    with page.expect_navigation():
        page.click("#agree")
    # The instructions show the degraded example the checks use, and no unrelated-prompt example.
    instructions = page.inner_text("main")
    assert "Example 1: image quality" in instructions and "Example 2" not in instructions
    page.screenshot(path=str(artifacts_dir / "demo-instructions.png"), full_page=True)
    with page.expect_navigation():
        page.click("#start")

    for n in range(VOTES):
        page.wait_for_function(f"document.getElementById('progress').textContent === 'Pair {n + 1} of 30'")
        token = page.input_value("#token")
        page.wait_for_function(
            "t => ['left-image', 'right-image'].every(id => { const i = document.getElementById(id); "
            "return i.src.includes(t) && i.complete && i.naturalWidth > 0; })", arg=token,
        )
        left, right = (page.eval_on_selector(f"#{side}-image", GRAININESS) for side in ("left", "right"))
        if n == 0:
            page.screenshot(path=str(artifacts_dir / "demo-pair.png"))
        page.keyboard.press("1")  # prompt adherence: the images carry no content, any answer will do
        page.keyboard.press("3" if left < right else "4")  # image quality: the less grainy image
        page.keyboard.press("Enter")
        page.wait_for_function(f"document.getElementById('token').value !== '{token}'")

    rater = Rater.objects.get(user__username=demo["rater"])
    checks = Comparison.objects.filter(study=study, rater=rater, attention_check__isnull=False, answered_at__isnull=False)
    assert checks.count() >= 2, "the test must meet attention checks to show anything"
    assert list(checks.values_list("failed_check", flat=True)) == [False] * checks.count()
    assert not Participation.objects.get(rater=rater, study=study).flagged
    assert Participation.objects.get(study=study, rater=rater).failed_checks == 0
