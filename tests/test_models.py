from dataclasses import replace

import numpy as np
import pytest

from core.datasets.base import DatasetInfo
from core.models import build_model
from core.spec import ExperimentSpec, SpecError
from tests.support import CIFAR, DIGITS, SIGN, TABLE, TEXT


def kinds(model):
    return [type(layer).__name__ for layer in model.layers]


def test_sign_language_preset_has_exactly_the_courses_264049_parameters():
    model = build_model(ExperimentSpec(arch="sign_cnn", batchnorm=True, dropout=0.3), SIGN)
    assert model.count_params() == 264_049
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 263_749  # the course's summary: 300 non-trainable
    assert [layer.rate for layer in model.layers if type(layer).__name__ == "Dropout"] == [0.2, 0.3]


def test_vgg_preset_follows_the_course():
    model = build_model(ExperimentSpec(arch="vgg_cifar", batchnorm=True, dropout=0.5), CIFAR)
    names = kinds(model)
    assert names.count("Conv2D") == 13
    # BatchNorm right before every LeakyReLU; Dropout only after the hidden dense layer.
    for i, name in enumerate(names):
        if name == "Activation" and model.layers[i].get_config()["activation"] == "leaky_relu":
            assert names[i - 1] == "BatchNormalization"
    dropout_at = [i for i, n in enumerate(names) if n == "Dropout"]
    assert len(dropout_at) == 1 and names.index("Flatten") < dropout_at[0]
    assert names.count("Dense") == 2 and model.output_shape == (None, 10)


def test_mlp_toggles_one_if_each():
    plain = build_model(ExperimentSpec(capacity="medium"), TABLE)
    assert kinds(plain) == ["InputLayer", "Dense", "Activation", "Dense", "Activation", "Dense"]
    full = build_model(
        ExperimentSpec(capacity="medium", batchnorm=True, dropout=0.3, l2=1e-3), TABLE
    )
    assert kinds(full)[1:5] == ["Dense", "BatchNormalization", "Activation", "Dropout"]
    dense = [layer for layer in full.layers if type(layer).__name__ == "Dense"]
    assert all(layer.kernel_regularizer is not None for layer in dense)  # L2 on every kernel
    both = build_model(ExperimentSpec(capacity="medium", l1=1e-4, l2=1e-3), TABLE)
    config = both.layers[1].kernel_regularizer.get_config()
    assert config == {"l1": pytest.approx(1e-4), "l2": pytest.approx(1e-3)}
    assert all(
        layer.kernel_regularizer is None
        for layer in plain.layers
        if type(layer).__name__ == "Dense"
    )


def test_cnn_keeps_dropout_in_the_dense_head():
    model = build_model(ExperimentSpec(arch="cnn", capacity="large", dropout=0.5), CIFAR)
    names = kinds(model)
    assert names.count("Dropout") == 1 and names.index("Dropout") > names.index("Flatten")
    assert names.count("Conv2D") == 6 and names.count("MaxPooling2D") == 3


def test_augmentation_respects_what_a_flip_means():
    digits = kinds(build_model(ExperimentSpec(augment="light"), DIGITS))
    photos = kinds(build_model(ExperimentSpec(arch="cnn", augment="light"), CIFAR))
    strong = kinds(build_model(ExperimentSpec(arch="cnn", augment="strong"), CIFAR))
    table = kinds(build_model(ExperimentSpec(augment="light"), TABLE))
    assert "RandomFlip" not in digits and "RandomShift" in digits
    assert "RandomFlip" in photos and "RandomShift" in photos
    assert "RandomRotation" not in photos and "RandomZoom" not in photos  # light: XLA-able
    assert {"RandomFlip", "RandomShift", "RandomRotation", "RandomZoom"} <= set(strong)
    assert "GaussianNoise" in table and "RandomShift" not in table


def test_random_shift_moves_whole_images_by_whole_pixels():
    from core.augment import RandomShift

    image = np.zeros((1, 12, 12, 1), "float32")
    image[0, 4:8, 4:8, 0] = 1.0  # a 4x4 square in the middle
    batch = np.repeat(image, 64, axis=0)
    shifted = np.asarray(RandomShift(0.25, seed=3)(batch, training=True))
    offsets = set()
    for out in shifted:
        ys, xs = np.nonzero(out[..., 0])
        assert out.sum() == 16 and set(np.unique(out)) == {0.0, 1.0}  # moved, not blurred
        offsets.add((ys.min() - 4, xs.min() - 4))
    assert len(offsets) > 10 and all(abs(dy) <= 3 and abs(dx) <= 3 for dy, dx in offsets)
    assert np.array_equal(RandomShift(0.25)(batch, training=False), batch)


def test_augmentation_is_active_in_training_and_identity_at_inference():
    model = build_model(ExperimentSpec(arch="cnn", augment="strong", seed=1), CIFAR)
    augment = [layer for layer in model.layers if type(layer).__name__.startswith("Random")]
    x = np.random.default_rng(0).uniform(0, 1, (4, 32, 32, 3)).astype("float32")
    y = x
    for layer in augment:
        y = layer(y, training=False)
    assert np.allclose(np.asarray(y), x)
    z = x
    for layer in augment:
        z = layer(z, training=True)
    assert not np.allclose(np.asarray(z), x)


def test_output_and_loss_follow_the_problem_type():
    binary = build_model(ExperimentSpec(), TABLE)
    assert binary.output_shape == (None, 1)
    assert binary.layers[-1].get_config()["activation"] == "sigmoid"
    multi = build_model(ExperimentSpec(), DIGITS)
    assert multi.layers[-1].get_config()["activation"] == "softmax"
    regression = DatasetInfo("r", "r", "tabular", (3,), (), "regression")
    assert build_model(ExperimentSpec(), regression).layers[-1].get_config()["activation"] == (
        "linear"
    )


def test_meaningless_combinations_are_refused():
    with pytest.raises(SpecError, match="needs images"):
        build_model(ExperimentSpec(arch="cnn"), TABLE)
    with pytest.raises(SpecError, match="not for text"):
        build_model(ExperimentSpec(augment="light"), TEXT)
    regression = DatasetInfo("r", "r", "tabular", (3,), (), "regression")
    with pytest.raises(SpecError, match="label noise"):
        build_model(ExperimentSpec(label_noise=0.2), regression)


def test_every_architecture_a_link_or_flag_can_name_builds():
    from core.settings import SETTINGS

    for name in SETTINGS["arch"].choices:  # the widgets, links and --arch offer these
        info = TABLE if name == "mlp" else CIFAR
        model = build_model(ExperimentSpec(arch=name, capacity="tiny"), info)
        assert model.output_shape == (None, 1 if info is TABLE else info.num_classes), name


def test_capacity_levels_grow():
    sizes = [
        build_model(ExperimentSpec(capacity=c), DIGITS).count_params()
        for c in ("tiny", "small", "medium", "large", "huge")
    ]
    assert sizes == sorted(sizes) and len(set(sizes)) == 5


def _keras_rows(model) -> list[tuple[str, str, int]]:
    """(name (type), output shape, parameters) of every row of Keras's own summary (Rich
    crops it to the terminal's COLUMNS, set wide enough by the test)."""
    import re

    lines: list[str] = []
    model.summary(print_fn=lambda line, *a, **k: lines.append(line), line_length=250)
    row = re.compile(r"│ (\S+ \(\w+\))\s+│ (\([^)]*\))\s+│\s+([\d,]+) │")
    return [(m[1], m[2], int(m[3].replace(",", ""))) for m in row.finditer("\n".join(lines))]


def _toggles():
    """Every architecture at every capacity, and each toggle on its own and all together."""
    images = {"mlp": DIGITS, "cnn": CIFAR, "sign_cnn": SIGN, "vgg_cifar": CIFAR}
    toggles = [{}, {"batchnorm": True}, {"dropout": 0.3}, {"augment": "light"},
               {"augment": "strong"}, {"l2": 1e-3, "l1": 1e-4},
               {"batchnorm": True, "dropout": 0.5, "augment": "strong"},
               {"widths": "48,24", "dropout": 0.4, "dropout_taper": 0.5}]  # fmt: skip
    for arch, info in images.items():
        for capacity in ("tiny", "small", "medium", "large", "huge"):
            yield ExperimentSpec(arch=arch, capacity=capacity), info
        for toggle in toggles:
            if arch in ("mlp", "cnn") or "widths" not in toggle:  # the course's CNNs are exact
                yield ExperimentSpec(arch=arch, capacity="small", **toggle), info
    for info in (TABLE, TEXT, DatasetInfo("r", "r", "tabular", (1,), (), "regression")):
        for toggle in toggles:
            if info is not TEXT or "augment" not in toggle:
                yield ExperimentSpec(capacity="medium", **toggle), info


def _id(x) -> str:
    return x.name if isinstance(x, DatasetInfo) else f"{x.arch}-{x.capacity}-{x.to_json()}"


@pytest.mark.parametrize("spec, info", list(_toggles()), ids=_id)
def test_the_summary_without_keras_is_keras_summary(spec, info, monkeypatch):
    """The Model page shows shapes and parameter counts computed from the layer list, so it
    never waits for a worker: they must be Keras's own, row by row."""
    from core.models import shapes, summary

    monkeypatch.setenv("COLUMNS", "254")
    model = build_model(spec, info)
    rows = shapes(spec, info)
    computed = [(f"{r.name} ({r.kind})", str((None, *r.output)), r.params) for r in rows]
    assert computed == _keras_rows(model)
    assert sum(r.params for r in rows) == model.count_params()
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert sum(r.trainable for r in rows) == trainable
    text = summary(spec, info)
    assert f"Total params: {model.count_params():,} (" in text
    assert f"Trainable params: {trainable:,} (" in text
    assert all(f"{name} " in text for name, _, _ in computed)


def test_layer_widths_build_the_course_networks():
    """shared/seeds/004's MNIST network (512-256, BatchNorm before ReLU, Dropout 0.4 then
    0.2) and shared/seeds/000's iris 16-8, whatever the network size says."""
    mnist = DatasetInfo("m", "m", "image", (28, 28, 1), tuple("0123456789"), "multiclass")
    spec = ExperimentSpec(widths="512,256", capacity="tiny", batchnorm=True, dropout=0.4,
                          dropout_taper=0.5)  # fmt: skip
    model = build_model(spec, mnist)
    dense = [layer.units for layer in model.layers if type(layer).__name__ == "Dense"]
    assert dense == [512, 256, 10]
    assert [layer.rate for layer in model.layers if type(layer).__name__ == "Dropout"] == [
        0.4,
        0.2,
    ]
    assert kinds(model)[3:7] == ["Dense", "BatchNormalization", "Activation", "Dropout"]
    assert model.count_params() == 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10 + 4 * (
        512 + 256
    )  # BatchNorm: 4 numbers per unit
    iris = DatasetInfo("i", "i", "tabular", (4,), ("a", "b", "c"), "multiclass")
    assert build_model(ExperimentSpec(widths="16,8"), iris).count_params() == (
        4 * 16 + 16 + 16 * 8 + 8 + 8 * 3 + 3
    )


def test_layer_widths_set_a_cnns_dense_head_and_not_the_courses_exact_networks():
    head = build_model(ExperimentSpec(arch="cnn", capacity="tiny", widths="64,32"), CIFAR)
    assert [layer.units for layer in head.layers if type(layer).__name__ == "Dense"] == [
        64,
        32,
        10,
    ]
    with pytest.raises(SpecError, match="layer widths do not apply"):
        build_model(ExperimentSpec(arch="sign_cnn", widths="64"), SIGN)


def test_layer_widths_are_checked_and_written_one_way():
    from core.settings import SETTINGS

    widths = SETTINGS["widths"]
    assert widths.parse(" 512 , 256 ") == ("512,256", None)
    for bad, why in (("512,,256", "whole numbers"), ("0", "1 to 4096"), ("5000", "1 to 4096"),
                     ("1,2,3,4,5,6,7", "at most 6"), ("wide", "whole numbers")):  # fmt: skip
        with pytest.raises(ValueError, match=why):
            widths.parse(bad)
        with pytest.raises(SpecError, match="widths"):
            ExperimentSpec(widths=bad).validate()
    with pytest.raises(SpecError, match="written '512,256'"):
        ExperimentSpec(widths="512, 256").validate()  # one spelling, one cache key


def test_a_spec_without_widths_keeps_its_cache_key():
    """Fields added later stay out of the canonical JSON at their defaults, so runs cached
    before them keep their keys; set, they change the key."""
    import json

    plain = ExperimentSpec(dataset="iris", dropout=0.5)
    assert "widths" not in json.loads(plain.to_json())
    assert "dropout_taper" not in json.loads(plain.to_json())
    assert ExperimentSpec.from_json(plain.to_json()) == plain
    wide = ExperimentSpec(dataset="iris", dropout=0.5, widths="16,8", dropout_taper=0.5)
    assert ExperimentSpec.from_json(wide.to_json()) == wide
    assert len({plain.key("f"), wide.key("f"), replace(wide, dropout_taper=1.0).key("f")}) == 3


def test_less_capacity_halves_given_widths():
    from core.spec import make_variant

    small = make_variant(ExperimentSpec(widths="16,8", capacity="large"), "small")
    assert small.widths == "8,4"
    assert make_variant(ExperimentSpec(capacity="large"), "small").widths == ""


def test_a_widths_link_and_flag_reach_the_spec(capsys):
    from core.cli import main
    from core.comparison import Comparison

    comparison, notes = Comparison.from_query({"ds": "iris", "w": "16, 8"})
    assert not notes and comparison.base_spec().widths == "16,8"
    assert comparison.to_query()["w"] == "16,8"
    bad, notes = Comparison.from_query({"ds": "iris", "w": "16,99999"})
    assert bad.base_spec().widths == "" and "w=" in notes[0] and "4096" in notes[0]
    assert main(["run", "--dataset", "iris", "--widths", "16,0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--widths" in err[0] and "1 to 4096" in err[0]
