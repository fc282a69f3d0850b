"""A comparison as a user describes it (dataset, variants, strengths, epochs, seeds, or a
teacher preset), its round trip through a URL's query string, and the specs it means."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from core import datasets, lessons
from core.spec import AUGMENTATIONS, CAPACITIES, VARIANTS, ExperimentSpec, SpecError

DEFAULT_DATASET = "digits"
MAX_SEEDS = 5

# Short query-string names: links stay readable when pasted into a chat.
QUERY = {
    "dataset": "ds",
    "variants": "v",
    "l2": "l2",
    "dropout": "do",
    "augment": "aug",
    "epochs": "ep",
    "seeds": "seeds",
    "preset": "preset",
    "capacity": "cap",
    "train_size": "n",
}


@dataclass(frozen=True)
class Comparison:
    dataset: str = DEFAULT_DATASET
    variants: tuple[str, ...] = lessons.STANDARD
    l2: float = 1e-3
    dropout: float = 0.5
    augment: str = "light"
    epochs: int = 0  # 0: the dataset's default
    seeds: int = 1  # seeds 0 .. seeds-1
    preset: str = ""  # a teacher preset replaces dataset and variants
    capacity: str = ""  # "": the dataset's default
    train_size: int = -1  # -1: the dataset's default; 0: all

    def labelled_specs(self) -> list[tuple[str, ExperimentSpec]]:
        """(variant label, spec) for every variant and seed, in display order."""
        out = []
        for seed in range(self.seeds):
            if self.preset:
                pairs = lessons.lesson(self.preset).specs(seed)
                out += [(label, self._overrides(spec)) for label, spec in pairs]
                continue
            base = self._overrides(datasets.base_spec(self.dataset, seed=seed))
            out += lessons.variant_specs(
                base, self.variants, l2=self.l2, dropout=self.dropout, augment=self.augment
            )
        return out

    def labels(self) -> list[str]:
        return list(dict.fromkeys(label for label, _ in self.labelled_specs()))

    def _overrides(self, spec: ExperimentSpec) -> ExperimentSpec:
        changes: dict[str, Any] = {}
        if self.epochs:
            changes["epochs"] = self.epochs
        if self.capacity and not self.preset:
            changes["capacity"] = self.capacity
        if self.train_size >= 0 and not self.preset:
            changes["train_size"] = self.train_size
        spec = replace(spec, **changes)
        spec.validate()
        return spec

    @property
    def dataset_name(self) -> str:
        return lessons.lesson(self.preset).dataset if self.preset else self.dataset

    def to_query(self) -> dict[str, str]:
        """Only what differs from the defaults, with short names."""
        default = Comparison()
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value != getattr(default, f.name):
                out[QUERY[f.name]] = ",".join(value) if isinstance(value, tuple) else str(value)
        return out

    @classmethod
    def from_query(cls, params: dict[str, str]) -> tuple[Comparison, list[str]]:
        """A comparison from a URL; anything unusable is dropped with a warning, never an
        exception: links come from strangers."""
        warnings: list[str] = []
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = params.get(QUERY[f.name])
            if raw is None:
                continue
            try:
                values[f.name] = _parse(f.name, raw)
            except (ValueError, SpecError, datasets.DatasetError) as exc:
                warnings.append(f"ignored {QUERY[f.name]}={raw!r}: {exc}")
        return cls(**values), warnings


def _parse(name: str, raw: str) -> Any:
    if name == "dataset":
        datasets.check_allowed(raw)
        datasets.resolve(raw)
        return raw
    if name == "variants":
        names = tuple(v for v in raw.split(",") if v)
        unknown = [v for v in names if v not in VARIANTS]
        if unknown or not names:
            raise ValueError(f"variants are {', '.join(VARIANTS)}")
        return names
    if name == "preset":
        if raw and raw not in lessons.LESSONS:
            raise ValueError(f"presets are {', '.join(lessons.LESSONS)}")
        return raw
    if name == "augment" and raw not in AUGMENTATIONS[1:]:
        raise ValueError(f"augmentation is {' or '.join(AUGMENTATIONS[1:])}")
    if name == "capacity" and raw not in CAPACITIES:
        raise ValueError(f"capacity is one of {', '.join(CAPACITIES)}")
    if name in ("augment", "capacity"):
        return raw
    if name in ("l2", "dropout"):
        value = float(raw)
        limit = 1.0 if name == "l2" else 0.95
        if not 0 < value <= limit:
            raise ValueError(f"{name} must be above 0 and at most {limit}")
        return value
    value = int(raw)
    bounds = {"epochs": (0, 1000), "seeds": (1, MAX_SEEDS), "train_size": (-1, 10**7)}[name]
    if not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"must be between {bounds[0]} and {bounds[1]}")
    return value
