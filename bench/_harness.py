"""Shared by the benchmarks: fresh subprocesses, alternating order, medians, and what the
machine is — so each benchmark prints ratios measured side by side in one run."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

from core.machine import cpu_model, gpu_names, library_versions

ROOT = Path(__file__).resolve().parent.parent


def run_side(script: Path, *args: str, env: dict | None = None, timeout: int = 3600) -> dict:
    """Run `python script --side ...` in a fresh process; it prints one JSON line last."""
    result = subprocess.run(
        [sys.executable, str(script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ | {"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"} | (env or {}),
    )
    if result.returncode != 0:
        raise RuntimeError(f"{script.name} {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def alternate(sides: list[str], repeats: int):
    """Orders for each repeat: rotate which side goes first, so drift hits all alike."""
    for r in range(repeats):
        k = r % len(sides)
        yield sides[k:] + sides[:k]


def median(values: list[float]) -> float:
    return statistics.median(values)


def machine_line() -> str:
    return f"{cpu_model()}, {os.cpu_count()} logical cores, Python {platform.python_version()}"


def header(title: str) -> None:
    names = ("tensorflow", "keras", "numpy", "streamlit", "altair", "pandas")
    installed = {k: v for k, v in library_versions(names).items() if v != "not installed"}
    print(f"# {title}")
    print(f"# machine: {machine_line()}")
    print(f"# versions: {', '.join(f'{k} {v}' for k, v in installed.items())}")
    print(f"# gpu: {', '.join(gpu_names()) or 'none'}")


# Headless Debian Chromium on a machine with no network: without the background-networking
# flags it keeps trying to reach Google's services.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip


def chromium() -> str | None:
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_app(env: dict, log_path: Path | None = None):
    """`streamlit run` as a user starts it, on a free port; yields its URL once
    /_stcore/health answers ok, and stops it (and its Dask worker) afterwards."""
    import signal
    import time
    import urllib.request

    port = free_port()
    log = open(log_path, "w") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "streamlit_app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.read().strip() == b"ok":
                        break
            except OSError:
                if time.time() > deadline:
                    logged = Path(log_path).read_text() if log_path else ""
                    raise RuntimeError(f"the app did not start\n{logged}") from None
                time.sleep(0.3)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        if log_path:
            log.close()
