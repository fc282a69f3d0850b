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


def keras_reference(spec, data, on_epoch):
    """Train `spec` through the loop, then the same network through Keras's own fit and
    evaluate epoch by epoch: the same initial weights, the same batches in the same order,
    the same Dropout masks and noise (each random layer's seed pair set as the loop sets
    it), Keras's own optimizer and regularizers. on_epoch(record, model, printed) compares
    each epoch."""
    import keras

    from core.models import build_model
    from core.optimizers import keras_optimizer
    from core.stacked import STEP_SPACE, draw_seed, initial_weights, places
    from core.training import epoch_orders, train

    (run,) = train([spec], data)
    data = data.training(spec.train_size, spec.label_noise)  # in the loop's pool order
    model = build_model(spec, data.info)
    model.set_weights(initial_weights(spec, data.info))
    loss = {"multiclass": "sparse_categorical_crossentropy", "binary": "binary_crossentropy",
            "regression": "mse"}[data.info.task]  # fmt: skip
    model.compile(keras_optimizer(spec.optimizer, spec.learning_rate), loss)
    n = len(data.y_train)
    for epoch, record in enumerate(run.history):
        for index, layer in zip(places(spec, data.info), model.layers[1:], strict=True):
            for generator in [v for v in vars(layer).values()
                              if isinstance(v, keras.random.SeedGenerator)]:  # fmt: skip
                generator.state.assign([draw_seed(spec.seed, index), epoch * STEP_SPACE])
        order = epoch_orders(n, epoch, 1, spec.seed)[0]
        printed = model.fit(data.x_train[order], data.y_train[order], batch_size=spec.batch_size,
                            epochs=1, shuffle=False, verbose=0)  # fmt: skip
        on_epoch(record, model, data, printed.history["loss"][0])
    return run, model, data
