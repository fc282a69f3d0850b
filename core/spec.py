"""What one training run is: a frozen, hashable description and the named variants over it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, fields, replace
from typing import Any

# Bump when a change to training or to the stored record makes old cache entries wrong.
SCHEMA_VERSION = 2

ARCHITECTURES = ("mlp", "cnn", "sign_cnn", "vgg_cifar")
CAPACITIES = ("tiny", "small", "medium", "large", "huge")
AUGMENTATIONS = ("none", "light", "strong")
OPTIMIZERS = ("adam", "sgd", "rmsprop")


class SpecError(ValueError):
    """A spec that cannot describe a run; the message says which field and why."""


@dataclass(frozen=True)
class ExperimentSpec:
    """Everything that changes a result, and nothing else.

    The seed sets initial weights, dropout masks and augmentation draws. The split and the
    batch order belong to the dataset, so every variant of a comparison sees the same data
    in the same order — which is also what lets variants train fused in one graph.
    """

    dataset: str = "digits"
    arch: str = "mlp"
    capacity: str = "large"
    l2: float = 0.0
    dropout: float = 0.0
    batchnorm: bool = False
    augment: str = "none"
    train_size: int = 0  # 0 = the whole training split
    epochs: int = 30
    batch_size: int = 32
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no spaces, so equal specs give equal bytes."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ExperimentSpec:
        """Build and validate a spec from JSON-like data (the cache, a URL, a CLI)."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise SpecError(f"unknown spec field(s): {', '.join(unknown)}")
        values = {}
        for name, value in raw.items():
            values[name] = _coerce(name, known[name].type, value)
        spec = cls(**values)
        spec.validate()
        return spec

    @classmethod
    def from_json(cls, text: str) -> ExperimentSpec:
        return cls.from_dict(json.loads(text))

    def validate(self) -> None:
        checks = [
            (self.arch in ARCHITECTURES, f"arch must be one of {', '.join(ARCHITECTURES)}"),
            (self.capacity in CAPACITIES, f"capacity must be one of {', '.join(CAPACITIES)}"),
            (self.augment in AUGMENTATIONS, f"augment must be one of {', '.join(AUGMENTATIONS)}"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (0.0 <= self.l2 <= 1.0, "l2 must be between 0 and 1"),
            (0.0 <= self.dropout < 1.0, "dropout must be at least 0 and below 1"),
            (self.train_size >= 0, "train_size must be 0 (all) or a positive count"),
            (1 <= self.epochs <= 1000, "epochs must be between 1 and 1000"),
            (1 <= self.batch_size <= 65536, "batch_size must be between 1 and 65536"),
            (0.0 < self.learning_rate <= 10.0, "learning_rate must be above 0 and at most 10"),
            (0 <= self.seed < 2**31, "seed must be between 0 and 2**31-1"),
            (bool(self.dataset), "dataset must be named"),
        ]
        for ok, message in checks:
            if not ok:
                raise SpecError(message)

    def key(self, fingerprint: str) -> str:
        """Content address of this run: the spec, the exact data, and the cache schema."""
        text = f"{SCHEMA_VERSION}\n{fingerprint}\n{self.to_json()}"
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def fusion_group(self) -> tuple:
        """Specs that agree on this can train as branches of one graph: they see the same
        batches for the same number of steps; everything else lives inside a branch."""
        return (self.dataset, self.train_size, self.batch_size, self.epochs)


def _coerce(name: str, type_name: str, value: Any) -> Any:
    # Field types are strings under `from __future__ import annotations`.
    try:
        if type_name == "bool":
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError
            return bool(value)
        if type_name == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if type_name == "float":
            result = float(value)
            if result != result:  # NaN never makes sense in a spec
                raise ValueError
            return result
        return str(value)
    except (TypeError, ValueError):
        raise SpecError(f"{name}: {value!r} is not a valid {type_name}") from None


# The lessons' named variants: what each one changes relative to the base spec.
VARIANTS: dict[str, str] = {
    "baseline": "the dataset's default network, no regularization",
    "small": "less capacity: fewer and narrower layers",
    "l2": "L2 weight penalty on every kernel",
    "dropout": "Dropout after every hidden block",
    "batchnorm": "BatchNorm before every hidden activation",
    "augment": "data augmentation layers in the model",
    "combined": "L2 + Dropout + BatchNorm + augmentation together",
}

DEFAULT_STRENGTHS = {"l2": 1e-3, "dropout": 0.5, "augment": "light"}


def smaller_capacity(capacity: str) -> str:
    """The 'small' variant: the 'small' level, or 'tiny' when the base is already small."""
    return "small" if CAPACITIES.index(capacity) > CAPACITIES.index("small") else "tiny"


def make_variant(
    base: ExperimentSpec,
    name: str,
    *,
    l2: float = DEFAULT_STRENGTHS["l2"],
    dropout: float = DEFAULT_STRENGTHS["dropout"],
    augment: str = DEFAULT_STRENGTHS["augment"],
) -> ExperimentSpec:
    """The spec of a named variant over a base spec, with the given strengths."""
    changes: dict[str, dict[str, Any]] = {
        "baseline": {},
        "small": {"capacity": smaller_capacity(base.capacity)},
        "l2": {"l2": l2},
        "dropout": {"dropout": dropout},
        "batchnorm": {"batchnorm": True},
        "augment": {"augment": augment},
        "combined": {"l2": l2, "dropout": dropout, "batchnorm": True, "augment": augment},
    }
    if name not in changes:
        raise SpecError(f"unknown variant {name!r}; choose from {', '.join(VARIANTS)}")
    spec = replace(base, **changes[name])
    spec.validate()
    return spec
