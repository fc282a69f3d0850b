"""The networks: each architecture is one function that lists its layers, one `if` per toggle.

The same list builds the keras.Model the app trains (build_model) and the Keras code the
Model page shows (core.codegen), so the two cannot drift apart. Keras is imported inside
functions only: importing core must never pay for TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core import settings
from core.datasets.base import DatasetInfo
from core.spec import CAPACITIES, ExperimentSpec, SpecError, augmentation_applies

# Hidden widths per capacity level.
MLP_UNITS = {
    "tiny": (16,),
    "small": (64,),
    "medium": (128, 128),
    "large": (512, 512),
    "huge": (1024, 1024, 1024),
}
# (filters per block, convolutions per block, dense head units) per capacity level.
CNN_LAYOUT = {
    "tiny": ((8,), 1, 32),
    "small": ((16, 32), 1, 64),
    "medium": ((32, 64), 2, 128),
    "large": ((32, 64, 128), 2, 256),
    "huge": ((64, 128, 256), 2, 512),
}
# VGG-16's 13 convolutions; "M" is a 2x2 max-pool (shared/seeds/001: 3x3 filters, pooling
# only, no strides, BatchNorm before LeakyReLU, Dropout only in the hidden dense layer).
VGG_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512,
              512, "M")  # fmt: skip
VGG_DENSE = 512

# Shift and zoom as fractions of the size, rotation as a fraction of a full turn. "light"
# is only flips and whole-pixel shifts, which XLA can compile; "strong" adds rotation and
# zoom, whose affine transform turns XLA off for the whole graph.
IMAGE_AUGMENT = {
    "light": {"shift": 0.10},
    "strong": {"shift": 0.15, "rotation": 0.08, "zoom": 0.20},
}
NOISE_AUGMENT = {"light": 0.3, "strong": 0.6}  # Gaussian noise on standardized features


@dataclass(frozen=True)
class Expr:
    """An argument written as code (`1 / 255`) with the value it evaluates to."""

    code: str
    value: Any


@dataclass(frozen=True)
class Layer:
    """One layer: a keras.layers class (or this project's RandomShift) and its arguments."""

    kind: str
    args: tuple = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    regularized: bool = False  # takes the spec's kernel regularizer (L1 and/or L2)
    comment: str = ""


@dataclass(frozen=True)
class Architecture:
    name: str
    title: str
    layers: Callable[[ExperimentSpec, DatasetInfo], list[Layer]]  # the hidden layers
    images_only: bool
    own_widths: bool = False  # the course's exact network: `widths` cannot change it


def image_augmentation(level: str, flip_ok: bool) -> dict[str, float | None]:
    """The image augmentation steps of a level, in the order they apply, with their
    strengths: one definition for the model, the generated code and the Data page."""
    # Never a flip for digits or letters: a mirrored 2 is not a 2.
    return ({"flip": None} if flip_ok else {}) | IMAGE_AUGMENT[level]


def width_scale(spec: ExperimentSpec) -> float:
    """Course presets are exact at capacity 'large'; each level below halves the widths."""
    return 2.0 ** (CAPACITIES.index(spec.capacity) - CAPACITIES.index("large"))


def _scaled(width: int, spec: ExperimentSpec) -> int:
    return max(1, round(width * width_scale(spec)))


def hidden_widths(spec: ExperimentSpec, default: tuple[int, ...]) -> tuple[int, ...]:
    """The hidden dense layers' widths: the spec's own (`widths`), else the capacity's."""
    return settings.layer_widths(spec.widths) or default


def mlp_widths(spec: ExperimentSpec) -> tuple[int, ...]:
    """The hidden widths of this spec's dense network (MLP)."""
    return hidden_widths(spec, MLP_UNITS[spec.capacity])


def dropout_rate(spec: ExperimentSpec, depth: int) -> float:
    """The rate of the Dropout after the hidden dense layer at this depth (0 = the first):
    each deeper layer keeps dropout_taper of the rate before it (the course's 0.4, 0.2)."""
    return round(spec.dropout * spec.dropout_taper**depth, 4)


def _dense_blocks(widths: tuple[int, ...], spec: ExperimentSpec, activation: str = "relu"):
    out = []
    for depth, units in enumerate(widths):
        out.append(Layer("Dense", (units,), regularized=True))
        if spec.batchnorm:
            out.append(Layer("BatchNormalization", comment="before the activation"))
        out.append(Layer("Activation", (activation,)))
        if spec.dropout:
            tapered = depth and spec.dropout_taper != 1
            note = f"{spec.dropout_taper:g} × the rate before it (Dropout taper)" if tapered else ""
            out.append(Layer("Dropout", (dropout_rate(spec, depth),), comment=note))
    return out


def _conv(filters: int, spec: ExperimentSpec, activation: str) -> list[Layer]:
    out = [Layer("Conv2D", (filters, 3), (("padding", "same"),), regularized=True)]
    if spec.batchnorm:
        out.append(Layer("BatchNormalization"))
    return out + [Layer("Activation", (activation,))]


POOL = Layer("MaxPooling2D", (2,), (("padding", "same"),))


def mlp(spec: ExperimentSpec, info: DatasetInfo) -> list[Layer]:
    out = [Layer("Flatten")] if len(info.input_shape) > 1 else []
    return out + _dense_blocks(mlp_widths(spec), spec)


def cnn(spec: ExperimentSpec, info: DatasetInfo) -> list[Layer]:
    """VGG-style: blocks of 3x3 convolutions then a 2x2 max-pool; Dropout only in the dense
    head, as the course does."""
    filters, convs, dense = CNN_LAYOUT[spec.capacity]
    out = []
    for f in filters:
        for _ in range(convs):
            out += _conv(f, spec, "relu")
        out.append(POOL)
    return out + [Layer("Flatten")] + _dense_blocks(hidden_widths(spec, (dense,)), spec)


def sign_cnn(spec: ExperimentSpec, info: DatasetInfo) -> list[Layer]:
    """The sign-language CNN of shared/seeds/003 (264,049 parameters at 28x28x1, 24 classes,
    with BatchNorm and Dropout on), in the course's own layer order: BatchNorm after the
    ReLU, Dropout 0.2 after the second convolution and 0.3 in the head. `dropout` sets the
    head's rate; the convolution's keeps the course's 2:3 ratio."""
    out = []
    for i, filters in enumerate((75, 50, 25)):
        conv_args = (("padding", "same"), ("activation", "relu"))
        out.append(Layer("Conv2D", (_scaled(filters, spec), 3), conv_args, regularized=True))
        if i == 1 and spec.dropout:
            out.append(Layer("Dropout", (round(spec.dropout * 2 / 3, 3),)))
        if spec.batchnorm:
            out.append(Layer("BatchNormalization"))
        out.append(Layer("MaxPooling2D", (2,), (("strides", 2), ("padding", "same"))))
    out += [
        Layer("Flatten"),
        Layer("Dense", (_scaled(512, spec),), (("activation", "relu"),), regularized=True),
    ]
    if spec.dropout:
        out.append(Layer("Dropout", (spec.dropout,)))
    return out


def vgg(spec: ExperimentSpec, info: DatasetInfo) -> list[Layer]:
    """The VGG-style CIFAR-10 CNN of shared/seeds/001: 13 convolutions, BatchNorm before
    LeakyReLU, Dropout only in the hidden dense layer."""
    out = []
    for item in VGG_LAYOUT:
        out += [POOL] if item == "M" else _conv(_scaled(item, spec), spec, "leaky_relu")
    head = (_scaled(VGG_DENSE, spec),)
    return out + [Layer("Flatten")] + _dense_blocks(head, spec, "leaky_relu")


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture("mlp", "dense network", mlp, images_only=False),
        Architecture("cnn", "convolutional network", cnn, images_only=True),
        Architecture(
            "sign_cnn",
            "the course's sign-language CNN",
            sign_cnn,
            images_only=True,
            own_widths=True,
        ),
        Architecture(
            "vgg_cifar", "the course's VGG-style CNN", vgg, images_only=True, own_widths=True
        ),
    )
}
assert tuple(ARCHITECTURES) == settings.ARCHITECTURES, "one builder per architecture name"


def check_compatible(spec: ExperimentSpec, info: DatasetInfo) -> None:
    """Refuse combinations that would silently mean nothing."""
    arch = ARCHITECTURES[spec.arch]
    if arch.images_only and info.modality != "image":
        raise SpecError(f"{spec.arch} needs images; {info.title} is {info.modality} data")
    if arch.own_widths and spec.widths:
        raise SpecError(f"layer widths do not apply to {arch.title}: its layers are the course's")
    if spec.augment != "none" and not augmentation_applies(info.modality):
        raise SpecError("augmentation is defined for images and tabular data, not for text")
    if spec.label_noise and info.task == "regression":
        raise SpecError("label noise is defined for classes, not for regression targets")


def layers(spec: ExperimentSpec, info: DatasetInfo) -> list[Layer]:
    """Every layer after the input, in order: scaling, augmentation, body, head."""
    check_compatible(spec, info)
    out = [Layer("Rescaling", (Expr("1 / 255", 1 / 255),))] if info.modality == "image" else []
    out += _augmentation(spec, info)
    out += ARCHITECTURES[spec.arch].layers(spec, info)
    return out + [_head(info)]


def _augmentation(spec: ExperimentSpec, info: DatasetInfo) -> list[Layer]:
    """Keras preprocessing layers: active in training, identity at inference."""
    if spec.augment == "none":
        return []
    if info.modality == "tabular":
        return [Layer("GaussianNoise", (NOISE_AUGMENT[spec.augment],), comment="training only")]
    constant = (("fill_mode", "constant"),)
    build = {
        "flip": lambda _: Layer("RandomFlip", ("horizontal",)),
        "shift": lambda f: Layer("RandomShift", (f,), comment="defined above"),
        "rotation": lambda f: Layer("RandomRotation", (f,), constant),
        "zoom": lambda f: Layer("RandomZoom", (f,), constant),
    }
    steps = image_augmentation(spec.augment, info.flip_ok)
    return [build[step](strength) for step, strength in steps.items()]


def _head(info: DatasetInfo) -> Layer:
    """Output and loss follow the problem type (the course's table): sigmoid + binary
    cross-entropy, softmax + categorical cross-entropy, linear + MSE."""
    if info.task == "binary":
        return Layer("Dense", (1,), (("activation", "sigmoid"),), regularized=True)
    if info.task == "multiclass":
        units = (info.num_classes,)
        return Layer("Dense", units, (("activation", "softmax"),), regularized=True)
    return Layer("Dense", (1,), regularized=True)


def build_model(spec: ExperimentSpec, info: DatasetInfo) -> Any:
    import keras

    reg = regularizer(spec)
    x = inputs = keras.Input(info.input_shape, name="input")
    listed = layers(spec, info)
    for layer, name in zip(listed, layer_names(listed), strict=True):
        x = _keras_layer(layer, reg, name)(x)
    return keras.Model(inputs, x, name=model_name(spec))


def model_name(spec: ExperimentSpec) -> str:
    return f"{spec.arch}_{spec.capacity}"


def layer_names(listed: list[Layer]) -> list[str]:
    """Keras's layer names as build_model gives them: dense_1, dense_2, ..., output."""
    counts: dict[str, int] = {}
    names = []
    for layer in listed:
        counts[layer.kind] = counts.get(layer.kind, 0) + 1
        names.append(f"{_snake(layer.kind)}_{counts[layer.kind]}")
    return names[:-1] + ["output"]


@dataclass(frozen=True)
class Shape:
    """One row of model.summary(), computed from the layer list without Keras."""

    name: str
    kind: str
    output: tuple[int, ...]  # without the batch dimension
    trainable: int
    frozen: int  # non-trainable: BatchNorm's moving mean and variance

    @property
    def params(self) -> int:
        return self.trainable + self.frozen


def shapes(spec: ExperimentSpec, info: DatasetInfo) -> list[Shape]:
    """Every layer's output shape and parameter counts, input first: what Keras's summary
    lists, so a page can show it without importing TensorFlow."""
    listed = layers(spec, info)
    out = [Shape("input", "InputLayer", tuple(info.input_shape), 0, 0)]
    for layer, name in zip(listed, layer_names(listed), strict=True):
        out.append(Shape(name, layer.kind, *_output(layer, out[-1].output)))
    return out


def count_params(spec: ExperimentSpec, info: DatasetInfo) -> int:
    """The network's weights as Keras's count_params() counts them (BatchNorm's moving
    statistics included), without importing Keras: the web server prices requests with it."""
    return sum(row.params for row in shapes(spec, info))


def _output(layer: Layer, shape: tuple[int, ...]) -> tuple[tuple[int, ...], int, int]:
    """A layer's output shape and its trainable and non-trainable parameters, from its
    input shape (channels last; every convolution and pooling here pads to "same")."""
    args = [a.value if isinstance(a, Expr) else a for a in layer.args]
    kwargs = dict(layer.kwargs)
    if layer.kind == "Dense":
        return (*shape[:-1], args[0]), shape[-1] * args[0] + args[0], 0
    if layer.kind == "Conv2D":
        filters, size = args[0], args[1]
        return (*shape[:-1], filters), size * size * shape[-1] * filters + filters, 0
    if layer.kind == "MaxPooling2D":
        stride = kwargs.get("strides", args[0])
        return (*(-(-side // stride) for side in shape[:-1]), shape[-1]), 0, 0
    if layer.kind == "Flatten":
        return (math.prod(shape),), 0, 0
    if layer.kind == "BatchNormalization":  # gamma and beta learn; the moving stats do not
        return shape, 2 * shape[-1], 2 * shape[-1]
    return shape, 0, 0  # scaling, augmentation, activations, Dropout: shape unchanged


def summary(spec: ExperimentSpec, info: DatasetInfo) -> str:
    """model.summary() as Keras prints it, computed from the layer list."""
    rows = shapes(spec, info)
    table = [("Layer (type)", "Output Shape", "Param #")] + [
        (f"{r.name} ({r.kind})", str((None, *r.output)), f"{r.params:,}") for r in rows
    ]
    widths = [max(len(row[i]) for row in table) + 2 for i in range(3)]
    lines = [f"{a:<{widths[0]}}{b:<{widths[1]}}{c:>{widths[2]}}" for a, b, c in table]
    rule = "─" * sum(widths)
    trainable = sum(r.trainable for r in rows)
    frozen = sum(r.frozen for r in rows)
    totals = [("Total params", trainable + frozen), ("Trainable params", trainable),
              ("Non-trainable params", frozen)]  # fmt: skip
    return "\n".join([f'Model: "{model_name(spec)}"', lines[0], rule, *lines[1:], rule]
                     + [f"{what}: {n:,} ({_memory(4 * n)})" for what, n in totals])  # fmt: skip


def _memory(size: float) -> str:
    """Keras's readable size of float32 weights."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} TB"


def keras_layer(layer: Layer, name: str):
    """One listed layer as a Keras layer, without a regularizer: the stacked training loop
    (core.stacked) runs Keras's own augmentation layers this way."""
    return _keras_layer(layer, None, name)


def regularizer(spec: ExperimentSpec):
    import keras

    if spec.l1 and spec.l2:
        return keras.regularizers.L1L2(l1=spec.l1, l2=spec.l2)
    if spec.l1:
        return keras.regularizers.L1(spec.l1)
    return keras.regularizers.L2(spec.l2) if spec.l2 else None


def _keras_layer(layer: Layer, reg, name: str):
    import keras

    if layer.kind == "RandomShift":
        from core.augment import RandomShift

        cls = RandomShift
    else:
        cls = getattr(keras.layers, layer.kind)
    args = [a.value if isinstance(a, Expr) else a for a in layer.args]
    kwargs = dict(layer.kwargs)
    if layer.regularized and reg is not None:
        kwargs["kernel_regularizer"] = reg
    return cls(*args, **kwargs, name=name)


def _snake(kind: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(kind))


def kernel_layers(model) -> list:
    """The layers whose kernel L1/L2 act on, in order: what the Weights view follows."""
    return [layer for layer in model.layers if getattr(layer, "kernel", None) is not None]


def augmentation_layers(spec: ExperimentSpec, info: DatasetInfo) -> list:
    """The model's own augmentation layers, for previews: the Data page shows exactly what
    training does to an example."""
    check_compatible(spec, info)
    return [_keras_layer(layer, None, f"augment_{i}")
            for i, layer in enumerate(_augmentation(spec, info))]  # fmt: skip
