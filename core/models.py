"""build_model(spec, info) -> keras.Model: one `if` per toggle, one function per architecture.

Keras is imported inside the functions: importing core must never pay for TensorFlow.
"""

from __future__ import annotations

from typing import Any

from core.datasets.base import DatasetInfo
from core.spec import CAPACITIES, ExperimentSpec, SpecError

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
VGG_LAYOUT = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    "M",
)
VGG_DENSE = 512

# (rotation as a fraction of a full turn, translation and zoom as fractions of the size).
# Shift and zoom as fractions of the size, rotation as a fraction of a full turn. "light"
# is only flips and whole-pixel shifts, which XLA can compile; "strong" adds rotation and
# zoom, whose affine transform turns XLA off for the whole graph.
IMAGE_AUGMENT = {
    "light": {"shift": 0.10},
    "strong": {"shift": 0.15, "rotation": 0.08, "zoom": 0.20},
}
NOISE_AUGMENT = {"light": 0.3, "strong": 0.6}  # Gaussian noise on standardized features


def image_augmentation(level: str, flip_ok: bool) -> dict[str, float | None]:
    """The image augmentation steps of a level, in the order they apply, with their
    strengths: one definition for the model, the generated code and the Data page."""
    # Never a flip for digits or letters: a mirrored 2 is not a 2.
    return ({"flip": None} if flip_ok else {}) | IMAGE_AUGMENT[level]


def check_compatible(spec: ExperimentSpec, info: DatasetInfo) -> None:
    """Refuse combinations that would silently mean nothing."""
    if spec.arch != "mlp" and info.modality != "image":
        raise SpecError(f"{spec.arch} needs images; {info.title} is {info.modality} data")
    if spec.augment != "none" and info.modality == "text":
        raise SpecError("augmentation is defined for images and tabular data, not for text")


def width_scale(spec: ExperimentSpec) -> float:
    """Course presets are exact at capacity 'large'; each level below halves the widths."""
    return 2.0 ** (CAPACITIES.index(spec.capacity) - CAPACITIES.index("large"))


def build_model(spec: ExperimentSpec, info: DatasetInfo) -> Any:
    import keras
    from keras import layers

    check_compatible(spec, info)
    reg = keras.regularizers.L2(spec.l2) if spec.l2 else None
    inputs = keras.Input(info.input_shape, name="input")
    x = inputs
    if info.modality == "image":
        x = layers.Rescaling(1 / 255, name="rescale")(x)
    for layer in augmentation_layers(spec, info):
        x = layer(x)
    body = {"mlp": _mlp, "cnn": _cnn, "sign_cnn": _sign_cnn, "vgg_cifar": _vgg}[spec.arch]
    x = body(x, spec, reg)
    outputs = _head(x, info, reg)
    return keras.Model(inputs, outputs, name=f"{spec.arch}_{spec.capacity}")


def augmentation_layers(spec: ExperimentSpec, info: DatasetInfo) -> list:
    """Keras preprocessing layers: active in training, identity at inference."""
    from keras import layers

    if spec.augment == "none":
        return []
    if info.modality == "tabular":
        return [layers.GaussianNoise(NOISE_AUGMENT[spec.augment], name="noise")]
    from core.augment import RandomShift

    build = {
        "flip": lambda _: layers.RandomFlip("horizontal", name="flip"),
        "shift": lambda f: RandomShift(f, name="shift"),
        "rotation": lambda f: layers.RandomRotation(f, fill_mode="constant", name="rotate"),
        "zoom": lambda f: layers.RandomZoom(f, fill_mode="constant", name="zoom"),
    }
    steps = image_augmentation(spec.augment, info.flip_ok)
    return [build[step](strength) for step, strength in steps.items()]


def _dense_block(x, units: int, spec: ExperimentSpec, reg, activation="relu", name=""):
    from keras import layers

    x = layers.Dense(units, kernel_regularizer=reg, name=f"{name}dense")(x)
    if spec.batchnorm:
        x = layers.BatchNormalization(name=f"{name}bn")(x)
    x = layers.Activation(activation, name=f"{name}{activation}")(x)
    if spec.dropout:
        x = layers.Dropout(spec.dropout, name=f"{name}dropout")(x)
    return x


def _conv(x, filters: int, spec: ExperimentSpec, reg, activation, name: str):
    from keras import layers

    x = layers.Conv2D(filters, 3, padding="same", kernel_regularizer=reg, name=f"{name}conv")(x)
    if spec.batchnorm:
        x = layers.BatchNormalization(name=f"{name}bn")(x)
    return layers.Activation(activation, name=f"{name}act")(x)


def _mlp(x, spec: ExperimentSpec, reg):
    from keras import layers

    if len(x.shape) > 2:
        x = layers.Flatten(name="flatten")(x)
    for i, units in enumerate(MLP_UNITS[spec.capacity]):
        x = _dense_block(x, units, spec, reg, name=f"h{i + 1}_")
    return x


def _cnn(x, spec: ExperimentSpec, reg):
    """VGG-style: blocks of 3x3 convolutions then a 2x2 max-pool; Dropout only in the dense
    head, as the course does."""
    from keras import layers

    filters, convs, dense = CNN_LAYOUT[spec.capacity]
    for b, f in enumerate(filters):
        for c in range(convs):
            x = _conv(x, f, spec, reg, "relu", name=f"b{b + 1}c{c + 1}_")
        x = layers.MaxPooling2D(2, padding="same", name=f"b{b + 1}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    return _dense_block(x, dense, spec, reg, name="h1_")


def _sign_cnn(x, spec: ExperimentSpec, reg):
    """The sign-language CNN of shared/seeds/003 (264,049 parameters at 28x28x1, 24 classes,
    with BatchNorm and Dropout on), in the course's own layer order: BatchNorm after the
    ReLU, Dropout 0.2 after the second convolution and 0.3 in the head. `dropout` sets the
    head's rate; the convolution's keeps the course's 2:3 ratio."""
    from keras import layers

    scale = width_scale(spec)
    for i, filters in enumerate((75, 50, 25)):
        x = layers.Conv2D(
            max(1, round(filters * scale)),
            3,
            padding="same",
            activation="relu",
            kernel_regularizer=reg,
            name=f"conv{i + 1}",
        )(x)
        if i == 1 and spec.dropout:
            x = layers.Dropout(round(spec.dropout * 2 / 3, 3), name="conv2_dropout")(x)
        if spec.batchnorm:
            x = layers.BatchNormalization(name=f"bn{i + 1}")(x)
        x = layers.MaxPooling2D(2, strides=2, padding="same", name=f"pool{i + 1}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(
        max(1, round(512 * scale)), activation="relu", kernel_regularizer=reg, name="dense"
    )(x)
    if spec.dropout:
        x = layers.Dropout(spec.dropout, name="dense_dropout")(x)
    return x


def _vgg(x, spec: ExperimentSpec, reg):
    """The VGG-style CIFAR-10 CNN of shared/seeds/001: 13 convolutions, BatchNorm before
    LeakyReLU, Dropout only in the hidden dense layer."""
    from keras import layers

    scale = width_scale(spec)
    block, conv = 1, 1
    for item in VGG_LAYOUT:
        if item == "M":
            x = layers.MaxPooling2D(2, padding="same", name=f"b{block}_pool")(x)
            block, conv = block + 1, 1
            continue
        x = _conv(x, max(1, round(item * scale)), spec, reg, "leaky_relu", name=f"b{block}c{conv}_")
        conv += 1
    x = layers.Flatten(name="flatten")(x)
    return _dense_block(
        x, max(1, round(VGG_DENSE * scale)), spec, reg, activation="leaky_relu", name="h1_"
    )


def _head(x, info: DatasetInfo, reg):
    """Output and loss follow the problem type (the course's table): sigmoid + binary
    cross-entropy, softmax + categorical cross-entropy, linear + MSE."""
    from keras import layers

    if info.task == "binary":
        return layers.Dense(1, activation="sigmoid", kernel_regularizer=reg, name="output")(x)
    if info.task == "multiclass":
        return layers.Dense(
            info.num_classes, activation="softmax", kernel_regularizer=reg, name="output"
        )(x)
    return layers.Dense(1, kernel_regularizer=reg, name="output")(x)
