"""Memory over many trainings: the resident size of one worker-like process after each of
N small trainings (different runs, so each one really trains), through the same path the
job engine's workers take (core.runner.execute).

    python bench/memory.py [--trainings 50]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def worker(trainings: int) -> list[float]:
    """In this process: train, measure RSS in MB, repeat."""
    import psutil

    from core.cache import RunStore
    from core.runner import execute
    from core.spec import ExperimentSpec

    process = psutil.Process()
    store = RunStore(tempfile.mkdtemp())
    rss = []
    for i in range(trainings):
        specs = [
            ExperimentSpec(dataset="iris", capacity="small", epochs=5, seed=i),
            ExperimentSpec(dataset="iris", capacity="small", epochs=5, seed=i, l2=1e-3),
        ]
        execute(specs, store)
        rss.append(process.memory_info().rss / 2**20)
    return rss


def measure(trainings: int = 50) -> list[float]:
    """RSS after each training, measured in a fresh process."""
    out = subprocess.run(
        [sys.executable, __file__, "--worker", str(trainings)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainings", type=int, default=50)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return 0
    from bench._harness import header

    header(f"resident memory over {args.trainings} trainings in one process")
    rss = measure(args.trainings)
    print(f"after training  1: {rss[0]:7.0f} MB")
    for n in (10, 20, 30, 40, len(rss)):
        if n <= len(rss):
            print(f"after training {n:2d}: {rss[n - 1]:7.0f} MB")
    settled = rss[10:]
    growth = sum(settled[-10:]) / 10 - sum(settled[:10]) / 10
    per = growth / max(1, len(settled) - 10)
    print(
        f"growth from trainings 11-20 to the last 10: {growth:+.1f} MB ({per:+.2f} MB per training)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
