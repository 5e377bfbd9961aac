"""Enter on a focused control acts on that control (the "Skip / report" toggle, the "Withdraw"
link), Enter elsewhere submits the answers, and a message appearing moves no image."""

import pytest

from ratings.models import Comparison
from tests.browser.test_rating_session import DESKTOP, PHONE, join_by_keyboard, press_on

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def image_boxes(page) -> list[dict]:
    """Where the images are on the page (not the viewport: focusing a control may scroll)."""
    return page.eval_on_selector_all(
        ".pair img", "imgs => imgs.map(i => { const r = i.getBoundingClientRect(); return {x: r.x + scrollX, y: r.y + scrollY, w: r.width, h: r.height}; })"
    )


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_enter_acts_on_the_focused_control_and_messages_move_no_image(live_server, browser, make_study, artifacts_dir, viewport):
    study = make_study(display_size=128, attention_check_rate=0, repeat_share=0, quota_per_rater=5)
    page = browser.new_page(viewport=viewport)
    join_by_keyboard(page, live_server, study, f"keys{viewport['width']:021d}")
    first = page.input_value("#token")
    before = image_boxes(page)

    # Enter with nothing answered and no control focused: the message appears below the answers.
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("Enter")
    page.wait_for_selector("#message:not([hidden])")
    assert page.inner_text("#message") == "Answer every question first."
    assert image_boxes(page) == before
    prompt_box = page.eval_on_selector(".prompt", "e => e.getBoundingClientRect().y + scrollY")
    page.screenshot(path=str(artifacts_dir / f"rate-message-{viewport['width']}.png"), full_page=True)

    # Enter on the "Skip / report" toggle opens it (and again closes it), with no message.
    page.evaluate("document.getElementById('message').hidden = true")
    press_on(page, "report-toggle", tabs=20)
    assert page.eval_on_selector("#report", "d => d.open") is True
    assert page.is_hidden("#message")
    page.keyboard.press("Enter")
    assert page.eval_on_selector("#report", "d => d.open") is False
    assert page.is_hidden("#message")
    assert image_boxes(page) == before and page.eval_on_selector(".prompt", "e => e.getBoundingClientRect().y + scrollY") == prompt_box

    # Answer by keyboard and press Enter on the page: the answers are submitted.
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("1")
    page.keyboard.press("4")
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.getElementById('token').value !== '{first}'")
    assert Comparison.objects.get(token=first).answered_at is not None

    # Enter on the "Withdraw" link follows it.
    with page.expect_navigation():
        press_on(page, "withdraw-link", tabs=30)
    assert page.url.endswith(f"/rate/{study.pk}/withdraw/")
    assert page.is_visible("#confirm-withdraw")
