"""Real training on tiny real data (iris, digits), checked against Keras's own fit."""

from dataclasses import replace

import numpy as np
import pytest

from core import datasets
from core.lessons import STANDARD
from core.spec import ExperimentSpec, make_variant
from core.training import Cancelled, epoch_orders, train

IRIS = ExperimentSpec(dataset="iris", capacity="medium", epochs=4, batch_size=16, seed=3)


def curves(run, fields=("loss", "val_loss", "penalty", "accuracy", "val_accuracy", "fit_loss")):
    return np.array([[r[f] for f in fields] for r in run.history], dtype=float)


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
def test_loop_matches_keras_fit_and_reports_the_penalty_apart(optimizer):
    """Reference: the same model, seed and batch order through Keras's fit and evaluate,
    with Keras's own optimizer. Keras adds the L2 penalty to loss and val_loss; ours are
    data losses, with the penalty reported apart."""
    import keras

    from core.models import build_model
    from core.optimizers import keras_optimizer

    spec = replace(IRIS, l2=1e-2, batchnorm=True, optimizer=optimizer, learning_rate=3e-3)
    data = datasets.load("iris")
    (run,) = train([spec], data)

    keras.utils.set_random_seed(spec.seed)
    model = build_model(spec, data.info)
    model.compile(keras_optimizer(optimizer, spec.learning_rate), "sparse_categorical_crossentropy")
    n = len(data.y_train)
    for epoch, record in enumerate(run.history):
        order = epoch_orders(n, epoch, 1)[0]
        model.fit(
            data.x_train[order],
            data.y_train[order],
            batch_size=spec.batch_size,
            epochs=1,
            shuffle=False,
            verbose=0,
        )
        penalty = float(sum(float(loss) for loss in model.losses))
        keras_val = model.evaluate(data.x_val, data.y_val, verbose=0)
        keras_train = model.evaluate(data.x_train, data.y_train, verbose=0)
        assert penalty > 0.01
        assert record["penalty"] == pytest.approx(penalty, rel=1e-3)
        assert record["val_loss"] == pytest.approx(keras_val - penalty, rel=2e-3, abs=1e-4)
        assert record["loss"] == pytest.approx(keras_train - penalty, rel=2e-3, abs=1e-4)
        assert record["val_loss"] < keras_val - 0.5 * penalty  # clearly without the penalty
    assert run.test["accuracy"] == pytest.approx(
        float(np.mean(np.argmax(model.predict(data.x_test, verbose=0), 1) == data.y_test))
    )


def test_same_spec_and_seed_give_the_same_history_on_the_cpu():
    specs = [make_variant(IRIS, "dropout"), make_variant(IRIS, "augment")]
    data = datasets.load("iris")
    first, second = train(specs, data), train(specs, data)
    for a, b in zip(first, second, strict=True):
        assert np.array_equal(curves(a), curves(b))
        assert a.key == b.key and a.test == b.test
    other_seed = train([replace(specs[0], seed=4)], data)[0]
    assert not np.array_equal(curves(other_seed), curves(first[0]))


def test_each_fused_branch_matches_the_variant_trained_alone():
    base = replace(IRIS, epochs=6)
    specs = [make_variant(base, v) for v in STANDARD] + [replace(base, seed=9)]
    data = datasets.load("iris")
    fused = train(specs, data)
    assert {r.meta["fused_with"] for r in fused} == {len(specs)}
    for spec, together in zip(specs, fused, strict=True):
        (alone,) = train([spec], data)
        assert alone.meta["fused_with"] == 1
        np.testing.assert_allclose(curves(together), curves(alone), rtol=1e-4, atol=1e-5)
        assert together.params == alone.params and together.best_epoch == alone.best_epoch


def test_records_are_complete_and_best_epoch_is_the_validation_minimum():
    base = ExperimentSpec(
        dataset="digits", capacity="medium", epochs=8, train_size=200, batch_size=32
    )
    specs = [base, replace(base, batch_size=50)]  # two fusion groups
    runs = train(specs, datasets.load("digits"))
    for spec, run in zip(specs, runs, strict=True):
        assert run.spec == spec and len(run.history) == 8
        assert [r["epoch"] for r in run.history] == list(range(1, 9))
        val = [r["val_loss"] for r in run.history]
        assert run.best_epoch == int(np.argmin(val)) + 1
        assert 0.5 < run.history[-1]["val_accuracy"] <= 1.0  # it learned something real
        assert run.history[-1]["loss"] < run.history[0]["loss"]
        assert all(r["penalty"] == 0.0 for r in run.history)
        assert 0 <= run.test["accuracy"] <= 1 and run.test["loss"] > 0
        assert run.meta["train_examples"] == 200 and run.meta["device"]
        assert {"tensorflow", "keras"} <= set(run.meta["versions"])
    assert runs[0].meta["fused_with"] == runs[1].meta["fused_with"] == 1


def test_binary_and_regression_tasks(tmp_path):
    (run,) = train(
        [ExperimentSpec(dataset="breast_cancer", capacity="small", epochs=3)],
        datasets.load("breast_cancer"),
    )
    assert run.history[-1]["val_accuracy"] > 0.8
    path = tmp_path / "houses.csv"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    target = x @ np.array([1.5, -2.0, 0.5]) + rng.normal(scale=0.1, size=200)
    path.write_text(
        "a,b,c,target\n"
        + "\n".join(
            ",".join(f"{v:.5f}" for v in [*row, t]) for row, t in zip(x, target, strict=True)
        )
    )
    data = datasets.load(str(path))
    assert data.info.task == "regression"
    (reg,) = train([ExperimentSpec(dataset=str(path), capacity="small", epochs=15)], data)
    assert reg.history[-1]["accuracy"] is None and reg.test["accuracy"] is None
    assert reg.history[-1]["val_loss"] < 0.2 * reg.history[0]["val_loss"]


def test_progress_arrives_per_epoch_and_cancel_stops_training():
    seen = []
    data = datasets.load("iris")
    specs = [IRIS, make_variant(IRIS, "l2")]
    train(specs, data, on_epoch=lambda i, record: seen.append((i, record["epoch"])))
    assert sorted(seen) == [(i, e) for i in range(2) for e in range(1, 5)]
    calls = []

    def stop_after_first_chunk():
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(Cancelled):
        train([replace(IRIS, epochs=200)], data, should_stop=stop_after_first_chunk)


@pytest.mark.parametrize("augment,compiles", [("light", True), ("strong", False)])
def test_light_augmentation_compiles_with_xla_and_strong_falls_back(monkeypatch, augment, compiles):
    """XLA is off on a CPU; force it here to prove which graphs it can compile. A graph it
    cannot compile falls back to the plain graph and still trains."""
    import core.training as training

    monkeypatch.setattr(training, "xla_friendly", lambda specs, data: True)
    spec = ExperimentSpec(
        dataset="digits", capacity="tiny", epochs=2, train_size=64, batch_size=32, augment=augment
    )
    data = datasets.load("digits").with_train_size(64)
    loop = training._FusedLoop(training.tf_runtime(), [spec], data)
    rows = loop.run(0, 2)
    assert loop.xla is compiles
    assert rows.shape == (2, 1, 7) and np.isfinite(rows).all()
    loop.release()
