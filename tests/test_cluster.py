"""A real multi-machine deployment, the way an operator starts one (README, "Running it for
a class"): the project installed with pip into the scheduler's and the workers' Python, a
`dask scheduler` and two `dask worker` processes started as separate commands, and one
cache folder they all share. The app's engine and `python -m core precompute --scheduler`
train through it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench._harness import free_port
from core.cache import RunStore
from core.comparison import Comparison
from core.jobs import JobEngine
from tests.support import ROOT, install_project

pytestmark = pytest.mark.cluster
DASK = Path(sys.executable).with_name("dask")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """`pip install .` of this project, in a folder of its own: what the scheduler and the
    workers import the engine from (never from the checkout)."""
    site = install_project(tmp_path_factory.mktemp("installed") / "site")
    assert (site / "core" / "jobs.py").is_file() and not (site / "pages").exists()
    return site


@pytest.fixture
def cluster(installed, cache_dir, tmp_path):
    """`dask scheduler`, two training `dask worker`s and a light one, each its own process,
    run from an empty folder with only the installed package on their path."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {"PYTHONPATH": str(installed), "OVERFITTING_LAB_CACHE": str(cache_dir),
            "TF_CPP_MIN_LOG_LEVEL": "3"}  # fmt: skip
    worker = [str(DASK), "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"]
    commands = [
        [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        *[[*worker, "--resources", "training=1", "--name", f"worker-{i}"] for i in (1, 2)],
        [*worker, "--resources", "light=1", "--name", "light"],
    ]  # fmt: skip
    logs = [open(tmp_path / f"dask-{i}.log", "w") for i in range(len(commands))]  # noqa: SIM115
    processes = [subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
                 for command, log in zip(commands, logs, strict=True)]  # fmt: skip
    engine = JobEngine(address=address)
    try:
        until(lambda: len(engine.client.scheduler_info()["workers"]) == 3,
              lambda: (tmp_path / "dask-1.log").read_text()[-2000:])  # fmt: skip
        yield address, engine
    finally:
        engine.close()
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        for log in logs:
            log.close()


def until(done, why=lambda: "", timeout: float = 900) -> None:
    """Poll for an event; the limit only keeps a broken run from hanging for ever."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, why()
        time.sleep(0.5)


def test_a_comparison_trains_on_the_cluster_spread_over_its_workers(cluster):
    address, engine = cluster
    comparison = Comparison(dataset="wine", variants=("baseline", "dropout"), seeds=3,
                            epochs=150, capacity="small")  # fmt: skip
    entries = comparison.entries(RunStore())
    keys = [e.key for e in entries]
    tasks = engine.submit([e.spec for e in entries], keys, None, "teacher")
    assert len(tasks) == 3  # one task per seed
    until(lambda: not engine.status(keys).pending)
    assert engine.status(keys).state == "finished", engine.status(keys).error
    store = RunStore()
    assert all(store.has(key) for key in keys)  # in the cache the app reads
    until(lambda: set(keys) <= {t["key"] for t in engine.trainings()})  # reported later
    trained = [t for t in engine.trainings() if t["key"] in set(keys)]
    names = {a: w["name"] for a, w in engine.client.scheduler_info()["workers"].items()}
    assert len(trained) == 6 and {names[t["worker"]] for t in trained} == {"worker-1", "worker-2"}


def test_one_off_tasks_go_to_the_light_worker(cluster):
    from distributed import get_worker

    _, engine = cluster
    assert engine.run(lambda: get_worker().name) == "light"


def test_precompute_fills_the_cache_on_the_cluster_with_a_progress_bar(cluster, cache_dir):
    address, _ = cluster
    done = subprocess.run(
        [sys.executable, "-m", "core", "precompute", "--preset", "iris-batchnorm", "--seeds",
         "0,1", "--scheduler", address],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=os.environ | {"PYTHONPATH": str(ROOT), "OVERFITTING_LAB_CACHE": str(cache_dir)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert "running" in done.stderr and "[" in done.stderr  # the bar, one line at a time
    assert done.stdout.count("trained") == 8  # 4 variants x 2 seeds, all on the cluster
    assert len(RunStore().keys()) == 8


@pytest.mark.parametrize("listening", [False, True], ids=["nothing-there", "frozen"])
def test_a_wrong_scheduler_address_is_one_line(cache_dir, listening):
    """Nothing listens at the address, or something accepts and never answers (a frozen
    scheduler, on which Dask's own client waits for ever)."""
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        if listening:
            mute.listen()
        port = mute.getsockname()[1]  # bound, not listening: connections are refused
        done = subprocess.run(
            [sys.executable, "-m", "core", "run", "--dataset", "iris", "--variants",
             "baseline", "--epochs", "2", "--scheduler", f"tcp://127.0.0.1:{port}"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
            env=os.environ | {"PYTHONPATH": str(ROOT)},
        )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: cannot reach the Dask")
