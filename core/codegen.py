"""The Keras code that builds, compiles and trains a spec's model, ready for a notebook.

The course is taught in code, so the Model page shows this next to the summary. It mirrors
core.models.build_model layer for layer; a test executes it and compares.
"""

from __future__ import annotations

from pathlib import Path

from core.datasets.base import DatasetInfo
from core.models import (
    CNN_LAYOUT,
    MLP_UNITS,
    NOISE_AUGMENT,
    VGG_DENSE,
    VGG_LAYOUT,
    check_compatible,
    image_augmentation,
    width_scale,
)
from core.optimizers import RMSPROP_RHO, SGD_MOMENTUM
from core.spec import ExperimentSpec

LOSSES = {
    "binary": '"binary_crossentropy"',
    "multiclass": '"sparse_categorical_crossentropy"',  # integer labels, no one-hot
    "regression": '"mse"',
}


def keras_code(spec: ExperimentSpec, info: DatasetInfo) -> str:
    check_compatible(spec, info)
    reg = ", kernel_regularizer=l2" if spec.l2 else ""
    layers = [f"keras.Input(shape={tuple(info.input_shape)})"]
    if info.modality == "image":
        layers.append("layers.Rescaling(1 / 255)")
    layers += _augmentation(spec, info)
    layers += {"mlp": _mlp, "cnn": _cnn, "sign_cnn": _sign_cnn, "vgg_cifar": _vgg}[spec.arch](
        spec, reg, info
    )
    layers += _head(info, reg)
    body = "\n".join(_line(layer) for layer in layers)
    header = ["import keras", "from keras import layers", ""]
    if any(layer.startswith("RandomShift(") for layer in layers):
        header += [_random_shift_source(), "", ""]
    if spec.l2:
        header.append(f"l2 = keras.regularizers.L2({spec.l2:g})  # on every kernel")
    metrics = ', metrics=["accuracy"]' if info.task != "regression" else ""
    return "\n".join(
        [
            *header,
            f"keras.utils.set_random_seed({spec.seed})",
            "",
            "model = keras.Sequential([",
            body,
            "])",
            f"model.compile(optimizer={_optimizer(spec)}, loss={LOSSES[info.task]}{metrics})",
            "model.summary()",
            "",
            "history = model.fit(",
            "    x_train, y_train,",
            "    validation_data=(x_val, y_val),  # a validation split, never the test set",
            f"    epochs={spec.epochs}, batch_size={spec.batch_size},",
            ")",
            "# Note: with L2, Keras's loss and val_loss include the penalty; compare variants on",
            "# the cross-entropy alone (add a crossentropy metric) as this app does.",
        ]
    )


def _random_shift_source() -> str:
    """core/augment.py's RandomShift, as written there (read, not imported: importing it
    would import Keras into the web server)."""
    text = (Path(__file__).with_name("augment.py")).read_text()
    return "import tensorflow as tf\n\n\n" + text[text.index("@keras.saving") :].strip().replace(
        "        import tensorflow as tf\n\n", ""
    )


def _line(layer: str) -> str:
    """One list item; a trailing comment goes after the comma."""
    code, _, comment = layer.partition("  # ")
    return f"    {code}," + (f"  # {comment}" if comment else "")


def _optimizer(spec: ExperimentSpec) -> str:
    if spec.optimizer == "sgd":
        return f"keras.optimizers.SGD({spec.learning_rate:g}, momentum={SGD_MOMENTUM})"
    if spec.optimizer == "rmsprop":
        return f"keras.optimizers.RMSprop({spec.learning_rate:g}, rho={RMSPROP_RHO})"
    return f"keras.optimizers.Adam({spec.learning_rate:g})"


def _augmentation(spec: ExperimentSpec, info: DatasetInfo) -> list[str]:
    if spec.augment == "none":
        return []
    if info.modality == "tabular":
        return [f"layers.GaussianNoise({NOISE_AUGMENT[spec.augment]})  # training only"]
    code = {
        "flip": lambda _: 'layers.RandomFlip("horizontal")',
        "shift": lambda f: f"RandomShift({f})  # defined above",
        "rotation": lambda f: f'layers.RandomRotation({f}, fill_mode="constant")',
        "zoom": lambda f: f'layers.RandomZoom({f}, fill_mode="constant")',
    }
    steps = image_augmentation(spec.augment, info.flip_ok)
    return [code[step](strength) for step, strength in steps.items()]


def _dense_block(units: int, spec: ExperimentSpec, reg: str, activation: str = "relu"):
    out = [f"layers.Dense({units}{reg})"]
    if spec.batchnorm:
        out.append("layers.BatchNormalization()  # before the activation")
    out.append(f'layers.Activation("{activation}")')
    if spec.dropout:
        out.append(f"layers.Dropout({spec.dropout:g})")
    return out


def _conv(filters: int, spec: ExperimentSpec, reg: str, activation: str):
    out = [f'layers.Conv2D({filters}, 3, padding="same"{reg})']
    if spec.batchnorm:
        out.append("layers.BatchNormalization()")
    return out + [f'layers.Activation("{activation}")']


def _mlp(spec: ExperimentSpec, reg: str, info: DatasetInfo) -> list[str]:
    out = ["layers.Flatten()"] if len(info.input_shape) > 1 else []
    for units in MLP_UNITS[spec.capacity]:
        out += _dense_block(units, spec, reg)
    return out


def _cnn(spec: ExperimentSpec, reg: str, info: DatasetInfo) -> list[str]:
    filters, convs, dense = CNN_LAYOUT[spec.capacity]
    out = []
    for f in filters:
        for _ in range(convs):
            out += _conv(f, spec, reg, "relu")
        out.append('layers.MaxPooling2D(2, padding="same")')
    out.append("layers.Flatten()")
    return out + _dense_block(dense, spec, reg)


def _sign_cnn(spec: ExperimentSpec, reg: str, info: DatasetInfo) -> list[str]:
    scale = width_scale(spec)
    out = []
    for i, filters in enumerate((75, 50, 25)):
        out.append(
            f'layers.Conv2D({max(1, round(filters * scale))}, 3, padding="same", '
            f'activation="relu"{reg})'
        )
        if i == 1 and spec.dropout:
            out.append(f"layers.Dropout({round(spec.dropout * 2 / 3, 3):g})")
        if spec.batchnorm:
            out.append("layers.BatchNormalization()")
        out.append('layers.MaxPooling2D(2, strides=2, padding="same")')
    out += [
        "layers.Flatten()",
        f'layers.Dense({max(1, round(512 * scale))}, activation="relu"{reg})',
    ]
    if spec.dropout:
        out.append(f"layers.Dropout({spec.dropout:g})")
    return out


def _vgg(spec: ExperimentSpec, reg: str, info: DatasetInfo) -> list[str]:
    scale = width_scale(spec)
    out = []
    for item in VGG_LAYOUT:
        if item == "M":
            out.append('layers.MaxPooling2D(2, padding="same")')
        else:
            out += _conv(max(1, round(item * scale)), spec, reg, "leaky_relu")
    out.append("layers.Flatten()")
    return out + _dense_block(max(1, round(VGG_DENSE * scale)), spec, reg, "leaky_relu")


def _head(info: DatasetInfo, reg: str) -> list[str]:
    if info.task == "binary":
        return [f'layers.Dense(1, activation="sigmoid"{reg})']
    if info.task == "multiclass":
        return [f'layers.Dense({info.num_classes}, activation="softmax"{reg})']
    return [f"layers.Dense(1{reg})"]
