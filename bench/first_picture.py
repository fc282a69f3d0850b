"""How soon a class sees something: on a warm server, the seconds from pressing Run on the
7-variant moons comparison to the first decision boundaries on the screen (the networks as
built, before training: the worker predicts them before it traces the training graph) and
to the first trained epoch (curves and epoch-1 boundaries), in a real browser (headless
Chromium), against the same page drawn from the cache, side by side.

Setup, not timed: `streamlit run` on a temporary cache, and one small training so that the
worker has started and imported TensorFlow (a warm server). Then, per repeat, a comparison
nobody trained yet (the noise level moves by 0.01): press Run, time until the pictures of
what each network computes appear, then until the whole comparison is cached; then reload
it and time the cached page to the same pictures.

    python bench/first_picture.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET = 3.0  # seconds from Run to the first boundary on a warm server
LIVE = "appear when training ends"  # a caption only the live view (epochs in) shows
# The pictures themselves, not their heading: seven Vega views drawn on the page.
SEVEN_PICTURES = "document.querySelectorAll('.vega-embed canvas, .vega-embed svg').length >= 7"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main() -> int:
    from playwright.sync_api import sync_playwright

    from bench._harness import CHROMIUM_ARGS, chromium, header, median, serve_app

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    executable = chromium()
    if not executable:
        print("error: Debian's chromium is needed (apt-get install chromium)", file=sys.stderr)
        return 2
    header("first decision boundary after Run (warm server) vs the cached page")
    first, trained, whole, cached = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        env = os.environ | {"OVERFITTING_LAB_CACHE": tmp, "PYTHONPATH": str(ROOT),
                            "TF_CPP_MIN_LOG_LEVEL": "3"}  # fmt: skip
        with serve_app(env, Path(tmp) / "server.log") as url:
            browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(f"{url}/?ds=moons&v=baseline&ep=2")  # warm the worker up
            page.get_by_role("button", name="Run (1 to train)").click()
            page.get_by_role("button", name="All cached").wait_for(timeout=300_000)
            for r in range(args.repeats):
                link = f"{url}/?ds=moons&noise={0.31 + 0.01 * r:.2f}"
                page.goto(link)
                page.get_by_role("button", name="Run (7 to train)").click()
                tick = time.perf_counter()
                page.get_by_text("What each network computes").first.wait_for(timeout=300_000)
                page.wait_for_function(SEVEN_PICTURES, timeout=300_000)
                first.append(time.perf_counter() - tick)
                page.get_by_text(LIVE).first.wait_for(timeout=300_000)
                trained.append(time.perf_counter() - tick)
                page.get_by_role("button", name="All cached").wait_for(timeout=600_000)
                whole.append(time.perf_counter() - tick)
                page.goto(link)
                tick = time.perf_counter()
                page.get_by_text("What each network computes").first.wait_for(timeout=60_000)
                page.wait_for_function(SEVEN_PICTURES, timeout=60_000)
                cached.append(time.perf_counter() - tick)
                print(f"  repeat {r + 1}: first boundaries {first[-1]:.2f} s, first epoch "
                      f"{trained[-1]:.2f} s, all 7 trained {whole[-1]:.2f} s, cached page "
                      f"{cached[-1]:.2f} s")  # fmt: skip
            browser.close()
    print(
        f"\nfirst boundaries after Run (untrained networks): {median(first):.2f} s "
        f"(median of {args.repeats})"
    )
    print(f"first trained epoch on screen: {median(trained):.2f} s")
    print(f"whole comparison trained: {median(whole):.2f} s")
    print(f"cached page to the same pictures: {median(cached):.2f} s")
    print(f"first boundary / cached page: {median(first) / median(cached):.2f}x")
    met = median(first) <= TARGET
    print(f"target: first boundary within {TARGET:g} s: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
