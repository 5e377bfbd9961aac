"""A set question in a real Chromium (issue 16): a study that asks, beside its pairs, which of
two sets of images (every seed of one prompt, one model per side) is more varied. The page
switches between pairs and sets without a reload, shows every image of both sets at one size,
asks only the question of what is on screen, and the votes are recorded under the set criterion."""

import pytest

from ratings.models import Comparison, Vote
from tests.browser.test_rating_session import DESKTOP, join_by_keyboard, on_screen, wait_for_pair

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_rater_answers_set_questions_and_pair_questions_by_keyboard(live_server, browser, make_study, artifacts_dir):
    # 2 models, 2 prompts, 3 seeds: 6 pair slots and 2 set slots, one vote each; the quota meets all 8.
    study = make_study(
        n_models=2, n_prompts=2, seeds=(11, 22, 33), display_size=128, set_criteria=["diversity"], votes_per_pair=1,
        attention_check_rate=0, repeat_share=0, quota_per_rater=8,
    )
    page = browser.new_page(viewport=DESKTOP)
    join_by_keyboard(page, live_server, study, "sets00000000000000000001")
    kinds = []
    for n in range(8):
        wait_for_pair(page, n + 1, 8)
        comparison = on_screen(page)
        is_set = comparison.slot.kind == "set"
        kinds.append("set" if is_set else "pair")
        if is_set:
            page.wait_for_function("Array.from(document.querySelectorAll('#set-view img')).every(i => i.complete && i.naturalWidth > 0)")
            assert page.is_visible("#set-view") and page.is_hidden("#pair-view")
            sizes = page.eval_on_selector_all("#left-set img, #right-set img", "imgs => imgs.map(i => [i.naturalWidth, i.getBoundingClientRect().width])")
            assert len(sizes) == 6 and {natural for natural, _ in sizes} == {128}
            assert len({round(shown) for _, shown in sizes}) == 1  # every image of both sets shown at one size
            assert page.is_visible("fieldset[data-criterion=diversity]") and page.is_hidden("fieldset[data-criterion=prompt_adherence]")
            assert page.inner_text("fieldset[data-criterion=diversity] legend") == "Which set of images is more varied?"
            if kinds.count("set") == 1:
                page.screenshot(path=str(artifacts_dir / "rate-set-desktop.png"), full_page=True)
            page.keyboard.press("2")  # the right set is more varied
        else:
            page.wait_for_function("document.getElementById('left-image').complete && document.getElementById('right-image').complete")
            assert page.is_visible("#pair-view") and page.is_hidden("#set-view")
            assert page.is_hidden("fieldset[data-criterion=diversity]") and page.is_visible("fieldset[data-criterion=image_quality]")
            page.keyboard.press("1")  # prompt adherence: left
            page.keyboard.press("4")  # image quality: right
        page.keyboard.press("Enter")
        if n < 7:
            page.wait_for_function(f"document.getElementById('token').value !== '{comparison.token}'")
    page.wait_for_selector("#completion-code")
    assert sorted(kinds) == ["pair"] * 6 + ["set"] * 2
    for comparison in Comparison.objects.filter(study=study).select_related("slot"):
        left, right = ("a", "b") if comparison.left_is_a else ("b", "a")
        votes = {v.criterion: v.choice for v in Vote.objects.filter(comparison=comparison)}
        if comparison.slot.kind == "set":
            assert votes == {"diversity": right}
        else:
            assert votes == {"prompt_adherence": left, "image_quality": right}
        assert all(v.response_ms > 0 for v in Vote.objects.filter(comparison=comparison))
