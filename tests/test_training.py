"""Real training on tiny real data (iris, digits), checked against Keras's own fit."""

import threading
from collections import OrderedDict
from dataclasses import replace

import numpy as np
import pytest

from core import datasets, metrics, stacked, training
from core.spec import (
    DEFAULT_VARIANTS,
    VARIANTS,
    ExperimentSpec,
    make_variant,
    sweep_specs,
    variant_specs,
)
from core.training import Cancelled, epoch_orders, train
from tests.support import keras_reference


def best(run) -> int:
    return metrics.best_validation_epoch(run.history)


IRIS = ExperimentSpec(dataset="iris", capacity="medium", epochs=4, batch_size=16, seed=3)


FIELDS = ("loss", "val_loss", "test_loss", "penalty", "accuracy", "val_accuracy", "fit_loss")


def curves(run, fields=FIELDS):
    return np.array([[r[f] for f in fields] + r["norms"] for r in run.history], dtype=float)


@pytest.mark.parametrize("optimizer,xla", [("adam", False), ("adam", True), ("sgd", True),
                                           ("rmsprop", True)])  # fmt: skip
def test_loop_matches_keras_fit_and_reports_the_penalty_apart(monkeypatch, optimizer, xla):
    """Reference: Keras's fit and evaluate, with every layer the loop reimplements (Dense,
    activations, BatchNorm, Dropout, Gaussian noise, L1 + L2) and Keras's own optimizer,
    its update compiled with XLA (a heavy stack's) or not (a light one's).
    Keras adds the penalty to loss and val_loss; ours are data losses, the penalty apart."""
    monkeypatch.setattr(stacked, "HEAVY_STEP", 0 if xla else 10**12)
    spec = replace(IRIS, l2=1e-2, l1=1e-3, batchnorm=True, dropout=0.3, augment="light",
                   optimizer=optimizer, learning_rate=3e-3)  # fmt: skip

    def check(record, model, data, fit_loss):
        penalty = float(sum(float(loss) for loss in model.losses))
        keras_val = model.evaluate(data.x_val, data.y_val, verbose=0)
        keras_train = model.evaluate(data.x_train, data.y_train, verbose=0)
        keras_test = model.evaluate(data.x_test, data.y_test, verbose=0)
        assert penalty > 0.01
        # What fit prints: the running mean of data loss plus penalty, in training mode,
        # with these very Dropout masks and noise.
        assert record["fit_loss"] + record["fit_penalty"] == pytest.approx(fit_loss, rel=1e-4)
        assert record["penalty"] == pytest.approx(penalty, rel=1e-4)
        assert record["val_loss"] == pytest.approx(keras_val - penalty, rel=1e-3, abs=1e-4)
        assert record["loss"] == pytest.approx(keras_train - penalty, rel=1e-3, abs=1e-4)
        assert record["test_loss"] == pytest.approx(keras_test - penalty, rel=1e-3, abs=1e-4)
        assert record["val_loss"] < keras_val - 0.5 * penalty  # clearly without the penalty
        kernels = [layer.kernel for layer in model.layers if getattr(layer, "kernel", None)
                   is not None]  # fmt: skip
        norms = [float(np.linalg.norm(np.asarray(k))) for k in kernels]
        np.testing.assert_allclose(record["norms"], norms, rtol=1e-4)

    run, model, data = keras_reference(spec, datasets.load("iris"), check)
    assert run.test["accuracy"] == pytest.approx(
        float(np.mean(np.argmax(model.predict(data.x_test, verbose=0), 1) == data.y_test))
    )


@pytest.mark.parametrize(
    "spec",
    [
        ExperimentSpec(dataset="breast_cancer", capacity="small", epochs=3, train_size=100,
                       dropout=0.4, dropout_taper=0.5, widths="24,12", label_noise=0.2),
        ExperimentSpec(dataset="digits", arch="cnn", capacity="tiny", epochs=2, train_size=96,
                       batchnorm=True, l2=1e-3, optimizer="sgd", learning_rate=0.01),
        ExperimentSpec(dataset="sine", data_size=30, data_noise=0.3, capacity="small", epochs=3,
                       batch_size=8),
    ],
    ids=["binary", "convolutions", "regression"],
)  # fmt: skip
def test_loop_matches_keras_fit_on_every_task_and_on_convolutions(spec):
    """The sigmoid and linear heads and their losses; Rescaling, Conv2D, MaxPooling2D and
    Flatten (the branch axis merged into the batch and split again); layer widths and a
    Dropout taper (each depth's own rate, as Keras's model has it)."""

    def check(record, model, data, fit_loss):
        penalty = float(sum(float(loss) for loss in model.losses))
        assert record["fit_loss"] + record["fit_penalty"] == pytest.approx(fit_loss, rel=1e-4)
        keras_val = model.evaluate(data.x_val, data.y_val, verbose=0)
        assert record["val_loss"] == pytest.approx(keras_val - penalty, rel=1e-3, abs=1e-4)

    keras_reference(spec, datasets.for_spec(spec), check)


@pytest.mark.parametrize(
    "spec",
    [
        ExperimentSpec(dataset="iris", capacity="medium", dropout=0.3, batchnorm=True),
        ExperimentSpec(dataset="digits", arch="cnn", capacity="small", augment="strong"),
        ExperimentSpec(dataset="digits", arch="sign_cnn", capacity="small", dropout=0.3,
                       batchnorm=True),
        ExperimentSpec(dataset="digits", arch="vgg_cifar", capacity="tiny", l1=1e-4),
    ],
    ids=["mlp", "cnn", "sign_cnn", "vgg"],
)  # fmt: skip
def test_initial_weights_parameters_and_names_are_kerass(spec):
    """Each branch starts from weights shaped and scaled as Keras initialises build_model's
    model, and reports its parameter count and kernel layers as Keras does."""
    from core.models import build_model, kernel_layers
    from core.stacked import initial_weights, kernel_names, parameter_count

    info = datasets.info(spec.dataset)
    model = build_model(spec, info)
    ours = initial_weights(spec, info)
    assert [w.shape for w in ours] == [tuple(w.shape) for w in model.get_weights()]
    assert parameter_count(spec, info) == model.count_params()
    assert kernel_names(spec, info) == tuple(layer.name for layer in kernel_layers(model))
    for theirs, mine in zip(model.get_weights(), ours, strict=True):
        if theirs.ndim > 1:  # Glorot-uniform kernels: the same bound, nearly reached
            assert np.abs(mine).max() <= np.abs(theirs).max() * 1.05
            assert np.abs(mine).max() >= np.abs(theirs).max() * 0.9
        else:  # biases and BatchNorm's statistics start at Keras's constants
            assert np.array_equal(mine, theirs)
    assert not np.array_equal(ours[0], initial_weights(replace(spec, seed=1), info)[0])


def test_same_spec_and_seed_give_the_same_history_on_the_cpu():
    specs = [make_variant(IRIS, "dropout"), make_variant(IRIS, "augment")]
    data = datasets.load("iris")
    first, second = train(specs, data), train(specs, data)
    for a, b in zip(first, second, strict=True):
        assert np.array_equal(curves(a), curves(b))
        assert a.key == b.key and a.test == b.test
    other_seed = train([replace(specs[0], seed=4)], data)[0]
    assert not np.array_equal(curves(other_seed), curves(first[0]))


@pytest.mark.parametrize("parts", [1, 3])
def test_each_fused_branch_matches_the_variant_trained_alone(monkeypatch, parts):
    """Every knob that lives inside a branch: the named variants, L1, a seed, label noise,
    a smaller training set (a learning curve's ragged branches), fewer epochs (a prefix of
    a longer branch) and early stopping's patience; in one stack with a plain update, and
    cut into a stack per core (a CPU with 3 cores) with XLA updates, whatever this machine
    has."""
    monkeypatch.setattr(training, "parallel_stacks", lambda: parts)
    # Cut, the small network's steps count as heavy: its updates compile with XLA too.
    monkeypatch.setattr(stacked, "HEAVY_STEP", 20_000_000 if parts == 1 else 0)
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
    # All but "small" are one shape (BatchNorm, Dropout, noise and penalties as per-branch
    # switches): one stack, or one per core in even parts. Each branch takes its own
    # batches in a stack that holds different training sets.
    group = [s for s in specs if s.seed == base.seed]
    layout, members = training._Layout.of(training._Plan.of(group, False).branches, data, None)
    assert sorted(len(m) for m in members) == ([1, 10] if parts == 1 else [1, 3, 3, 4])
    assert any(d.own_windows for d in layout.stacks if d.branches > 1)
    for spec, together in zip(specs, fused, strict=True):
        (alone,) = train([spec], data)
        assert alone.meta["fused_with"] == 1 and len(together.history) == spec.epochs
        np.testing.assert_allclose(curves(together), curves(alone), rtol=1e-4, atol=1e-5)
        assert together.params == alone.params and best(together) == best(alone)
        assert together.meta["train_examples"] == alone.meta["train_examples"]
        # A batched matmul may round differently from a single one: equal up to rounding.
        edges, counts = (np.array(together.histogram[k]) for k in ("edges", "counts"))
        np.testing.assert_allclose(edges, alone.histogram["edges"], rtol=1e-4, atol=1e-5)
        assert np.abs(counts - alone.histogram["counts"]).sum() <= 2


def test_only_heavy_steps_are_cut_into_a_stack_per_core(monkeypatch):
    """On a CPU each core runs a stack of its own: worth tracing another stack where a step
    is heavy (digits' 512-wide network), not for moons' small one."""
    monkeypatch.setattr(training, "parallel_stacks", lambda: 4)

    def stack_sizes(name: str) -> list[int]:
        specs = [s for _, s in variant_specs(datasets.base_spec(name), DEFAULT_VARIANTS)]
        data = datasets.for_spec(specs[0])
        _, members = training._Layout.of(training._Plan.of(specs, False).branches, data, None)
        return sorted(len(m) for m in members)

    assert stack_sizes("moons") == [1, 6]  # "less capacity" alone, the six others as one
    assert stack_sizes("digits") == [1, 1, 1, 2, 2]


def test_tapered_dropout_and_other_widths_train_stacked_as_alone(monkeypatch):
    """Each Dropout's rate comes from the branch's own layer list (a taper gives each depth
    its own), and other widths are other shapes: a stack of their own in the same loop."""
    monkeypatch.setattr(training, "parallel_stacks", lambda: 1)  # one stack per shape
    base = replace(IRIS, epochs=4, widths="16,8,8")
    specs = [
        base,
        replace(base, dropout=0.4, dropout_taper=0.5),  # rates 0.4, 0.2, 0.1
        replace(base, dropout=0.4),  # rates 0.4, 0.4, 0.4
        replace(base, widths="12,6"),
    ]
    data = datasets.load("iris")
    plan = training._Plan.of(specs, False)
    layout, members = training._Layout.of(plan.branches, data, None)
    assert sorted(len(m) for m in members) == [1, 3]  # the taper stacks; the widths do not
    fused = train(specs, data)
    assert [r.meta["fused_with"] for r in fused] == [4] * 4
    runs = {spec: curves(r) for spec, r in zip(specs, fused, strict=True)}
    for spec in specs:
        (alone,) = train([spec], data)
        np.testing.assert_allclose(runs[spec], curves(alone), rtol=1e-4, atol=1e-5)
    assert not np.allclose(runs[specs[1]], runs[specs[2]])  # the taper changed the training


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
    specs = [base, make_variant(base, "l2"), replace(base, train_size=30, capacity="tiny")]
    data = datasets.for_spec(base)
    untrained: dict[tuple, dict] = {}  # (fused or alone, spec index) -> epoch 0's picture

    def keep(together: bool, offset: int = 0):
        return lambda i, snapshot: untrained.setdefault((together, i + offset), snapshot)

    fused = train(specs, data, on_start=keep(True))
    for i, (spec, together) in enumerate(zip(specs, fused, strict=True)):
        (alone,) = train([spec], data, on_start=keep(False, i))
        assert untrained[True, i]["epoch"] == untrained[False, i]["epoch"] == 0
        assert close(untrained[True, i]["values"], untrained[False, i]["values"])
        assert together.probe == alone.probe and together.probe["kind"] == "grid"
        snaps = {r["epoch"]: r["probe"]["values"] for r in together.history if "probe" in r}
        alone_snaps = {r["epoch"]: r["probe"]["values"] for r in alone.history if "probe" in r}
        assert snaps.keys() == alone_snaps.keys() and 5 in snaps
        for epoch, values in snaps.items():
            assert len(values) == 50 * 50 and close(values, alone_snaps[epoch])


def close(percents, others) -> bool:
    """Probabilities in whole percent, equal but for a rounding at a percent's edge."""
    return max(abs(a - b) for a, b in zip(percents, others, strict=True)) <= 1


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


def test_progress_arrives_per_epoch():
    seen = []
    data = datasets.load("iris")
    specs = [IRIS, make_variant(IRIS, "l2")]
    train(specs, data, on_epoch=lambda i, record: seen.append((i, record["epoch"])))
    assert sorted(seen) == [(i, e) for i in range(2) for e in range(1, 5)]


def test_should_stop_is_asked_as_soon_as_an_epoch_is_reported(monkeypatch):
    """The worker publishes progress from should_stop(): it is asked once a chunk's records
    are all in, not at the watcher's next timed look (here an hour away), so the first
    epoch reaches the pages at once. The second chunk's report waits until the question
    after the first has come."""
    monkeypatch.setattr(training, "STOP_POLL_SECONDS", 3600.0)
    seen: list[int] = []
    asked_after_first = threading.Event()

    def should_stop() -> bool:
        if seen:
            asked_after_first.set()
        return False

    def on_epoch(i: int, record: dict) -> None:
        seen.append(record["epoch"])
        if record["epoch"] > 1:
            assert asked_after_first.wait(60), "should_stop was not asked after epoch 1"

    (run,) = train([replace(IRIS, epochs=3)], datasets.load("iris"), on_epoch=on_epoch,
                   should_stop=should_stop)  # fmt: skip
    assert seen == [1, 2, 3] and len(run.history) == 3


def test_cancel_ends_a_long_first_epoch_within_steps():
    """should_stop is asked from a thread while the compiled loop runs, and the loop reads
    the stop flag between steps: a cancel during the first epoch (here 1,149 steps of one
    example each) ends it there, not at its end, and nothing is returned."""
    data = datasets.load("digits")
    spec = ExperimentSpec(dataset="digits", batch_size=1, epochs=3)
    asked = threading.Event()

    def should_stop() -> bool:
        asked.set()
        return True

    with pytest.raises(Cancelled) as cancelled:
        train([spec], data, should_stop=should_stop)
    assert asked.is_set()
    assert cancelled.value.epochs == 0 and cancelled.value.steps < len(data.y_train) // 2


def loaded_loop(specs, data):
    plan = training._Plan.of(specs, False)
    layout, members = training._Layout.of(plan.branches, data, None)
    loop = training._Loop(training.tf_runtime(), layout)
    loop.load(plan.branches, members, data, None)
    return loop


@pytest.mark.parametrize("augment,compiles", [("light", True), ("strong", False)])
def test_light_augmentation_compiles_with_xla_and_strong_falls_back(monkeypatch, augment, compiles):
    """XLA is off on a CPU; force it here to prove which graphs it can compile. A graph it
    cannot compile falls back to the plain graph and still trains the same epochs."""
    monkeypatch.setattr(training, "xla_friendly", lambda specs, data: True)
    spec = ExperimentSpec(dataset="digits", capacity="tiny", epochs=2, train_size=64,
                          batch_size=32, augment=augment)  # fmt: skip
    loop = loaded_loop([spec], datasets.load("digits"))
    rows, _ = loop.run(0, 2)
    assert loop.xla is compiles
    assert rows.shape[:2] == (2, 1) and np.isfinite(rows).all()
    if not compiles:  # the fallback is that layout's alone: another still compiles
        other = loaded_loop([replace(spec, augment="light")], datasets.load("digits"))
        other.run(0, 1)
        assert other.xla


@pytest.mark.parametrize("error", ["ResourceExhaustedError", "InvalidArgumentError"])
def test_the_xla_fallback_takes_only_a_missing_kernel(monkeypatch, error):
    """Out of memory, or any other error, is not a reason to drop XLA: it is raised."""
    tf = training.tf_runtime()
    monkeypatch.setattr(training, "xla_friendly", lambda specs, data: True)
    spec = ExperimentSpec(dataset="digits", capacity="tiny", epochs=1, train_size=64)
    loop = loaded_loop([spec], datasets.load("digits"))

    def failing(*args):
        raise getattr(tf.errors, error)(None, None, "OOM when allocating tensor [4096, 4096]")

    loop._epochs = failing
    with pytest.raises(getattr(tf.errors, error)):
        loop.run(0, 1)
    assert loop.xla


def test_a_comparison_that_changes_only_strengths_reuses_the_traced_loop():
    """L1, L2, Dropout rates (a taper's too), learning rates and label noise are values in
    the loop's variables: the second comparison (and sweep) trains without tracing
    anything, and nothing of the first is left in the loop (a rerun gives the same curves)."""
    data = datasets.load("iris")
    base = replace(IRIS, epochs=3, batch_size=12)  # a layout no other test traces
    names = ("baseline", "small", "l2", "dropout", "batchnorm", "augment")

    def comparison(l2, dropout, l1, noise, rate, taper):
        specs = [make_variant(base, v, l2=l2, dropout=dropout) for v in names]
        return specs + [replace(base, l1=l1, label_noise=noise, learning_rate=rate),
                        replace(base, dropout=dropout, dropout_taper=taper)]  # fmt: skip

    first = train(comparison(1e-3, 0.5, 1e-4, 0.1, 1e-3, 0.5), data)
    sweep = train([s for _, s in sweep_specs(base, "l2", (1e-4, 1e-3, 1e-2))], data)
    traced = training.TRACES.total()
    second = comparison(1e-2, 0.2, 1e-3, 0.3, 3e-3, 0.8)
    again = train(second, data)
    assert train([s for _, s in sweep_specs(base, "l2", (3e-4, 3e-3, 3e-2))], data)[2].spec.l2

    assert training.TRACES.total() == traced
    assert train(second, data) and training.TRACES.total() == traced
    for a, b, c in zip(first, again, train(second, data), strict=True):
        assert np.array_equal(curves(b), curves(c))
        assert a.spec == b.spec or not np.array_equal(curves(a), curves(b))
    assert sweep[0].history != sweep[1].history


def test_another_number_of_points_in_the_same_room_reuses_the_traced_loop():
    """A teacher's points slider on moons: 70 and then 90 points fit the loop traced for the
    first (room for 128; its 2,000 held-out points dwarf the padding); nothing is traced
    again, and the run is what the loop gives it every time. Iris's 96 flowers beside 54
    held out get no room: measuring it would cost a fifth more every epoch."""
    base = replace(datasets.base_spec("moons"), epochs=3, batch_size=14)  # a new layout
    assert training.pool_room(70, 2000) == training.pool_room(90, 2000) == 128
    assert training.pool_room(96, 54) == 96
    first = train([replace(base, data_size=70)], datasets.for_spec(replace(base, data_size=70)))
    traced = training.TRACES.total()
    more = replace(base, data_size=90)
    second = train([more], datasets.for_spec(more))[0]
    assert training.TRACES.total() == traced
    assert np.array_equal(curves(second), curves(train([more], datasets.for_spec(more))[0]))
    assert not np.array_equal(curves(first[0]), curves(second))


def test_pretraced_loops_train_without_tracing():
    data = datasets.load("iris")
    base = replace(IRIS, epochs=2, batch_size=20)  # a layout no other test traces
    specs = [make_variant(base, v) for v in ("baseline", "l2", "dropout", "small")]
    assert training.pretrace(specs, data) == 1  # one fusion group, one loop
    assert training.pretrace(specs, data) == 0  # already traced
    traced = training.TRACES.total()
    train([make_variant(base, v, l2=1e-2) for v in ("baseline", "l2", "dropout", "small")], data)
    assert training.TRACES.total() == traced


def test_a_guess_warms_only_into_free_room_and_an_expected_move_may_push_out_the_oldest(
    monkeypatch,
):
    """Warming other datasets' defaults must not push out what a class trained; warming the
    move a page expects next may push out the least recently used loop, as a request does."""
    data = datasets.load("iris")
    monkeypatch.setattr(training, "_loops", OrderedDict())  # this process's loops, apart
    monkeypatch.setattr(training, "MAX_LOOPS", 2)
    trained = [
        replace(IRIS, epochs=1, batch_size=b) for b in (21, 22)
    ]  # layouts no other test traces
    for spec in trained:
        train([spec], data)
    guess, expected = replace(IRIS, epochs=1, batch_size=23), replace(IRIS, epochs=1, batch_size=24)
    assert training.pretrace([guess], data, evict=False) == 0
    assert [layout.batch for layout in training._loops] == [21, 22]
    assert training.pretrace([expected], data) == 1
    assert [layout.batch for layout in training._loops] == [22, 24]


def test_a_diverging_branch_is_a_result_and_leaves_the_others_alone(tmp_path):
    """SGD at learning rate 1 on iris: its loss overflows. That branch stops where it
    diverged; its record still covers every epoch (None from there on, so it fits the cache
    schema) and says where; its stack-mate trains exactly as it would alone."""
    from core.cache import RunStore
    from core.report import surprise

    wild = datasets.base_spec("iris", optimizer="sgd", learning_rate=1.0, epochs=20)
    calm = replace(wild, learning_rate=1e-3)
    data = datasets.for_spec(wild)
    diverging, steady = train([wild, calm], data)
    epoch = diverging.meta["diverged"]
    assert 1 <= epoch <= 20 and len(diverging.history) == 20
    assert all(r["val_loss"] is not None for r in diverging.history[: epoch - 1])
    assert all(r["val_loss"] is None and r["loss"] is None and r["norms"] == []
               for r in diverging.history[epoch - 1 :])  # fmt: skip
    assert sum(diverging.histogram["counts"]) > 0
    store = RunStore(tmp_path)
    store.save(diverging)
    assert store.load(diverging.key) == diverging
    note = surprise("baseline", diverging, classes=3)
    assert f"diverged at epoch {epoch}" in note and "learning rate (1)" in note
    assert "diverged" not in steady.meta and surprise("baseline", steady, classes=3) is None
    (alone,) = train([calm], data)
    np.testing.assert_allclose(curves(steady), curves(alone), rtol=1e-4, atol=1e-5)


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
