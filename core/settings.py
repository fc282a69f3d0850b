"""Every knob once: its type, range, steps, default, label, help, URL key and command-line flag.

The sidebar builds its widgets from this table, links are parsed with it, the command line
takes its flags from it and ExperimentSpec.validate checks against it: a range changed here
changes everywhere. Per-dataset defaults come from the dataset registry (core.datasets).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The allowed values of the choice knobs. core.models builds one architecture per name.
CAPACITIES = ("tiny", "small", "medium", "large", "huge")
AUGMENTATIONS = ("none", "light", "strong")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
ARCHITECTURES = ("mlp", "cnn", "sign_cnn", "vgg_cifar")


class SpecError(ValueError):
    """A value that cannot describe a run; the message says which setting and why."""


def convert(kind: type, text: str) -> Any:
    """A value of this kind from text (a link, a flag, a hand-edited file): ValueError
    when it is not one. NaN and infinities never make sense in a spec."""
    if kind is bool:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError("use true or false")
    if kind is int:
        number = float(text)  # "1e3" is a fine way to say 1000
        if not math.isfinite(number) or not number.is_integer():
            raise ValueError("a whole number is needed")
        return int(number)
    if kind is float:
        number = float(text)
        if not math.isfinite(number):
            raise ValueError("a finite number is needed")
        return number + 0.0  # -0 is 0: one value, one cache key (numpy refuses scale=-0.0)
    return text


MAX_LAYERS, MAX_UNITS = 6, 4096  # what a hand-written list of hidden layers may ask for


def layer_widths(text: str) -> tuple[int, ...]:
    """Hidden layer widths from text ("512, 256"); () for no text. ValueError unless it
    names 1 to MAX_LAYERS layers of 1 to MAX_UNITS units each."""
    if not text.strip():
        return ()
    try:
        units = tuple(convert(int, part.strip()) for part in text.split(","))
    except ValueError:
        raise ValueError("write whole numbers separated by commas, such as 512,256") from None
    if len(units) > MAX_LAYERS:
        raise ValueError(f"at most {MAX_LAYERS} layers")
    if not all(1 <= u <= MAX_UNITS for u in units):
        raise ValueError(f"each layer has 1 to {MAX_UNITS} units")
    return units


def _widths_spelling(text: str) -> str:
    # One spelling per network ("512, 256" is "512,256"): equal networks, equal cache keys.
    return ",".join(map(str, layer_widths(text)))


L2_STEPS = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
L1_STEPS = (1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)


@dataclass(frozen=True)
class Setting:
    name: str  # the ExperimentSpec field (or "seeds", which is per comparison)
    label: str
    help: str
    kind: type  # int | float | str | bool
    low: float | None = None
    high: float | None = None
    step: float | None = None  # a widget's step
    steps: tuple = ()  # the only values a slider offers; link values snap to the nearest
    choices: tuple = ()
    off: Any = None  # the value meaning off / all / not set, allowed outside [low, high]
    off_label: str = ""
    strength: Any = None  # what a named variant that turns this on uses by default
    url: str = ""
    cli: str = ""
    sweep: tuple = ()  # the values a sweep of this knob offers by default
    spelling: Callable[[str], str] | None = None  # text kinds: the one way to write a value

    def describe(self, value: Any) -> str:
        if value == self.off and self.off_label:
            return self.off_label
        if self.kind is float:
            return f"{value:g}"
        return str(value)

    def check(self, value: Any) -> None:
        """SpecError when the value is outside the table."""
        if self.off is not None and value == self.off:
            return
        if self.spelling:
            try:
                written = self.spelling(value)
            except ValueError as exc:
                raise SpecError(f"{self.name}: {exc}") from None
            if written != value:
                raise SpecError(f"{self.name} must be written {written!r}")
        if self.choices and value not in self.choices:
            raise SpecError(f"{self.name} must be one of {', '.join(map(str, self.choices))}")
        if self.low is not None and not self.low <= value <= self.high:
            bounds = f"between {self.describe(self.low)} and {self.describe(self.high)}"
            if self.off is not None:
                bounds += f" (or {self.describe(self.off)})"
            raise SpecError(f"{self.name} must be {bounds}")

    def parse(self, raw: str) -> tuple[Any, str | None]:
        """A value from text a stranger typed (a link, a flag): converted, then clamped to
        the range or snapped to the steps with a note saying so. ValueError when the text
        is not a value of this kind at all."""
        if self.off_label and raw.strip().lower() == self.off_label:
            return self.off, None  # "off", "all": what describe() writes for the off value
        value = self.read(raw)
        if self.choices:
            if value not in self.choices and value != self.off:
                raise ValueError(f"choose from {', '.join(map(str, self.choices))}")
            return value, None
        if self.kind is bool:
            return value, None
        if self.off_label and value == self.off:  # 0, -0, 1e-999: the off value, named
            return self.off, None
        span = f"{self.describe(self.low)} to {self.describe(self.high)}"
        if self.low is not None and value < self.low:
            return self._fixed(self.low, raw, f"below the {self.label.lower()} range ({span})")
        if self.high is not None and value > self.high:
            return self._fixed(self.high, raw, f"above the {self.label.lower()} range ({span})")
        if self.steps and value not in self.steps:
            nearest = min(self.steps, key=lambda s: abs(math.log(s) - math.log(value)))
            return self._fixed(nearest, raw, f"not one of the {self.label.lower()} steps")
        return value, None

    def read(self, text: str) -> Any:
        """A value of this kind from text, in its one spelling: ValueError if it is none."""
        value = convert(self.kind, text.strip())
        return self.spelling(value) if self.spelling else value

    def _fixed(self, value: Any, raw: str, why: str) -> tuple[Any, str]:
        if self.steps:
            value = min(self.steps, key=lambda s: abs(s - value))
        value = self.kind(value)
        return (
            value,
            f"{self.url or self.name}={raw.strip()} is {why}; using {self.describe(value)}",
        )


_TABLE = [
    Setting(
        "data_noise",
        "Data noise",
        "How far the generated points stray from the clean pattern (standard deviation, in "
        "the data's units).",
        float,
        0.0,
        1.0,
        step=0.05,
        url="noise",
        cli="--noise",
        sweep=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5),
    ),
    Setting(
        "data_size",
        "Points generated",
        "How many training points the generator draws. Validation and test sets are fixed "
        "and large, so their scores are not noise.",
        int,
        20,
        5000,
        step=10,
        off=0,
        url="size",
        cli="--size",
    ),
    Setting(
        "arch",
        "Architecture",
        "A dense network (mlp) or a convolutional one for images.",
        str,
        choices=ARCHITECTURES,
        cli="--arch",
    ),
    Setting(
        "capacity",
        "Network size",
        "How many and how wide the hidden layers are.",
        str,
        choices=CAPACITIES,
        url="cap",
        cli="--capacity",
        sweep=CAPACITIES,
    ),
    Setting(
        "widths",
        "Layer widths",
        "The hidden layers' widths, such as 512,256: the dense network's layers, or a CNN's "
        f"dense head (1 to {MAX_LAYERS} layers of 1 to {MAX_UNITS} units). Empty: the network "
        "size's. The 'less capacity' variant halves them.",
        str,
        off="",
        url="w",
        cli="--widths",
        spelling=_widths_spelling,
    ),
    Setting(
        "l2",
        "L2 strength",
        "The weight of the squared-weights penalty. Too strong and the network underfits.",
        float,
        L2_STEPS[0],
        L2_STEPS[-1],
        steps=L2_STEPS,
        off=0.0,
        off_label="off",
        strength=1e-3,
        url="l2",
        cli="--l2",
        sweep=(1e-5, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1),
    ),
    Setting(
        "l1",
        "L1 strength",
        "The weight of the absolute-weights penalty: it drives many weights to exactly zero.",
        float,
        L1_STEPS[0],
        L1_STEPS[-1],
        steps=L1_STEPS,
        off=0.0,
        off_label="off",
        strength=1e-4,
        url="l1",
        cli="--l1",
        sweep=(1e-6, 1e-5, 1e-4, 1e-3, 1e-2),
    ),
    Setting(
        "dropout",
        "Dropout rate",
        "The fraction of a hidden layer's outputs dropped at each training step.",
        float,
        0.05,
        0.8,
        step=0.05,
        off=0.0,
        off_label="off",
        strength=0.5,
        url="do",
        cli="--dropout",
        sweep=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
    ),
    Setting(
        "dropout_taper",
        "Dropout taper",
        "Each deeper hidden layer drops this fraction of the rate of the layer before it: 1 "
        "keeps one rate everywhere; 0.5 gives the course's MNIST network 0.4, then 0.2.",
        float,
        0.1,
        1.0,
        step=0.05,
        cli="--dropout-taper",
    ),
    Setting(
        "batchnorm",
        "BatchNorm",
        "Normalise each hidden layer's inputs over the batch.",
        bool,
        off=False,
        cli="--batchnorm",
    ),
    Setting(
        "augment",
        "Augmentation",
        "Light: shifts (and flips where a mirrored example keeps its label), or noise on "
        "tables. Strong adds rotation and zoom, or more noise.",
        str,
        choices=AUGMENTATIONS[1:],
        off="none",
        off_label="none",
        strength="light",
        url="aug",
        cli="--augment",
    ),
    Setting(
        "train_size",
        "Training examples",
        "How many training examples to learn from; more data is a regularizer too.",
        int,
        10,
        10**7,
        step=50,
        off=0,
        off_label="all",
        url="n",
        cli="--train-size",
        sweep=(50, 100, 200, 400, 800),
    ),
    Setting(
        "label_noise",
        "Label noise",
        "The fraction of training labels replaced by random ones (validation and test "
        "labels stay clean): a big network memorises them anyway. At 1, every label is "
        "random: nothing is left to learn, yet the network can fit them all.",
        float,
        0.0,
        1.0,
        step=0.05,
        url="ln",
        cli="--label-noise",
        sweep=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
    ),
    Setting(
        "epochs",
        "Epochs",
        "Passes over the training data.",
        int,
        1,
        1000,
        step=1,
        url="ep",
        cli="--epochs",
        sweep=(5, 10, 20, 40, 80),
    ),
    # The command line's alone: a classroom link changes the lesson's knobs, not these.
    Setting(
        "batch_size",
        "Batch size",
        "Examples per training step.",
        int,
        1,
        8192,
        cli="--batch-size",
    ),
    Setting(
        "optimizer",
        "Optimizer",
        "Keras's update rule.",
        str,
        choices=OPTIMIZERS,
        cli="--optimizer",
    ),
    Setting(
        "learning_rate",
        "Learning rate",
        "The optimizer's step size.",
        float,
        1e-5,
        1.0,
        cli="--learning-rate",
    ),
    Setting(
        "patience",
        "Early stopping patience",
        "Mark where Keras's EarlyStopping(patience, restore_best_weights=True) would stop: "
        "after this many epochs without a lower validation loss. 0 is off.",
        int,
        1,
        200,
        step=1,
        off=0,
        off_label="off",
        url="pat",
        cli="--patience",
    ),
    Setting(
        "seed",
        "Seed",
        "Initial weights, Dropout masks and augmentation draws.",
        int,
        0,
        2**31 - 1,
        cli="--seed",
    ),
    Setting(
        "seeds",
        "Seeds",
        "Several seeds draw each variant as a mean with a band: is a difference bigger "
        "than the noise?",
        int,
        1,
        5,
        url="seeds",
        cli="--seeds",
    ),
    Setting(
        "sweep_values",
        "Sweep values",
        "How many values one sweep trains, each a branch of one fused training.",
        int,
        2,
        10,
    ),
    # The server's, not a run's: what one request may ask of the job engine (core.budget).
    Setting(
        "max_cost",
        "Largest request",
        "The most training one request may ask for, in trillions: the sum over its runs of "
        "epochs × training examples × the network's weights (how often a weight meets an "
        "example). A link above it is refused, saying what to reduce.",
        float,
        1e-6,
        1e9,
    ),
]
# Every lesson and every dataset's default comparison fits on one seed (the largest, the
# VGG lesson, costs 60); 40 runs of the huge network for 1,000 epochs on MNIST-5k (102)
# does not. An operator changes it with $OVERFITTING_LAB_MAX_COST.
MAX_COST = 80.0

SETTINGS: dict[str, Setting] = {s.name: s for s in _TABLE}
# The knobs a sweep can run along, in the order the Sweep page offers them.
SWEEPABLE = ("capacity", "l2", "l1", "dropout", "train_size", "label_noise", "epochs", "data_noise")


def check(values: dict[str, Any]) -> None:
    """SpecError for the first value outside its setting's range (names without a setting,
    such as the dataset, are the caller's to check)."""
    for name, value in values.items():
        if name in SETTINGS:
            SETTINGS[name].check(value)
