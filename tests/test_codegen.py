"""The code shown on the Model page builds exactly the model the app trains, and run as
pasted into a fresh notebook, it prepares exactly the app's data."""

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import replace

import keras
import numpy as np
import pytest

from core import datasets
from core.codegen import keras_code
from core.models import build_model
from core.optimizers import keras_optimizer
from core.spec import ExperimentSpec
from tests.support import CIFAR, DIGITS, SIGN, TABLE


def built(code: str):
    """The model the code builds, without loading any data."""
    scope: dict = {}
    head, model_part = code.split("keras.utils.set_random_seed", 1)
    imports = "\n".join(line for line in head.splitlines() if line.startswith(("import", "from")))
    if "class RandomShift" in head:
        imports += "\n" + head[head.index("import tensorflow") : head.index("\n\n\n", head.index(
            "class RandomShift")) + 1]  # fmt: skip
    exec(imports + "\nkeras.utils.set_random_seed" + model_part.split("model.summary()")[0],
         scope)  # noqa: S102 - our own generated code  # fmt: skip
    return scope["model"]


@pytest.mark.parametrize(
    "spec,info",
    [
        (ExperimentSpec(dataset="iris", capacity="medium"), TABLE),
        (
            ExperimentSpec(
                dataset="iris",
                capacity="large",
                l2=1e-3,
                dropout=0.5,
                batchnorm=True,
                augment="light",
            ),
            TABLE,
        ),  # fmt: skip
        (ExperimentSpec(dataset="iris", capacity="medium", l1=1e-4), TABLE),
        (ExperimentSpec(dataset="iris", capacity="medium", l1=1e-4, l2=1e-3), TABLE),
        (
            ExperimentSpec(dataset="digits", capacity="small", augment="strong", optimizer="sgd"),
            DIGITS,
        ),  # fmt: skip
        (
            ExperimentSpec(
                dataset="digits",
                arch="cnn",
                capacity="medium",
                batchnorm=True,
                dropout=0.3,
                augment="light",
            ),
            CIFAR,
        ),  # fmt: skip
        (ExperimentSpec(dataset="digits", arch="sign_cnn", batchnorm=True, dropout=0.3), SIGN),
        (  # the course's MNIST network: 512-256, BatchNorm before ReLU, Dropout 0.4 then 0.2
            ExperimentSpec(
                dataset="digits",
                widths="512,256",
                l2=1e-5,
                dropout=0.4,
                dropout_taper=0.5,
                batchnorm=True,
            ),
            DIGITS,
        ),  # fmt: skip
        (ExperimentSpec(dataset="digits", arch="cnn", capacity="tiny", widths="24,12"), CIFAR),
        (
            ExperimentSpec(
                dataset="digits", arch="vgg_cifar", capacity="tiny", batchnorm=True, dropout=0.5
            ),
            CIFAR,
        ),  # fmt: skip
    ],
)
def test_generated_code_builds_the_same_network(spec, info):
    code = keras_code(spec, info)
    ours = build_model(spec, info)
    theirs = built(code)
    assert theirs.count_params() == ours.count_params()
    kinds = [type(layer).__name__ for layer in theirs.layers]
    assert kinds == [type(layer).__name__ for layer in ours.layers][1:]  # no InputLayer
    assert ("kernel_regularizer=reg" in code) == bool(spec.l2 or spec.l1)
    assert f"epochs={spec.epochs}, batch_size={spec.batch_size}" in code
    keras.backend.clear_session()


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
def test_generated_code_compiles_with_the_update_rule_the_app_trains_with(optimizer):
    """The fused kernels follow keras_optimizer's rule and defaults; the code must too."""
    spec = ExperimentSpec(dataset="iris", capacity="small", optimizer=optimizer,
                          learning_rate=3e-4)  # fmt: skip
    shown = built(keras_code(spec, TABLE)).optimizer.get_config()
    reference = keras_optimizer(optimizer, spec.learning_rate).get_config()
    shown.pop("name"), reference.pop("name")  # Keras numbers the names of instances
    assert shown == reference
    keras.backend.clear_session()


# Run in a fresh interpreter outside the project: nothing of it is importable there.
SAVE = textwrap.dedent("""
    np.savez(OUT, x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val,
             x_test=x_test, y_test=y_test, params=model.count_params(),
             trained=len(history.history["loss"]))
""")


@pytest.mark.parametrize(
    "name,overrides",
    [
        ("digits", dict(epochs=1, train_size=100, label_noise=0.2, dropout=0.5, patience=2)),
        ("iris", dict(epochs=1)),
        ("breast_cancer", dict(epochs=1)),
        ("moons", dict(epochs=1, l2=1e-3)),
        ("sine", dict(epochs=1, train_size=15)),
        ("mnist5k", dict(epochs=1, train_size=200, augment="light")),
    ],
)
def test_the_code_runs_as_pasted_and_prepares_exactly_the_apps_data(tmp_path, name, overrides):
    spec = datasets.base_spec(name, **overrides)
    info = datasets.info(name)
    out = tmp_path / "arrays.npz"
    script = tmp_path / "notebook.py"
    script.write_text(keras_code(spec, info) + "\n" + SAVE.replace("OUT", repr(str(out))))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=env | {"TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert done.returncode == 0, done.stderr[-3000:]  # fmt: skip
    app = datasets.for_spec(spec).training(spec.train_size, spec.label_noise)
    with np.load(out) as code:
        if not spec.train_size and not spec.label_noise:  # the same examples, in any order
            for split in ("x_train", "y_train"):
                assert sorted(map(bytes, code[split])) == sorted(map(bytes, getattr(app, split)))
        else:
            np.testing.assert_array_equal(code["x_train"], app.x_train)
            np.testing.assert_array_equal(code["y_train"], app.y_train)
        for split in ("x_val", "y_val", "x_test", "y_test"):
            np.testing.assert_allclose(code[split], getattr(app, split), rtol=1e-6)
        assert int(code["params"]) == build_model(spec, info).count_params()
        assert int(code["trained"]) == 1
    keras.backend.clear_session()


def test_the_code_shows_the_widths_and_each_dropout_rate_and_says_which_view_it_prints():
    spec = ExperimentSpec(dataset="digits", widths="512,256", dropout=0.4, dropout_taper=0.5)
    code = keras_code(spec, DIGITS)
    assert "layers.Dense(512)" in code and "layers.Dense(256)" in code
    assert "layers.Dropout(0.4)," in code and "layers.Dropout(0.2),  # 0.5 × the rate" in code
    assert "'as Keras prints it' view" in code  # history.history is that view, not the default


def test_early_stopping_in_the_code_uses_the_apps_patience():
    code = keras_code(replace(datasets.base_spec("iris"), patience=7), TABLE)
    assert 'EarlyStopping(monitor="val_loss", patience=7, restore_best_weights=True)' in code
    json.dumps(code)  # plain text
