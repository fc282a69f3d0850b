"""Load: many sessions replaying cached comparisons while a training runs, against the real
app (`streamlit run`) on localhost, side by side with the same replays on an idle server.
Bounded in requests and time.

Each session speaks Streamlit's own websocket protocol, as a browser does: it connects,
asks for a script run with a comparison in the query string, and waits for the run to
finish, again and again (a student reloading a shared link). Latency is measured from
connecting to the server's "script finished"; a request fails if it times out, the
connection drops, the page shows an exception, or the comparison is not shown as cached.
First every session replays with the job engine idle (the baseline); then one extra
session presses Run on a comparison that is not cached, so that a training occupies the
job engine, and every session replays again. The ratios say what the training costs the
pages.

    python bench/load.py [--sessions 30] [--requests 4] [--timeout 120]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Comparisons the sessions replay (trained once, before the measurement).
CACHED = [
    "ds=digits&ep=8",
    "ds=iris&v=baseline,dropout,l2&ep=20",
    "ds=wine&v=baseline,small,l2,batchnorm&ep=15",
    "ds=breast_cancer&ep=10",
]
TRAINING = "ds=mnist5k&ep=40"  # trained during the measurement: 7 variants of MNIST-5k


def rerun(query: str, trigger: str | None = None) -> bytes:
    from streamlit.proto.BackMsg_pb2 import BackMsg

    message = BackMsg()
    message.rerun_script.query_string = query
    if trigger:
        widget = message.rerun_script.widget_states.widgets.add()
        widget.id = trigger
        widget.trigger_value = True
    return message.SerializeToString()


async def one_run(ws, query: str, timeout: float, trigger: str | None = None) -> dict:
    """Ask for a script run and read until it finishes; what the page showed."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    start = time.perf_counter()
    await ws.send(rerun(query, trigger))
    seen = {"exception": False, "buttons": {}, "texts": []}
    while True:
        data = await asyncio.wait_for(ws.recv(), timeout)
        msg = ForwardMsg()
        msg.ParseFromString(data)
        kind = msg.WhichOneof("type")
        if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            which = element.WhichOneof("type")
            if which == "exception":
                seen["exception"] = True
            elif which == "button":
                seen["buttons"][element.button.label] = element.button.id
            elif which == "markdown":
                seen["texts"].append(element.markdown.body)
        elif kind == "script_finished":
            return seen | {"seconds": time.perf_counter() - start, "status": msg.script_finished}


async def session(url: str, queries: list[str], timeout: float, results: list) -> None:
    """A student opening (or reloading) a shared link, again and again: each replay is a
    fresh connection and one script run, timed from connecting to the page being done.
    (Later reruns on one connection would need the widget states a browser sends back.)"""
    import websockets

    for query in queries:
        start = time.perf_counter()
        try:
            async with websockets.connect(
                url, subprotocols=["streamlit"], max_size=2**26, open_timeout=timeout
            ) as ws:
                page = await one_run(ws, query, timeout)
        except (OSError, TimeoutError, websockets.ConnectionClosed) as exc:
            results.append({"ok": False, "why": type(exc).__name__})
            continue
        cached = any(label == "All cached" for label in page["buttons"])
        if page["exception"]:
            why = "an exception on the page"
        elif page["status"]:
            why = f"script status {page['status']}"
        elif not cached:
            why = f"not shown as cached ({', '.join(page['buttons']) or 'no button'})"
        else:
            why = ""
        results.append({"ok": not why, "seconds": time.perf_counter() - start, "why": why})


async def teacher(url: str, timeout: float, query: str = TRAINING) -> dict:
    """Press Run on a comparison that is not cached; keep the session open meanwhile."""
    import websockets

    async with websockets.connect(url, subprotocols=["streamlit"], max_size=2**26) as ws:
        page = await one_run(ws, query, timeout)
        run = next(
            (id_ for label, id_ in page["buttons"].items() if label.startswith("Run (")), None
        )
        if run is None:
            return {"started": False}
        await one_run(ws, query, timeout, trigger=run)
        return {"started": True}


async def measure(url: str, sessions: int, requests: int, timeout: float, train: bool) -> dict:
    training = await teacher(url, timeout) if train else {"started": False}
    rng = random.Random(0)
    results: list[dict] = []
    start = time.perf_counter()
    # A session is a browser tab on one comparison (a new link is a new tab), rerunning it.
    await asyncio.gather(
        *(session(url, [rng.choice(CACHED)] * requests, timeout, results) for _ in range(sessions))
    )
    return {"results": results, "seconds": time.perf_counter() - start, "training": training}


def server_memory() -> float:
    """Resident megabytes of the Streamlit server (this process's `streamlit run` child, its
    Dask workers not included): Streamlit's collection after every script run is off
    (.streamlit/config.toml), and this shows what the server holds without it."""
    import psutil

    for child in psutil.Process().children(recursive=True):
        if "streamlit" in " ".join(child.cmdline()):
            return child.memory_info().rss / 2**20
    return float("nan")


def main() -> int:
    from bench._harness import header, serve_app

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--requests", type=int, default=4, help="per session")
    parser.add_argument("--timeout", type=float, default=120, help="per request, seconds")
    args = parser.parse_args()
    header(
        f"load: {args.sessions} sessions x {args.requests} cached replays, idle and while a "
        "training runs"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = os.environ | {
            "OVERFITTING_LAB_CACHE": cache,
            "PYTHONPATH": str(ROOT),
            "TF_CPP_MIN_LOG_LEVEL": "3",
        }
        for query in CACHED:  # fill the cache first, not timed
            params = dict(pair.split("=") for pair in query.split("&"))
            command = [
                sys.executable,
                "-m",
                "core",
                "run",
                "--dataset",
                params["ds"],
                "--epochs",
                params["ep"],
                "--quiet",
            ]
            if "v" in params:
                command += ["--variants", params["v"]]
            subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
        with serve_app(env) as http:
            url = http.replace("http://", "ws://") + "/_stcore/stream"
            asyncio.run(session(url, CACHED, args.timeout, []))  # first imports: not timed
            idle = asyncio.run(measure(url, args.sessions, args.requests, args.timeout, False))
            busy = asyncio.run(measure(url, args.sessions, args.requests, args.timeout, True))
            runs_after = len(list(Path(cache, "runs").glob("*/run.json")))
            memory = server_memory()
    summary = {name: summarise(out) for name, out in (("idle", idle), ("training", busy))}
    for name, row in summary.items():
        print(
            f"\n{name}: {row['requests']} requests in {row['seconds']:.1f} s "
            f"({row['requests'] / row['seconds']:.1f}/s); failed: {row['failed']}"
            + (f" ({row['why']})" if row["failed"] else "")
            + f"\n  latency: p50 {row['p50']:.2f} s, p90 {row['p90']:.2f} s, "
            f"p99 {row['p99']:.2f} s, max {row['max']:.2f} s"
        )
    ratios = {q: summary["training"][q] / summary["idle"][q] for q in ("p50", "p90", "p99")}
    print(
        "\nwhile training / idle: "
        + ", ".join(f"{q} {ratio:.2f}x" for q, ratio in ratios.items())
        + f"; training {'started' if busy['training']['started'] else 'NOT started'}; runs in"
        f" the cache when the load ended: {runs_after}; the server's memory then: "
        f"{memory:.0f} MB"
    )
    print(json.dumps({"idle": summary["idle"], "training": summary["training"], "ratios": ratios}))
    failed = summary["idle"]["failed"] + summary["training"]["failed"]
    return 0 if not failed and busy["training"]["started"] else 1


def summarise(out: dict) -> dict:
    results = out["results"]
    ok = [r["seconds"] for r in results if r["ok"]] or [float("nan")]
    failed = [r for r in results if not r["ok"]]
    qs = statistics.quantiles(ok, n=100) if len(ok) > 1 else ok * 99
    return {"requests": len(results), "seconds": out["seconds"], "failed": len(failed),
            "why": ", ".join(sorted({r["why"] for r in failed})),
            "p50": qs[49], "p90": qs[89], "p99": qs[98], "max": max(ok)}  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
