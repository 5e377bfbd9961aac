"""The operations page in a real Chromium: the owner sees every image in the screening grid,
hides one with a reason, marks the screening done; a crowd link then enters the study and is
never shown the hidden image."""

import pytest

from ratings import screening
from ratings.models import Comparison, HiddenImage, Study
from tests.factories import StudyWithImagesFactory, UserFactory
from tests.ratings.rater_client import study_link

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.mark.django_db(transaction=True)
def test_the_owner_screens_the_grid_and_the_crowd_gets_in_after(live_server, browser, artifacts_dir):
    owner = UserFactory(username="owner", password="an-owner-password")
    study = StudyWithImagesFactory(specs__n=2, prompt_set__size=3, owner=owner, screened=False, no_checks=True, display_size=64)
    crowd = browser.new_page()
    crowd.goto(live_server.url + study_link(study, PROLIFIC_PID="screen00000000000000001", STUDY_ID="S", SESSION_ID="X1"))
    assert "not taking answers at the moment" in crowd.content()

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/studies/{study.pk}/operations/")
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", "an-owner-password")
    page.click("button[type=submit]")
    page.wait_for_selector("#screening-grid")
    assert "Crowd links do not work yet" in page.content()
    widths = page.eval_on_selector_all("#screening-grid img", "imgs => Promise.all(imgs.map(i => i.decode().then(() => i.naturalWidth)))")
    assert widths == [64] * 6  # 3 prompts x 1 seed x 2 models, all loaded
    target = screening.study_images(study=study).order_by("pk").first()
    page.check(f"#screening-grid input[value='{target.pk}']")
    page.select_option("select[name=reason]", "broken")
    with page.expect_navigation():
        page.click("button[value=hide]")
    assert "1 image(s) hidden" in page.content()
    page.screenshot(path=str(artifacts_dir / "screening-grid.png"), full_page=True)
    with page.expect_navigation():
        page.click("button[value=review]")
    assert "Images reviewed by owner" in page.content()
    assert HiddenImage.objects.filter(study=study, image=target, reason="broken", hidden_by=owner).exists()
    assert Study.objects.get(pk=study.pk).images_reviewed_by == owner

    crowd.goto(live_server.url + study_link(study, PROLIFIC_PID="screen00000000000000002", STUDY_ID="S", SESSION_ID="X2"))
    crowd.wait_for_selector("#agree")
    with crowd.expect_navigation():
        crowd.click("#agree")
    with crowd.expect_navigation():
        crowd.click("#start")
    crowd.wait_for_selector("#vote-form")
    served = Comparison.objects.filter(study=study)
    assert served.exists()
    assert not served.filter(image_a=target).exists() and not served.filter(image_b=target).exists()
