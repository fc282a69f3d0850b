"""Time to render a fully cached comparison from a cold process, and proof that TensorFlow
(and Keras) are never imported on that path.

Setup, not timed: a 7-variant digits comparison is trained once into a temporary cache.
Then, each in a fresh process, alternating order, several repeats:
- page:    the app's Compare page for that comparison (AppTest runs the real script);
- floor:   a one-line Streamlit page, the cost of Streamlit itself;
- with-tf: the Compare page after `import tensorflow`, what it would cost if the cached
           path imported it.
Each side reports its own time from its first line (imports + render); the parent
reports wall time from starting the process to the rendered page (interpreter start
included; the process's exit afterwards, 0.2-0.3 s of teardown no user waits for, is not).

    python bench/render.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STARTED = time.perf_counter()
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERY = {"ds": "digits", "ep": "8"}
TARGET = 1.5


def side(which: str, floor_script: str) -> dict:
    if which == "with-tf":
        import tensorflow  # noqa: F401
    from streamlit.testing.v1 import AppTest

    if which == "floor":
        at = AppTest.from_file(floor_script, default_timeout=60).run()
        charts = 0
    else:
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
        for key, value in QUERY.items():
            at.query_params[key] = value
        at.run()
        charts = len(at.get("vega_lite_chart"))
        assert at.button(key="run").label == "All cached", "the comparison is not cached"
    assert not at.exception, at.exception
    return {
        "seconds": time.perf_counter() - STARTED,
        "charts": charts,
        "tensorflow": "tensorflow" in sys.modules,
        "keras": "keras" in sys.modules,
    }


def run_side(which: str, floor: Path, env: dict) -> dict:
    """One side in a fresh process, timed until it prints its result: the page is drawn."""
    with tempfile.TemporaryFile("w+") as errors:  # a file: a full pipe could stall it
        tick = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, __file__, "--side", which, "--floor", str(floor)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        line = child.stdout.readline()
        wall = time.perf_counter() - tick
        child.communicate(timeout=300)
        if child.returncode:
            errors.seek(0)
            raise RuntimeError(errors.read()[-3000:])
    return json.loads(line) | {"wall": wall}


def main() -> int:
    from bench._harness import alternate, header, median

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--floor", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(side(args.side, args.floor)), flush=True)
        return 0

    header("render a fully cached comparison from a cold process")
    with tempfile.TemporaryDirectory() as tmp:
        env = os.environ | {
            "OVERFITTING_LAB_CACHE": tmp,
            "PYTHONPATH": str(ROOT),
            "TF_CPP_MIN_LOG_LEVEL": "3",
        }
        floor = Path(tmp) / "floor.py"
        floor.write_text("import streamlit as st\nst.write('hello')\n")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "core",
                "run",
                "--dataset",
                "digits",
                "--epochs",
                QUERY["ep"],
                "--quiet",
            ],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        times: dict[str, list[dict]] = {"page": [], "floor": [], "with-tf": []}
        for order in alternate(list(times), args.repeats):
            for which in order:
                times[which].append(run_side(which, floor, env))
    page = times["page"]
    print(f"\n{'side':8s} {'in-process s':>12s} {'wall s':>8s}  imported")
    for which, runs in times.items():
        imported = [m for m in ("tensorflow", "keras") if any(r[m] for r in runs)]
        print(
            f"{which:8s} {median([r['seconds'] for r in runs]):12.2f} "
            f"{median([r['wall'] for r in runs]):8.2f}  {', '.join(imported) or 'neither'}"
        )
    wall = median([r["wall"] for r in page])
    clean = not any(r["tensorflow"] or r["keras"] for r in page)
    print(
        f"\ncached page / Streamlit floor: "
        f"{wall / median([r['wall'] for r in times['floor']]):.2f}x"
    )
    print(
        f"page with TensorFlow / cached page: "
        f"{median([r['wall'] for r in times['with-tf']]) / wall:.2f}x"
    )
    print(
        f"charts drawn: {page[0]['charts']}; TensorFlow/Keras imported on the cached path: "
        f"{'no' if clean else 'YES'}"
    )
    met = wall <= TARGET and clean
    print(
        f"target: <= {TARGET} s from a cold process without TensorFlow: "
        f"{'met' if met else 'NOT met'} ({wall:.2f} s)"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
