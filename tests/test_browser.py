"""The real app in a real browser: `streamlit run`, headless Debian Chromium, Playwright."""

from __future__ import annotations

import os
import re
import shutil

import pytest

from bench._harness import serve_app
from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser
if not CHROMIUM and not os.environ.get("REQUIRE_BROWSER"):
    pytestmark = [
        pytest.mark.browser,
        pytest.mark.skip(
            reason="Debian's chromium is not installed (apt-get install chromium); .ci/run "
            "installs it"
        ),
    ]


@pytest.fixture
def server(cache_dir, tmp_path):
    """The app as a user starts it, with this test's own cache."""
    env = os.environ | {"OVERFITTING_LAB_CACHE": str(cache_dir), "PYTHONPATH": str(ROOT)}
    with serve_app(env, tmp_path / "server.log") as url:
        yield url


def test_a_small_comparison_trains_live_in_chromium(server):
    from playwright.sync_api import expect, sync_playwright

    assert CHROMIUM, "REQUIRE_BROWSER is set but Debian's chromium is not installed"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 3400})
        page.goto(f"{server}/?ds=iris&v=baseline,dropout,l2&ep=150")
        run = page.get_by_role("button", name="Run (3 to train)")
        expect(run).to_be_enabled(timeout=60_000)
        run.click()
        # Live: the progress line and the curves while the job runs...
        expect(page.get_by_text(re.compile(r"Training: \d+% of epochs"))).to_be_visible(
            timeout=180_000
        )
        expect(page.locator(".vega-embed").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "compare-live.png"), full_page=True)
        # ...then the finished comparison, redrawn from the cache.
        expect(page.get_by_text("Summary", exact=True)).to_be_visible(timeout=300_000)
        expect(page.get_by_role("button", name="All cached")).to_be_visible()
        charts = page.locator(".vega-embed")
        expect(charts.first).to_be_visible()
        assert charts.count() >= 3
        page.wait_for_timeout(1500)  # let Vega finish drawing before the picture
        page.screenshot(path=str(ARTIFACTS / "compare.png"), full_page=True)
        text = page.locator("section.main, [data-testid='stMain']").first.inner_text()
        assert "baseline" in text and "dropout" in text and "Traceback" not in text
        browser.close()


def test_a_shared_link_to_a_page_opens_it_on_a_fresh_server(server):
    """The first visitor of a just-started server follows a link to the Data page: it must
    open with the sidebar, not run the page file alone (Streamlit's old pages/ mode)."""
    from playwright.sync_api import expect, sync_playwright

    assert CHROMIUM, "REQUIRE_BROWSER is set but Debian's chromium is not installed"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.goto(f"{server}/data?ds=wine")
        expect(page.get_by_role("heading", name="Data: Wine")).to_be_visible(timeout=60_000)
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_text("Overfitting Lab")).to_be_visible()
        expect(sidebar.get_by_role("link", name="Runs")).to_be_visible()
        expect(sidebar.get_by_text("streamlit app")).to_have_count(0)
        page.goto(f"{server}/runs")
        expect(page.get_by_role("heading", name="Runs")).to_be_visible(timeout=30_000)
        expect(page.get_by_test_id("stException")).to_have_count(0)
        browser.close()
