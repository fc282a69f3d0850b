"""Real training on tiny real data (iris, digits), checked against Keras's own fit."""

from dataclasses import replace

import numpy as np
import pytest

from core import datasets, metrics
from core.spec import VARIANTS, ExperimentSpec, make_variant
from core.training import Cancelled, epoch_orders, train


def best(run) -> int:
    return metrics.best_validation_epoch(run.history)


IRIS = ExperimentSpec(dataset="iris", capacity="medium", epochs=4, batch_size=16, seed=3)


FIELDS = ("loss", "val_loss", "test_loss", "penalty", "accuracy", "val_accuracy", "fit_loss")


def curves(run, fields=FIELDS):
    return np.array([[r[f] for f in fields] + r["norms"] for r in run.history], dtype=float)


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
    data = data.training(0)  # the examples in the order the loop draws its batches from

    keras.utils.set_random_seed(spec.seed)
    model = build_model(spec, data.info)
    model.compile(keras_optimizer(optimizer, spec.learning_rate), "sparse_categorical_crossentropy")
    n = len(data.y_train)
    for epoch, record in enumerate(run.history):
        order = epoch_orders(n, epoch, 1, spec.seed)[0]
        printed = model.fit(
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
        keras_test = model.evaluate(data.x_test, data.y_test, verbose=0)
        assert penalty > 0.01
        # What fit prints: the running mean of data loss plus penalty, in training mode.
        fit_loss = printed.history["loss"][0]
        assert record["fit_loss"] + record["fit_penalty"] == pytest.approx(fit_loss, rel=2e-3)
        assert record["penalty"] == pytest.approx(penalty, rel=1e-3)
        assert record["val_loss"] == pytest.approx(keras_val - penalty, rel=2e-3, abs=1e-4)
        assert record["loss"] == pytest.approx(keras_train - penalty, rel=2e-3, abs=1e-4)
        assert record["test_loss"] == pytest.approx(keras_test - penalty, rel=2e-3, abs=1e-4)
        assert record["val_loss"] < keras_val - 0.5 * penalty  # clearly without the penalty
        kernels = [layer.kernel for layer in model.layers if getattr(layer, "kernel", None)
                   is not None]  # fmt: skip
        norms = [float(np.linalg.norm(np.asarray(k))) for k in kernels]
        np.testing.assert_allclose(record["norms"], norms, rtol=1e-4)
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
    """Every knob that lives inside a branch: the named variants, L1, a seed, label noise,
    a smaller training set (a learning curve's ragged branches), fewer epochs (a prefix of
    a longer branch) and early stopping's patience."""
    base = replace(IRIS, epochs=6)
    specs = [make_variant(base, v) for v in VARIANTS] + [
        replace(base, seed=9),
        replace(base, label_noise=0.3),
        replace(base, train_size=40, l1=1e-3),
        replace(base, train_size=20, label_noise=0.2, dropout=0.3),
        replace(base, epochs=3),
        replace(base, epochs=4, patience=2),
    ]
    data = datasets.load("iris")
    fused = train(specs, data)
    # The last two are prefixes of the plain base branch; seed 9 shuffles its own batches.
    branches = len(specs) - 3
    assert [r.meta["fused_with"] for r in fused] == [branches] * (len(VARIANTS)) + [1] + [
        branches
    ] * 5
    for spec, together in zip(specs, fused, strict=True):
        (alone,) = train([spec], data)
        assert alone.meta["fused_with"] == 1 and len(together.history) == spec.epochs
        np.testing.assert_allclose(curves(together), curves(alone), rtol=1e-4, atol=1e-5)
        assert together.params == alone.params and best(together) == best(alone)
        assert together.histogram == alone.histogram
        assert together.meta["train_examples"] == alone.meta["train_examples"]


def test_each_seed_shuffles_its_own_batches_and_every_variant_of_a_seed_shares_them():
    """As a rerun of fit(shuffle=True): another seed, another batch order every epoch; the
    variants of one seed are a paired comparison on the same batches."""
    first = [epoch_orders(120, e, 1, seed=0)[0] for e in range(3)]
    assert not np.array_equal(first[0], first[1])  # reshuffled every epoch
    assert all(not np.array_equal(a, epoch_orders(120, e, 1, seed=1)[0])
               for e, a in enumerate(first))  # fmt: skip
    assert np.array_equal(first[2], epoch_orders(120, 2, 1, seed=0)[0])  # a function of these
    assert sorted(first[0]) == list(range(120))
    base = ExperimentSpec(dataset="iris", l2=1e-3)
    assert {make_variant(base, v).fusion_group() for v in VARIANTS} == {base.fusion_group()}
    assert replace(base, seed=1).fusion_group() != base.fusion_group()


def test_fused_probe_snapshots_match_the_variant_trained_alone():
    """The decision-boundary grids of a 2-D dataset, fused or alone, at the same epochs."""
    base = datasets.base_spec("moons", epochs=5, capacity="small")
    specs = [base, make_variant(base, "l2"), replace(base, train_size=30)]
    data = datasets.for_spec(base)
    fused = train(specs, data)
    for spec, together in zip(specs, fused, strict=True):
        (alone,) = train([spec], data)
        assert together.probe == alone.probe and together.probe["kind"] == "grid"
        snaps = {r["epoch"]: r["probe"]["values"] for r in together.history if "probe" in r}
        alone_snaps = {r["epoch"]: r["probe"]["values"] for r in alone.history if "probe" in r}
        assert snaps.keys() == alone_snaps.keys() and 5 in snaps
        for epoch, values in snaps.items():
            assert len(values) == 50 * 50
            assert max(abs(a - b) for a, b in zip(values, alone_snaps[epoch], strict=True)) <= 1


def test_label_noise_changes_only_the_training_labels_and_is_nested():
    data = datasets.load("digits")
    clean, noisy = data.training(400), data.training(400, 0.4)
    assert np.array_equal(clean.x_train, noisy.x_train)
    changed = clean.y_train != noisy.y_train
    assert 0.3 < changed.mean() < 0.4  # 40% replaced by a random class, a tenth by itself
    more = data.training(400, 0.6)
    assert np.all(more.y_train[changed] == noisy.y_train[changed])  # 60% contains the 40%
    assert noisy.x_val is data.x_val and np.array_equal(noisy.y_test, data.y_test)


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
        assert best(run) == int(np.argmin(val)) + 1
        assert 0.5 < run.history[-1]["val_accuracy"] <= 1.0  # it learned something real
        assert run.history[-1]["loss"] < run.history[0]["loss"]
        assert all(r["penalty"] == 0.0 for r in run.history)
        assert 0 <= run.test["accuracy"] <= 1 and run.test["loss"] > 0
        assert run.layers == ("dense_1", "dense_2", "output")
        assert all(len(r["norms"]) == 3 and min(r["norms"]) > 0 for r in run.history)
        assert sum(run.histogram["counts"]) == sum(
            a * b for a, b in ((64, 128), (128, 128), (128, 10))
        )  # every kernel weight, once
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
    data = datasets.load("digits")
    loop = training._FusedLoop(training.tf_runtime(), [spec], data, None)
    rows = loop.run(0, 2)
    assert loop.xla is compiles
    assert rows.shape[:2] == (2, 1) and np.isfinite(rows).all()
    loop.release()


@pytest.mark.parametrize("patience", [1, 3, 8])
def test_early_stopping_is_where_kerass_callback_stops(patience):
    """Reference: Keras's own EarlyStopping(patience, restore_best_weights=True) watching a
    metric that is our validation data loss, fed the same per-epoch values."""
    import keras

    from core.report import early_stop

    spec = replace(IRIS, epochs=30, capacity="large", patience=patience)
    (run,) = train([spec], datasets.load("iris"))
    ours = early_stop(run)
    callback = keras.callbacks.EarlyStopping(
        monitor="val_data", mode="min", patience=patience, restore_best_weights=True
    )

    class Model:
        stop_training = False
        weights = None

        def get_weights(self):
            return self.weights

        def set_weights(self, weights):
            self.weights = weights

    model = Model()
    callback.set_model(model)
    callback.on_train_begin()
    stopped = None
    for record in run.history:
        model.weights = record["epoch"]  # "weights": which epoch they are from
        callback.on_epoch_end(record["epoch"] - 1, {"val_data": record["val_loss"]})
        if model.stop_training:
            stopped = record["epoch"]
            break
    callback.on_train_end()
    assert ours["stopped"] == stopped
    assert ours["restored"] == model.weights
    restored = run.history[model.weights - 1]
    assert ours["test_loss"] == restored["test_loss"]
