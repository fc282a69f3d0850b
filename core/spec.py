"""What one training run is: a frozen, hashable description and the named variants over it.

Ranges, labels and defaults of the fields live in core.settings, the one table every widget,
link, command-line flag and this module's validation read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from core.settings import CAPACITIES, SETTINGS, SpecError, check, convert, layer_widths

__all__ = ["CAPACITIES", "SpecError", "ExperimentSpec"]

# Bump when a change to training or to the stored record makes old cache entries wrong.
SCHEMA_VERSION = 4


@dataclass(frozen=True)
class ExperimentSpec:
    """Everything that changes a result, and nothing else.

    The seed sets initial weights, dropout masks, augmentation draws and the batch order,
    as a rerun of Keras's fit(shuffle=True) changes them all. The split, the training
    subset and the noisy labels belong to the data. Variants of one seed see the same
    examples in the same order (a paired comparison), which is also what lets them train
    fused in one graph.
    """

    dataset: str = "digits"
    data_noise: float = 0.0  # generated datasets: the generator's noise level
    data_size: int = 0  # generated datasets: training points drawn (0 for every other)
    arch: str = "mlp"
    capacity: str = "large"
    widths: str = ""  # hidden layer widths ("512,256"); "" = the capacity's
    l2: float = 0.0
    l1: float = 0.0
    dropout: float = 0.0
    dropout_taper: float = 1.0  # each deeper hidden layer's rate over the one before it
    batchnorm: bool = False
    augment: str = "none"
    train_size: int = 0  # 0 = the whole training split
    label_noise: float = 0.0  # fraction of training labels replaced by random ones
    epochs: int = 30
    batch_size: int = 32
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    patience: int = 0  # early stopping, reported only: 0 = off
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no spaces, so equal specs give equal bytes. Fields
        added since schema 4 are left out while at their defaults: a run cached before they
        existed keeps its key."""
        data = {k: v for k, v in self.to_dict().items()
                if not (k in ADDED_LATER and v == ADDED_LATER[k])}  # fmt: skip
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, raw: Any) -> ExperimentSpec:
        """Build and validate a spec from JSON-like data (the cache, a URL, a CLI)."""
        if not isinstance(raw, dict):
            raise SpecError("a spec must be a JSON object")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(str(k) for k in set(raw) - set(known))
        if unknown:
            raise SpecError(f"unknown spec field(s): {', '.join(unknown)}")
        values = {name: _coerce(name, known[name].type, value) for name, value in raw.items()}
        spec = cls(**values)
        spec.validate()
        return spec

    @classmethod
    def from_json(cls, text: str) -> ExperimentSpec:
        return cls.from_dict(json.loads(text))

    def validate(self) -> None:
        if not self.dataset:
            raise SpecError("dataset must be named")
        check(self.to_dict())

    def key(self, fingerprint: str) -> str:
        """Content address of this run: the spec, the exact data, and the cache schema."""
        text = f"{SCHEMA_VERSION}\n{fingerprint}\n{self.to_json()}"
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def data_params(self) -> dict[str, Any]:
        """What selects the data itself, beyond the dataset's name."""
        return {"noise": self.data_noise, "size": self.data_size}

    def data(self) -> tuple:
        """Which data this trains on: specs that agree on it load the same arrays."""
        return (self.dataset, self.data_noise, self.data_size)

    def fusion_group(self) -> tuple:
        """Specs that agree on this can train as branches of one graph: the same data pool,
        batch size and seed (which orders the batches). Everything else lives inside a
        branch — the training subset and its noisy labels too, and the epochs (a shorter
        run is a prefix of a longer one)."""
        return (*self.data(), self.batch_size, self.seed)

    def branch(self) -> ExperimentSpec:
        """The training this run is a prefix of: runs that differ only in epochs and in
        early stopping's patience (which only reads the curves) train once."""
        return replace(self, epochs=1, patience=0)


ADDED_LATER = {"widths": "", "dropout_taper": 1.0}  # field -> default, see to_json

_KINDS = {"bool": bool, "int": int, "float": float, "str": str}


def _coerce(name: str, type_name: str, value: Any) -> Any:
    # Field types are strings under `from __future__ import annotations`.
    kind = _KINDS[type_name]
    try:
        if isinstance(value, str):
            return convert(kind, value)
        if kind is bool and isinstance(value, int):  # a bool is an int; 0 reads as False
            return bool(value)
        if kind in (int, float) and not isinstance(value, bool):
            number = float(value)
            if math.isfinite(number) and (kind is float or number.is_integer()):
                return number if kind is float else int(value)
        raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise SpecError(f"{name}: {value!r} is not a valid {type_name}") from None


# The lessons' named variants: what each one changes relative to the base spec.
VARIANTS: dict[str, str] = {
    "baseline": "the dataset's default network, no regularization",
    "small": "less capacity: fewer and narrower layers (layer widths given: half as wide)",
    "l1": "L1 weight penalty on every kernel (pushes weights to exactly zero)",
    "l2": "L2 weight penalty on every kernel (shrinks every weight)",
    "dropout": "Dropout after every hidden block",
    "batchnorm": "BatchNorm before every hidden activation",
    "augment": "data augmentation layers in the model",
    "combined": "L2 + Dropout + BatchNorm + augmentation together",
}
# What a new comparison shows: every variant but L1, which is a toggle for the curious.
DEFAULT_VARIANTS = ("baseline", "small", "l2", "dropout", "batchnorm", "augment", "combined")
STRENGTHS = ("l2", "l1", "dropout", "augment")  # what a named variant's strength can be
NEEDS_AUGMENTATION = ("augment", "combined")


def variants_for(modality: str) -> tuple[str, ...]:
    """The named variants that mean something for this kind of data: augmentation is
    defined for images and tables, not for bags of words."""
    if augmentation_applies(modality):
        return tuple(VARIANTS)
    return tuple(v for v in VARIANTS if v not in NEEDS_AUGMENTATION)


def augmentation_applies(modality: str) -> bool:
    return modality != "text"


def smaller_capacity(capacity: str) -> str:
    """The 'small' variant: the 'small' level, or 'tiny' when the base is already small."""
    return "small" if CAPACITIES.index(capacity) > CAPACITIES.index("small") else "tiny"


def narrower(widths: str) -> str:
    """The 'small' variant's widths when the base names its own: every layer half as wide."""
    return ",".join(str(max(1, units // 2)) for units in layer_widths(widths))


def make_variant(base: ExperimentSpec, name: str, **strengths: Any) -> ExperimentSpec:
    """The spec of a named variant over a base spec. Strengths not given (l2, l1, dropout,
    augment) take their defaults from core.settings."""
    s = {k: strengths.get(k, SETTINGS[k].strength) for k in STRENGTHS}
    changes: dict[str, dict[str, Any]] = {
        "baseline": {},
        "small": {"capacity": smaller_capacity(base.capacity), "widths": narrower(base.widths)},
        "l1": {"l1": s["l1"]},
        "l2": {"l2": s["l2"]},
        "dropout": {"dropout": s["dropout"]},
        "batchnorm": {"batchnorm": True},
        "augment": {"augment": s["augment"]},
        "combined": {
            "l2": s["l2"],
            "dropout": s["dropout"],
            "batchnorm": True,
            "augment": s["augment"],
        },
    }
    if name not in changes:
        raise SpecError(f"unknown variant {name!r}; choose from {', '.join(VARIANTS)}")
    spec = replace(base, **changes[name])
    spec.validate()
    return spec


def describe(spec: ExperimentSpec, default_capacity: str) -> str:
    """A short name for a run: the regularizers it has on, with their strengths ("l2 0.01 +
    dropout 0.3"), "baseline" or "combined", and its network size when it is not the
    dataset's default. Epochs, seeds and data have their own columns."""
    on = [
        f"{name} {value:g}" if isinstance(value, float) else name
        for name, value in (("l1", spec.l1), ("l2", spec.l2), ("dropout", spec.dropout))
        if value
    ]
    on += ["batchnorm"] if spec.batchnorm else []
    on += [f"augment {spec.augment}"] if spec.augment != "none" else []
    combined = spec.l2 and spec.dropout and spec.batchnorm and spec.augment != "none"
    name = "combined" if combined and not spec.l1 else " + ".join(on) or "baseline"
    if spec.widths:
        return f"{name} ({spec.widths})"
    return name if spec.capacity == default_capacity else f"{name} ({spec.capacity})"


def variant_specs(base: ExperimentSpec, variants, **strengths) -> list[tuple[str, ExperimentSpec]]:
    """(label, spec) for named variants and (label, overrides) pairs over one base."""
    out = []
    for item in variants:
        if isinstance(item, str):
            out.append((item, make_variant(base, item, **strengths)))
        else:
            label, overrides = item
            spec = replace(base, **overrides)
            spec.validate()
            out.append((label, spec))
    return out


def sweep_label(knob: str, value: Any) -> str:
    return f"{SETTINGS[knob].label} = {SETTINGS[knob].describe(value)}"


def sweep_specs(
    base: ExperimentSpec, knob: str, values: Sequence
) -> list[tuple[str, ExperimentSpec]]:
    """One spec per value of one knob over a base: what a sweep trains, fused."""
    out = []
    for value in values:
        spec = replace(base, **{knob: value})
        spec.validate()
        out.append((sweep_label(knob, value), spec))
    return out
