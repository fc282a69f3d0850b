"""What several test files share: the project's root, small dataset descriptions, run
records made by hand, and installing the project as a worker machine would."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from core.cache import Run
from core.datasets.base import DatasetInfo
from core.spec import ExperimentSpec

ROOT = Path(__file__).resolve().parent.parent

SIGN = DatasetInfo("sign", "sign", "image", (28, 28, 1), tuple(map(str, range(24))), "multiclass")
CIFAR = DatasetInfo(
    "cifar", "cifar", "image", (32, 32, 3), tuple(map(str, range(10))), "multiclass", flip_ok=True
)
DIGITS = DatasetInfo(
    "digits", "digits", "image", (8, 8, 1), tuple(map(str, range(10))), "multiclass"
)
TABLE = DatasetInfo("t", "t", "tabular", (5,), ("no", "yes"), "binary")
TEXT = DatasetInfo("x", "x", "text", (100,), ("neg", "pos"), "binary")


def key(name: str) -> str:
    """A well-formed run key for a readable name."""
    return hashlib.sha256(name.encode()).hexdigest()[:24]


def make_run(name="k1", seed=0, created=1.0, epochs=3) -> Run:
    spec = ExperimentSpec(dataset="iris", seed=seed, epochs=epochs)
    history = tuple(
        {"epoch": e, "loss": 1.0 / e, "val_loss": 1.2 / e, "test_loss": 1.3 / e,
         "fit_loss": 1.1 / e, "fit_penalty": 0.0, "penalty": 0.0, "accuracy": 0.5,
         "val_accuracy": 0.4, "test_accuracy": 0.45, "fit_accuracy": 0.5, "seconds": 0.01,
         "norms": [1.0, 2.0]}
        for e in range(1, epochs + 1)
    )  # fmt: skip
    return Run(
        key=key(name),
        spec=spec,
        fingerprint="fp",
        history=history,
        params=123,
        layers=("dense_1", "output"),
        histogram={"edges": [-1.0, 0.0, 1.0], "counts": [3, 4]},
        meta={"created": created, "device": "CPU", "fused_with": 1},
    )


def history_run(seed: int, val: list[float], train: list[float], penalty=0.0, patience=0) -> Run:
    history = tuple(
        {
            "epoch": i + 1,
            "loss": t,
            "val_loss": v,
            "test_loss": 0.5 + 0.01 * i,
            "fit_loss": t,
            "fit_penalty": penalty,
            "penalty": penalty,
            "accuracy": 0.9,
            "val_accuracy": 0.8 + 0.01 * i,
            "test_accuracy": 0.75,
            "fit_accuracy": 0.9,
            "seconds": 0.1,
        }
        for i, (v, t) in enumerate(zip(val, train, strict=True))
    )
    return Run(
        key=f"{seed:024x}",
        spec=ExperimentSpec(seed=seed, epochs=len(val), patience=patience),
        fingerprint="f",
        history=history,
        params=100,
        meta={"train_examples": 64},
    )


def install_project(target: Path) -> Path:
    """`pip install .` of this project into a folder of its own (no dependencies: they are
    in this environment already): the engine as a scheduler or a worker would import it."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(ROOT)],
        capture_output=True, text=True, timeout=300, cwd=target.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return target
