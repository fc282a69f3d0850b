"""The real app in a real browser at a classroom projector's 1280x720: `streamlit run`,
headless Debian Chromium, Playwright. Screenshots go to test-artifacts/ for a person to
look at."""

from __future__ import annotations

import os
import re

import pytest

from bench._harness import CHROMIUM_ARGS, chromium, serve_app
from core import lessons
from core.comparison import Comparison
from tests.support import ROOT

CHROMIUM = chromium()
ARTIFACTS = ROOT / "test-artifacts"
PROJECTOR = {"width": 1280, "height": 720}
# Waits for a training end on the event; this is only a safety limit, generous enough for a
# shared classroom server many times slower than a developer's machine.
TRAINING = 1_800_000  # ms
CANCELLED = re.compile("Cancelled: .* stopped by epoch")

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
    """The app as a user starts it, with this test's own cache. Its log must stay free of
    tracebacks through everything the test does, trainings included."""
    env = os.environ | {"OVERFITTING_LAB_CACHE": str(cache_dir), "PYTHONPATH": str(ROOT)}
    log = tmp_path / "server.log"
    with serve_app(env, log) as url:
        yield url
    text = log.read_text()
    assert "Traceback" not in text and "Exception" not in text, text[-3000:]


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "REQUIRE_BROWSER is set but Debian's chromium is not installed"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


DRAWN = """() => [...document.querySelectorAll('.vega-embed')]
                 .every(e => e.querySelector('canvas, svg'))"""


def settle(page) -> None:
    """Wait until the script run is over (stale elements gone), Vega has drawn every chart,
    and the charts' boxes stay where they are between two looks."""
    page.wait_for_timeout(500)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=60_000)
    page.wait_for_function(DRAWN, timeout=60_000)
    before, boxes = None, [e.bounding_box() for e in page.locator(".vega-embed").all()]
    while boxes != before:
        page.wait_for_timeout(500)
        before, boxes = boxes, [e.bounding_box() for e in page.locator(".vega-embed").all()]


def headline_top(page) -> float:
    """Where the first chart (the headline) starts, in pixels from the top of the screen."""
    return page.locator(".vega-embed").first.bounding_box()["y"]


def test_a_comparison_trains_live_and_its_lesson_fills_a_projectors_first_screen(server, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport=PROJECTOR)
    page.goto(f"{server}/?ds=iris&v=baseline,dropout,l2&ep=150")
    run = page.get_by_role("button", name="Run (3 to train)")
    expect(run).to_be_enabled(timeout=60_000)
    run.click()
    # Live: the progress line and the curves while the job runs...
    expect(page.get_by_text(re.compile(r"\d+% of epochs"))).to_be_visible(timeout=TRAINING)
    expect(page.locator(".vega-embed").first).to_be_visible(timeout=TRAINING)
    page.wait_for_timeout(2000)
    page.screenshot(path=str(ARTIFACTS / "compare-live-1280x720.png"))
    # ...then the finished comparison, redrawn from the cache.
    expect(page.get_by_role("button", name="All cached")).to_be_visible(timeout=TRAINING)
    expect(page.get_by_text("Summary", exact=True)).to_be_attached()
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "compare-1280x720.png"))
    boxes = [e.bounding_box() for e in page.locator(".vega-embed").all()[:2]]
    assert all(b["y"] + b["height"] <= PROJECTOR["height"] for b in boxes), boxes
    assert boxes[0]["y"] == pytest.approx(boxes[1]["y"], abs=2)  # side by side
    text = page.locator("[data-testid='stMain']").first.inner_text()
    assert "baseline" in text and "dropout" in text and "Traceback" not in text


def test_the_default_lesson_is_the_first_thing_on_the_screen(server, browser):
    page = browser.new_page(viewport=PROJECTOR)
    page.goto(f"{server}/?ds=moons")
    from playwright.sync_api import expect

    expect(page.get_by_text(re.compile("training points are few for this network"))) \
        .to_be_visible(timeout=60_000)  # fmt: skip
    page.get_by_role("button", name=re.compile(r"Run \(7 to train\)")).click()
    expect(page.get_by_role("button", name="All cached")).to_be_visible(timeout=TRAINING)
    settle(page)
    expect(page.get_by_text("What each network computes")).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "moons-1280x720.png"))
    assert headline_top(page) < PROJECTOR["height"] / 2
    page.get_by_text("What each network computes").evaluate(
        "e => e.scrollIntoView({block: 'start'})"
    )
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "moons-boundaries-1280x720.png"))
    pictures = page.locator(".vega-embed").all()[2:9]
    widths = [p.bounding_box()["width"] for p in pictures]
    assert len(widths) == 7 and min(widths) >= 150, widths  # seven readable pictures
    # Presentation mode: the sidebar closed, larger type, the headline still in view.
    present = browser.new_page(viewport=PROJECTOR)
    present.goto(f"{server}/?ds=moons&present=1")
    expect(present.get_by_role("button", name="All cached")).to_be_visible(timeout=60_000)
    settle(present)
    present.screenshot(path=str(ARTIFACTS / "moons-presentation-1280x720.png"))
    box = present.get_by_test_id("stSidebar").bounding_box()
    assert box is None or box["x"] + box["width"] <= 80, box  # closed: off the screen
    assert headline_top(present) < PROJECTOR["height"] / 2


def test_a_shared_link_to_a_page_opens_it_on_a_fresh_server(server, browser):
    """The first visitor of a just-started server follows a link to the Data page: it must
    open with the sidebar, not run the page file alone (Streamlit's old pages/ mode)."""
    from playwright.sync_api import expect

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


def test_the_two_headline_charts_fill_the_first_screen(server, browser, cache_dir):
    """On a projector (present=1: the sidebar closed) the loss curves and the effect chart
    share the width of the first screen, each over 540 pixels wide, both wholly inside
    its 720 pixels; with the sidebar open they still fit, side by side, and closing it (its
    « button) gives them the width again."""
    import subprocess
    import sys

    from playwright.sync_api import expect

    query = "ds=iris&v=baseline,dropout,l2&ep=20"
    done = subprocess.run(
        [sys.executable, "-m", "core", "run", "--dataset", "iris", "--variants",
         "baseline,dropout,l2", "--epochs", "20"],
        cwd=ROOT, env=os.environ | {"OVERFITTING_LAB_CACHE": str(cache_dir)},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    for mode, name, least in (("present=1&", "presentation", 540), ("", "normal", 380),
                              ("", "sidebar-closed", 540)):  # fmt: skip
        page = browser.new_page(viewport=PROJECTOR)
        page.goto(f"{server}/?{mode}{query}")
        expect(page.get_by_role("button", name="All cached")).to_be_visible(timeout=60_000)
        if name == "sidebar-closed":
            page.get_by_test_id("stSidebar").hover()  # its « shows on hover
            page.get_by_test_id("stSidebarCollapseButton").locator("button").click()
            expect(page.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "true")
        settle(page)
        page.screenshot(path=str(ARTIFACTS / f"headline-{name}-1280x720.png"))
        curves, effect = (e.bounding_box() for e in page.locator(".vega-embed").all()[:2])
        for box in (curves, effect):
            assert box["y"] >= 0 and box["y"] + box["height"] <= PROJECTOR["height"], box
            assert box["width"] >= least, (mode, box)
        assert curves["y"] == pytest.approx(effect["y"], abs=2)  # side by side
        assert curves["x"] + curves["width"] <= effect["x"]
        assert effect["x"] + effect["width"] <= PROJECTOR["width"]


def choose(page, label: str, option: str) -> None:
    """Pick an option of a sidebar select box, as a teacher does."""
    page.get_by_test_id("stSidebar").get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option, exact=True).click()


def uncovered(page, locator) -> bool:
    """Nothing lies over the top edge of this element: what a click there would hit."""
    box = locator.bounding_box()
    return page.evaluate(
        "([x, y, text]) => (document.elementFromPoint(x, y)?.innerText || '').includes(text)",
        [box["x"] + box["width"] / 2, box["y"] + 2, locator.inner_text()],
    )


# The titles, of those given, that an input box would cut: measured in the box's own font.
FITS = """(box, titles) => {
    const style = getComputedStyle(box);
    const pen = document.createElement("canvas").getContext("2d");
    pen.font = style.font;
    const room = box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return titles.filter(t => pen.measureText(t).width > room);
}"""


def test_lesson_to_lesson_to_free_comparison_at_a_projector(server, browser):
    """The second click of a lesson once crashed the page; the link is now the state."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport=PROJECTOR)
    page.goto(f"{server}/?preset=moons-boundary")
    expect(page.get_by_role("heading", name="See it: the decision boundary")).to_be_visible(
        timeout=60_000
    )
    choose(page, "Lesson", "Does BatchNorm help on iris?")
    expect(page.get_by_role("heading", name="Does BatchNorm help on iris?")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/\?preset=iris-batchnorm$"))
    run = page.get_by_role("button", name="Run (4 to train)")
    expect(run).to_be_visible()
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "lesson-switch-1280x720.png"))
    assert uncovered(page, run)  # once half under Streamlit's header
    box = page.get_by_test_id("stSidebar").get_by_role("combobox", name="Lesson")
    titles = [item.title for item in lessons.LESSONS.values()]
    assert box.evaluate(FITS, titles) == [], "cut in the Lesson box"  # every whole name
    box.click()
    for option in page.get_by_role("option").all():  # and in its menu
        assert option.evaluate("e => e.scrollWidth <= e.clientWidth"), option.inner_text()
    page.get_by_role("option", name="Free comparison", exact=True).click()
    expect(page.get_by_role("heading", name="Regularization on Iris flowers")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/\?ds=iris$"))
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_cancel_keeps_the_curves_and_the_sweep_page_follows_the_link(server, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport=PROJECTOR)
    # Minutes of training here, still many seconds on a fast GPU: Cancel finds it running.
    page.goto(f"{server}/?ds=digits&v=baseline,l2,dropout,batchnorm&ep=1000")
    page.get_by_role("button", name="Run (4 to train)").click(timeout=60_000)
    expect(page.get_by_text(re.compile(r"\d+% of epochs"))).to_be_visible(timeout=TRAINING)
    expect(page.locator(".vega-embed").first).to_be_visible(timeout=TRAINING)
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text(CANCELLED)).to_be_visible(timeout=60_000)
    expect(page.get_by_role("button", name="Run (4 to train)")).to_be_visible()
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "cancel-1280x720.png"))
    page.get_by_test_id("stSidebar").get_by_role("link", name="Sweep").click()
    # digits is the default dataset: the link leaves it out
    expect(page).to_have_url(re.compile(r"/sweep\?ep=1000&sweep=capacity$"))
    values = page.get_by_test_id("stSidebar").get_by_role("textbox", name="Values")
    expect(values).to_have_value("tiny, small, medium, large, huge")
    page.goto(f"{server}/sweep?ds=iris&sweep=l2&ep=40")  # a sweep without values: the defaults
    expect(values).to_have_value("1e-05, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1")
    page.get_by_role("button", name="Run (7 to train)").click(timeout=60_000)
    expect(page.get_by_role("button", name="All cached")).to_be_visible(timeout=TRAINING)
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "sweep-1280x720.png"))


def test_the_still_training_link_leads_to_that_comparisons_own_link(server, browser):
    """A setting changed mid-training lists the old training; following it once showed
    that training while the address bar kept the new link, so a reload, a share or Cancel
    there gave the wrong comparison."""
    from urllib.parse import urlencode

    from playwright.sync_api import expect

    page = browser.new_page(viewport=PROJECTOR)
    first = Comparison.from_query({"ds": "digits", "v": "baseline", "cap": "huge", "ep": "1000"})[0]
    page.goto(f"{server}/?{urlencode(first.to_query())}")
    page.get_by_role("button", name="Run (1 to train)").click(timeout=60_000)
    expect(page.locator(".vega-embed").first).to_be_visible(timeout=TRAINING)  # it trains
    epochs = page.get_by_test_id("stSidebar").get_by_role("spinbutton", name="Epochs")
    page.get_by_test_id("stSidebar").get_by_text("Network, data and training").click()
    epochs.fill("999")
    epochs.press("Enter")
    expect(page).to_have_url(re.compile(r"ep=999"))
    back = page.get_by_role("button", name=re.compile("Still training: .* · Epochs 1000 · 1 run"))
    expect(back).to_be_visible(timeout=60_000)
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "still-training-1280x720.png"))
    back.click()
    expect(page).to_have_url(f"{server}/?{urlencode(first.to_query())}")
    expect(page.get_by_role("button", name="Cancel")).to_be_visible(timeout=60_000)
    expect(page.locator(".vega-embed").first).to_be_visible(timeout=60_000)
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "still-training-followed-1280x720.png"))
    page.get_by_role("button", name="Cancel").click()  # on its own link: it stays there
    expect(page.get_by_text(CANCELLED)).to_be_visible(timeout=60_000)
    expect(page).to_have_url(f"{server}/?{urlencode(first.to_query())}")
    page.reload()  # what a share or a reload opens: the same comparison
    expect(page.get_by_text(re.compile(r"· 1,000 epochs ·"))).to_be_visible(timeout=60_000)
