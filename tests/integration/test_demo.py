"""The README's first command, as a new user meets it: `manage.py demo` on a fresh data
directory with no services (SQLite, in-process tasks), served and used in Chromium."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.processes import free_port, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo_server(tmp_path, artifacts_dir):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(EVALSITE_DATA_DIR=str(tmp_path / "data"), EVALSITE_STATIC_ROOT=str(tmp_path / "static"), TRANSFORMERS_VERBOSITY="error")
    # The steps of scripts/demo after its installer (a fresh clone has no collected static files).
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
    log_path = artifacts_dir / "logs" / "demo.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "manage.py", "demo", "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            def serving():
                try:
                    return requests.get(f"http://127.0.0.1:{port}/healthz/", timeout=5).status_code == 200
                except (requests.ConnectionError, requests.Timeout):  # not listening yet, or busy starting
                    assert process.poll() is None, log_path.read_text()[-3000:]
                    return False

            wait_for(serving, timeout=300, what="the demo to serve", interval=0.5)
            yield port, log_path
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.mark.timeout(1500)
def test_demo_serves_at_once_generates_in_the_background_and_a_rater_can_vote_and_staff_sees_the_leaderboard(demo_server, browser, artifacts_dir, tmp_path):
    port, log_path = demo_server
    base = f"http://127.0.0.1:{port}"
    output = log_path.read_text()
    assert "Serving now. The demo study's 72 images are being generated in the background" in output
    rate_url, rater, rater_password = re.search(r"Rate pairs:\s+(\S+)\s+log in as '(\w+)' with password '(\S+)'", output).groups()
    board_url, staff, staff_password = re.search(r"See leaderboard:\s+(\S+)\s+log in as '(\w+)' with password '(\S+)'", output).groups()
    assert rate_url.startswith(base) and board_url.startswith(base)

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(rate_url)
    page.fill("input[name=username]", rater)
    page.fill("input[name=password]", rater_password)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    if "Demo ready" not in log_path.read_text():
        # Still generating: the page says how far it has got, and refreshes itself.
        assert re.search(r"are being made: \d+ of 72 so far|Before you start", page.inner_text("main"))
    # A minute or two on an idle machine; generous for a loaded one.
    wait_for(lambda: "Demo ready" in log_path.read_text(), timeout=900, what="the demo's images", interval=1)
    output = log_path.read_text()
    assert "Demo ready: 72 of 72 images generated; the study is open for rating." in output
    # It served before the images were made.
    assert output.index("Starting development server") < output.index("Demo ready")
    # No warning a user cannot act on.
    assert not re.search(r"(Future|User|Deprecation)Warning|deprecated|font cache|No hostname|Writing model shards|Task generation", output), output
    page.wait_for_selector("#agree", timeout=15000)
    with page.expect_navigation():
        page.click("#agree")
    with page.expect_navigation():
        page.click("#start")
    page.wait_for_selector("#vote-form")
    page.screenshot(path=str(artifacts_dir / "demo-rate-page.png"))
    # One in ten served pairs is an attention check (the product's default rate), whose vote is
    # not counted: answer any such check as a careful rater would (the real image, A) and go
    # on until a counted pair has been answered. The page does not say which is which; the
    # demo's own database does.
    database = tmp_path / "data" / "evalsite.sqlite3"
    for _ in range(20):
        # The demo keeps the product's default minimum time per vote: wait it out, then answer.
        page.wait_for_timeout(3200)
        token = page.input_value("#token")
        with sqlite3.connect(database) as db:
            is_check, left_is_a = db.execute(
                "SELECT attention_check_id IS NOT NULL, left_is_a FROM ratings_comparison WHERE token = ?", (token.replace("-", ""),)
            ).fetchone()
        if is_check:
            page.keyboard.press("1" if left_is_a else "2")  # forced choice: keys 1/2, then 3/4
            page.keyboard.press("3" if left_is_a else "4")
        else:
            page.keyboard.press("1")
            page.keyboard.press("4")
        page.click("#submit")
        page.wait_for_function(f"document.getElementById('token').value !== '{token}'")
        if not is_check:
            break
    assert not is_check, "twenty attention checks in a row"

    staff_page = browser.new_page()
    staff_page.goto(board_url)
    staff_page.fill("input[name=username]", staff)
    staff_page.fill("input[name=password]", staff_password)
    staff_page.click("button[type=submit]")
    staff_page.goto(board_url + "?recompute=1")
    text = staff_page.inner_text("main")
    assert "72 of 72 made" in text and "Counted: 2 votes in 1 comparisons by 1 rater" in text
    staff_page.screenshot(path=str(artifacts_dir / "demo-leaderboard.png"), full_page=True)
    # Each model's speed is measured in steady state once its images are made (the plot's
    # in-batch estimate gave the first model generated the one-time costs), and said so.
    wait_for(lambda: "Measured each model's seconds per image" in log_path.read_text(), timeout=300, what="the speed measurement", interval=1)
    measured = re.search(r"steady state, on CPU\): (.*)\.$", log_path.read_text(), re.M).group(1)
    assert all(slug in measured for slug in ("tiny-turbo-1step", "tiny-lcm-4step", "tiny-base-25step")), measured
    # One log line per request: runserver's (the site's own request line is quieted in the demo).
    assert requests.get(f"{base}/livez/?once=1", timeout=10).status_code == 200
    wait_for(lambda: "/livez/" in log_path.read_text(), timeout=10, what="the request's log line", interval=0.2)
    assert len([line for line in log_path.read_text().splitlines() if "/livez/" in line]) == 1
