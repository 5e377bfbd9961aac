"""Swagger UI in a real Chromium: it renders every operation from the schema, and every request
the page makes stays on this server (no CDN)."""

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.mark.django_db(transaction=True)
def test_swagger_ui_renders_the_api_offline(live_server, browser, artifacts_dir):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    refused = []  # Content-Security-Policy violations Chromium reports on the console
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None)
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock-summary-path", timeout=20000)
    paths = page.eval_on_selector_all(".opblock-summary-path", "nodes => nodes.map(n => n.getAttribute('data-path'))")
    for expected in ["/api/v1/studies/", "/api/v1/studies/{id}/start/", "/api/v1/specs/{id}/images/", "/api/v1/prompt-sets/",
                     "/api/v1/studies/{id}/leaderboard/", "/api/v1/studies/{id}/export/votes/"]:
        assert expected in paths
    assert page.locator(".info .title").inner_text().startswith("evalsite API")
    page.screenshot(path=str(artifacts_dir / "swagger-ui.png"), full_page=False)
    foreign = [url for url in requested if not url.startswith(live_server.url) and not url.startswith("data:")]
    assert foreign == []
    assert refused == []
    assert any(url.endswith("/api/schema/") for url in requested)
