"""Every staff and rater page in a real Chromium under the production Content-Security-Policy
(issue 26): each page is opened, every control on it is used, and the test fails on any console
error, CSP violation or uncaught JavaScript error. Each page is photographed at 1280x800 and at
390x844 (test-artifacts/pages/), staff pages must fit a 1280-pixel window, and the rater page
must show the prompt, both images and every question on a phone's first screen.

One test, one set of rows: the studies are built once and every page is walked in order (the
pages change the studies as a researcher would: hide, pilot, clone, flag switch, votes).

Playwright's wait_for_function evaluates with eval, which the policy forbids: these pages are
waited on with selectors, navigations and CDP evaluation (eval_on_selector) only."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

import pytest

from ratings import crowd
from ratings.models import Participation, Study
from ratings.selectors import study_items
from tests.factories import UserFactory
from tests.ratings.rater_client import study_link

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def wait_until(predicate, seconds: float = 15.0, what: str = "the page") -> None:
    """Poll ``predicate`` (a page that navigates meanwhile counts as not yet)."""
    from playwright.sync_api import Error

    deadline = time.monotonic() + seconds
    while True:
        try:
            if predicate():
                return
        except Error:
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


class Watched:
    """A strict-CSP browser context whose console errors, CSP reports and page errors are kept."""

    def __init__(self, browser, *, phone: bool = False, javascript: bool = True):
        options = {"bypass_csp": False, "java_script_enabled": javascript, "viewport": PHONE if phone else DESKTOP}
        if phone:
            options.update(is_mobile=True, has_touch=True, device_scale_factor=2)
        self.context = browser.new_context(**options)
        self.problems: list[str] = []
        self.refused: set[str] = set()  # pages meant to answer 4xx: Chromium logs their status as an error
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"JavaScript error on {self.page.url}: {error}"))

    def _console(self, message) -> None:
        if message.location.get("url") in self.refused and message.text.startswith("Failed to load resource: the server responded with a status of 4"):
            return
        if message.type == "error" or "Content Security Policy" in message.text:
            self.problems.append(f"console {message.type} on {self.page.url}: {message.text}")

    def close(self) -> None:
        self.context.close()


def shoot(page, artifacts_dir, name: str, sizes=(DESKTOP, PHONE)) -> None:
    """Full-page screenshots of the page at each size, then back to the first size."""
    folder = artifacts_dir / "pages"
    folder.mkdir(parents=True, exist_ok=True)
    for size in sizes:
        page.set_viewport_size(size)
        page.screenshot(path=str(folder / f"{name}-{size['width']}x{size['height']}.png"), full_page=True)
    page.set_viewport_size(sizes[0])


def overflow(page) -> list[str]:
    """What sticks out: the page wider than the window, or an element wider than its box."""
    return page.evaluate(
        """() => {
          const out = [];
          const width = document.documentElement.clientWidth;
          if (document.documentElement.scrollWidth > width + 1) out.push(`page ${document.documentElement.scrollWidth}px wide in ${width}px`);
          for (const box of document.querySelectorAll('.card, fieldset, .prompt, figure')) {
            for (const child of box.querySelectorAll('table, legend, img, svg, p, span')) {
              if (child.closest('.table-scroll') && child.tagName === 'TABLE') continue;
              const outer = box.getBoundingClientRect(), inner = child.getBoundingClientRect();
              if (inner.width && inner.right > outer.right + 1) out.push(`${child.tagName.toLowerCase()}${child.id ? '#' + child.id : ''} sticks out of ${box.tagName.toLowerCase()}.${box.className} by ${Math.round(inner.right - outer.right)}px`);
            }
          }
          return out;
        }"""
    )


def go(page, url: str) -> None:
    response = page.goto(url)
    assert response.status < 500, f"{url} answered {response.status}"


def click_and_wait(page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def staff_login(page, base: str, next_path: str) -> None:
    go(page, f"{base}/login/?next={next_path}")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", "a-staff-password")
    click_and_wait(page, "button[type=submit]")
    assert urlparse(page.url).path == next_path


def query_of(page) -> dict:
    return {key: values[0] for key, values in parse_qs(urlparse(page.url).query).items()}


def test_every_page_and_control_under_the_production_policy(live_server, browser, rated_study, make_study, artifacts_dir, monkeypatch):
    from evalsite.dashboard import views as dashboard_views

    monkeypatch.setattr(dashboard_views, "REFRESH_SECONDS", 1)
    base = live_server.url
    UserFactory(username="boss", password="a-staff-password", superuser=True)  # the admin's pages too
    crowd_study = make_study(
        n_prompts=4, display_size=256, attention_check_rate=0, repeat_share=0, quota_per_rater=3, ask_feedback=True,
    )
    images = sorted(image for by_spec in study_items(study=crowd_study).values() for image in by_spec.values())
    crowd.study_screener_set(study=crowd_study, questions=[
        {"question": "Which image follows the prompt better?", "prompt": "a small red cube", "right_image": images[0], "wrong_image": images[-1]},
    ])
    problems: list[str] = []
    timings: list[tuple[str, float]] = [("start", time.monotonic())]

    timings.append(("staff login and studies list", time.monotonic()))
    # ---- Staff: desktop, JavaScript on. ----
    staff = Watched(browser)
    page = staff.page
    study = rated_study
    staff_login(page, base, "/dashboard/")
    shoot(page, artifacts_dir, "dashboard-index")
    assert overflow(page) == []
    click_and_wait(page, f"a[href='/dashboard/studies/{study.pk}/']")

    timings.append(("dashboard study page", time.monotonic()))
    # The dashboard's study page: it fits 1280 pixels, its bars are bars, it refreshes itself.
    wait_until(lambda: "last at" in page.inner_text("#refresh-state"), what="the dashboard panel to refresh")
    assert overflow(page) == [], overflow(page)
    bars = page.eval_on_selector_all("table.pairs .bar", "bars => bars.map(b => b.getBoundingClientRect().width)")
    assert bars and min(bars) >= 60, f"per-pair bars collapsed: {bars}"
    assert re.search(r"\d+ raters? active in the last 15 minutes", page.inner_text("#comparisons-line"))
    assert page.inner_text("#forecast").startswith("Forecast")
    labels = page.eval_on_selector_all("svg.votes-per-hour text.tick", "ts => ts.map(t => t.getBoundingClientRect().height)")
    assert len(labels) >= 6 and min(labels) >= 10, f"hour labels too few or too small: {labels}"
    shoot(page, artifacts_dir, "dashboard-study")
    click_and_wait(page, "#operations-link")

    timings.append(("operations page", time.monotonic()))
    # The operations page: hide and show an image, the screening, a pilot, a clone, a model.
    assert overflow(page) == [], overflow(page)
    shoot(page, artifacts_dir, "operations")
    page.locator("#screening-grid input[name=images]").first.check()
    page.select_option("#screening-grid select[name=reason]", index=1)
    page.fill("#screening-grid input[name=note]", "blurry")
    click_and_wait(page, "button[value=hide]")
    assert "hidden" in page.inner_text("#screening-grid")
    page.locator("#screening-grid td.hidden-image input[name=images]").first.check()
    click_and_wait(page, "button[value=unhide]")
    click_and_wait(page, "button[value=review]")
    click_and_wait(page, "button[value=skip]")
    page.fill("input[name=quota_per_rater]", "2")
    page.fill("input[name=max_participants]", "5")
    click_and_wait(page, "form[action$='/operations/pilot/'] button")
    assert Study.objects.filter(pilot_of=study).exists()
    go(page, f"{base}/studies/{study.pk}/operations/")
    page.fill("input[name=name]", "Versus, again")
    click_and_wait(page, "form[action$='/operations/clone/'] button")
    clone = Study.objects.get(name="Versus, again")
    assert urlparse(page.url).path == f"/studies/{clone.pk}/operations/"
    page.fill("input[name=models]", "no-such-model")
    click_and_wait(page, "form[action$='/operations/models/'] button")
    assert page.locator("p.error[role=alert]").count() >= 1  # the refusal, in words
    shoot(page, artifacts_dir, "operations-clone")

    timings.append(("leaderboard options", time.monotonic()))
    # The leaderboard: pictures first, then every option by the mouse (leaderboard.js submits).
    go(page, f"{base}/studies/{study.pk}/leaderboard/?rounds=200")  # fewer rounds, faster pages; every option keeps them
    for plot in ("#forest-plot", "#heatmap-plot"):
        wait_until(lambda: page.eval_on_selector(plot, "img => img.complete && img.naturalWidth") > 0, what=plot)
    top = page.eval_on_selector("#overview", "e => e.getBoundingClientRect().top")
    first_table = page.eval_on_selector("table.leaderboard", "e => e.getBoundingClientRect().top")
    assert top < first_table
    assert overflow(page) == [], overflow(page)
    assert page.locator("#show-options").is_hidden()  # JavaScript submits on change
    shoot(page, artifacts_dir, "leaderboard")
    for plot in ("forest-plot", "heatmap-plot"):
        page.locator(f"#{plot}").screenshot(path=str(artifacts_dir / "pages" / f"leaderboard-{plot}.png"))
    # Each list starts away from the page's current choice (the study's unit, prompt, is the default resample).
    for name, values in (("method", ["elo", "winrate", "davidson", "bt"]), ("resample", ["comparison", "rater", "prompt"]), ("by", ["category", "challenge", ""])):
        for value in values:
            click_and_wait(page, f"#leaderboard-options input[name={name}][value='{value}']")
            assert query_of(page).get(name, "") == value and query_of(page)["rounds"] == "200", page.url
    click_and_wait(page, "#leaderboard-options input[name=include_flagged]")
    assert query_of(page).get("include_flagged") == "1"
    click_and_wait(page, "#leaderboard-options input[name=include_flagged]")
    assert "include_flagged" not in query_of(page)
    click_and_wait(page, "text=recompute now")
    timings.append(("leaderboard downloads", time.monotonic()))
    for link in page.locator("a[href*='leaderboard.'], a[href*='votes.csv'], a[href*='participants.csv'], a[href*='download=1']").all():
        with page.expect_download() as download:
            link.click()
        assert download.value.failure() is None
    if page.locator("form[action$='/diversity/'] button").count():  # only with two seeds or more
        click_and_wait(page, "form[action$='/diversity/'] button")
        assert urlparse(page.url).path == f"/studies/{study.pk}/leaderboard/"

    timings.append(("admin and API docs", time.monotonic()))
    # Django's admin and the API docs, opened (their own controls are Django's and Swagger's).
    for path in ("/admin/", "/admin/ratings/study/", f"/admin/ratings/study/{study.pk}/change/", "/api/docs/", "/"):
        go(page, base + path)
    problems += staff.problems
    staff.close()

    timings.append(("leaderboard without JavaScript", time.monotonic()))
    # ---- Staff without JavaScript: the options still work through the "Show" button. ----
    plain = Watched(browser, javascript=False)
    staff_login(plain.page, base, f"/studies/{study.pk}/leaderboard/")
    plain.page.check("#leaderboard-options input[name=method][value=winrate]")
    click_and_wait(plain.page, "#show-options")
    assert query_of(plain.page)["method"] == "winrate"
    problems += plain.problems
    plain.close()

    timings.append(("rater on a desktop", time.monotonic()))
    # ---- A rater on a desktop: a bad link, consent, instructions, screener, keys, report, feedback. ----
    desk = Watched(browser)
    page = desk.page
    tampered = base + study_link(crowd_study, PROLIFIC_PID="x" * 24, STUDY_ID="S1", SESSION_ID="X1").replace("/join/", "/join/tampered")
    desk.refused.add(tampered)
    assert page.goto(tampered).status == 403
    assert "This study link is not valid" in page.inner_text("main")
    shoot(page, artifacts_dir, "rater-bad-link")
    go(page, base + study_link(crowd_study, PROLIFIC_PID="deskrater000000000000001", STUDY_ID="S1", SESSION_ID="D1"))
    shoot(page, artifacts_dir, "rater-consent")
    click_and_wait(page, "#agree")
    shoot(page, artifacts_dir, "rater-instructions")
    click_and_wait(page, "#start")
    shoot(page, artifacts_dir, "rater-screener")
    participation = Participation.objects.get(crowd_session_id="D1")
    page.check(f"#q0-{crowd.screener_right_side(participation=participation, number=0)}")
    click_and_wait(page, "#screener-submit")
    page.wait_for_selector("#vote-form")
    rate_url = page.url
    pair_loaded(page)
    assert page.locator(".key-hints").first.is_visible() and page.locator("fieldset kbd").first.is_visible()
    assert overflow(page) == [], overflow(page)
    shoot(page, artifacts_dir, "rater-rate")
    token = page.input_value("#token")
    page.keyboard.press("1")
    page.keyboard.press("4")
    page.keyboard.press("Enter")
    wait_until(lambda: page.input_value("#token") != token, what="the next pair")
    token = page.input_value("#token")
    page.click("#report-toggle")
    page.locator("#report-form input[name=reason]").last.check()
    page.fill("#report-form input[name=note]", "both look the same")
    page.click("#report-submit")
    wait_until(lambda: page.input_value("#token") != token, what="a pair after the report")
    while "/finish/" not in page.url:
        pair_loaded(page)
        token = page.input_value("#token")
        page.check("fieldset[data-criterion=prompt_adherence] input[value=right]")
        page.check("fieldset[data-criterion=image_quality] input[value=left]")
        page.click("#submit")
        wait_until(lambda: "/finish/" in page.url or page.eval_on_selector("#token", "t => t.value") != token, what="the next pair")
    page.wait_for_selector("#feedback-form")
    shoot(page, artifacts_dir, "rater-finished")
    page.fill("#feedback", "Fine on a laptop.")
    click_and_wait(page, "#send-feedback")
    assert page.locator("#completion-code, #exit-code, .card strong").count() >= 1
    shoot(page, artifacts_dir, "rater-code")
    go(page, rate_url)  # after the end: the page says so
    problems += desk.problems
    desk.close()

    timings.append(("rater on a phone", time.monotonic()))
    # ---- A rater on a phone: the pair and the questions on one screen, no key hints; withdraw. ----
    phone = Watched(browser, phone=True)
    page = phone.page
    go(page, base + study_link(crowd_study, PROLIFIC_PID="phonerater00000000000001", STUDY_ID="S1", SESSION_ID="P1"))
    page.tap("#agree")
    page.wait_for_selector("#start")
    assert page.locator("li .key-hints").first.is_hidden()  # the instructions name no keys on a touch screen
    shoot(page, artifacts_dir, "rater-instructions-phone", sizes=(PHONE,))
    page.tap("#start")
    page.wait_for_selector("#screener-form")
    participation = Participation.objects.get(crowd_session_id="P1")
    page.tap(f"#q0-{crowd.screener_right_side(participation=participation, number=0)}")
    page.tap("#screener-submit")
    page.wait_for_selector("#vote-form")
    pair_loaded(page)
    assert overflow(page) == [], overflow(page)
    layout = page.evaluate(
        """() => {
          const box = s => document.querySelector(s).getBoundingClientRect();
          return {height: window.innerHeight, prompt: box('.prompt').bottom, left: box('#left-image').bottom,
                  right: box('#right-image').bottom, questions: box('.questions').bottom, submit: box('#submit').bottom,
                  leftWidth: box('#left-image').width};
        }"""
    )
    for part in ("prompt", "left", "right", "questions", "submit"):
        assert layout[part] <= layout["height"], f"on a phone the {part} ends at {layout[part]:.0f}px, below the first screen: {layout}"
    assert layout["leftWidth"] >= 150, layout
    assert page.locator(".key-hints").first.is_hidden() and page.locator("fieldset kbd").first.is_hidden()  # no keys on a touch screen
    assert page.locator("#withdraw-link").is_visible()
    shoot(page, artifacts_dir, "rater-rate-phone", sizes=(PHONE, DESKTOP))
    token = page.input_value("#token")
    page.tap("fieldset[data-criterion=prompt_adherence] input[value=left]")
    page.tap("fieldset[data-criterion=image_quality] input[value=right]")
    page.tap("#submit")
    wait_until(lambda: page.input_value("#token") != token, what="the next pair")
    page.tap("#withdraw-link")
    page.wait_for_selector("#confirm-withdraw")
    shoot(page, artifacts_dir, "rater-withdraw", sizes=(PHONE, DESKTOP))
    page.tap("#confirm-withdraw")
    page.wait_for_load_state()
    assert "withdr" in page.inner_text("main").lower()
    problems += phone.problems
    phone.close()

    timings.append(("end", time.monotonic()))
    (artifacts_dir / "pages" / "timings.txt").write_text(
        "".join(f"{later[1] - earlier[1]:6.1f} s  {earlier[0]}\n" for earlier, later in zip(timings, timings[1:]))
    )
    assert problems == [], "\n".join(problems)


def pair_loaded(page) -> None:
    wait_until(
        lambda: "/finish/" in page.url
        or page.eval_on_selector_all("#pair-view img", "imgs => imgs.length === 2 && imgs.every(i => i.complete && i.naturalWidth > 0)"),
        what="both images",
    )
