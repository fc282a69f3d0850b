"""A comparison as a user describes it — a dataset (or a teacher preset), variants and their
strengths, seeds, changes to the base network, or a sweep along one knob — its round trip
through a URL's query string, and the specs it means.

It owns the defaults: a knob left at None follows the dataset's (or the lesson's) default,
so links stay short and keep following them. Ranges come from core.settings; a link's
value outside them is clamped or snapped, with a note, never an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from core import datasets, lessons
from core.cache import Run, RunStore
from core.datasets import DatasetError
from core.settings import SETTINGS, SWEEPABLE
from core.spec import (
    DEFAULT_VARIANTS,
    STRENGTHS,
    VARIANTS,
    ExperimentSpec,
    SpecError,
    sweep_specs,
    variant_specs,
    variants_for,
)

DEFAULT_DATASET = "digits"
# The base network and data knobs a user may change; in a lesson only epochs apply.
BASE_KNOBS = ("capacity", "widths", "train_size", "label_noise", "data_noise", "data_size",
              "patience", "epochs")  # fmt: skip
LESSON_KNOBS = ("epochs", "patience")
MAX_SWEEP_VALUES = 10
QUERY = {"dataset": "ds", "preset": "preset", "variants": "v", "sweep": "sweep", "values": "vals",
         "scale": "scale", "view": "view"}  # fmt: skip
SCALES = ("linear", "log")  # the loss axis
# Which losses the curves draw: the data loss alone, in inference mode, on both sets (the
# app's view), or what Keras's fit prints (core.metrics.printed).
VIEWS = ("data", "keras")


@dataclass(frozen=True)
class Entry:
    """One run of a comparison: its label, what it is, its cache key, and the run if the
    cache has it."""

    label: str
    spec: ExperimentSpec
    key: str
    run: Run | None


@dataclass(frozen=True)
class Comparison:
    dataset: str = DEFAULT_DATASET
    preset: str = ""  # a teacher preset brings its own dataset, variants or sweep
    variants: tuple[str, ...] = DEFAULT_VARIANTS
    seeds: int = 1  # seeds 0 .. seeds-1
    # Strengths of the named variants; None: the table's default strength.
    l2: float | None = None
    l1: float | None = None
    dropout: float | None = None
    augment: str | None = None
    # The base network and data; None: the dataset's (or the lesson's) default.
    capacity: str | None = None
    widths: str | None = None
    train_size: int | None = None
    label_noise: float | None = None
    data_noise: float | None = None
    data_size: int | None = None
    patience: int | None = None
    epochs: int | None = None
    # A sweep along one knob instead of variants.
    sweep: str = ""
    values: tuple = ()
    # How the curves are drawn; "" for the view: the lesson's, else "data".
    scale: str = "linear"
    view: str = ""

    # --- what it means ------------------------------------------------------------

    @property
    def lesson(self) -> lessons.Lesson | None:
        return lessons.lesson(self.preset) if self.preset else None

    @property
    def dataset_name(self) -> str:
        return self.lesson.dataset if self.lesson else self.dataset

    def knobs(self) -> tuple[str, ...]:
        """The base knobs that apply here (a lesson fixes the rest; generated datasets
        alone have a noise level and a size)."""
        if self.lesson:
            return tuple(k for k in LESSON_KNOBS if k != self.sweep_knob())
        generated = datasets.resolve(self.dataset).generated
        return tuple(
            k for k in BASE_KNOBS
            if k != self.sweep and (generated or k not in ("data_noise", "data_size"))
        )  # fmt: skip

    def strengths(self) -> dict[str, Any]:
        return {k: getattr(self, k) if getattr(self, k) is not None else SETTINGS[k].strength
                for k in STRENGTHS}  # fmt: skip

    def shown_strengths(self) -> tuple[str, ...]:
        """The strength sliders that change something here: a lesson's named variants, or
        the chosen variants of a free comparison (no slider that does nothing)."""
        if self.is_sweep():
            return ()
        return lessons.strengths_used(self.lesson.variants if self.lesson else self.variants)

    def base_spec(self, seed: int = 0) -> ExperimentSpec:
        overrides = {k: getattr(self, k) for k in self.knobs() if getattr(self, k) is not None}
        if self.lesson:
            return self.lesson.base_spec(seed, **overrides)
        return datasets.base_spec(self.dataset, seed=seed, **overrides)

    def value(self, name: str) -> Any:
        """What a knob is now, defaults included: what its widget shows."""
        if name in STRENGTHS:
            return self.strengths()[name]
        if name == "seeds":
            return self.seeds
        return getattr(self.base_spec(), name)

    def with_value(self, name: str, value: Any) -> Comparison:
        """This comparison with one knob changed; a knob set to its default is forgotten,
        so that it keeps following the default."""
        if name in STRENGTHS:
            default = SETTINGS[name].strength
        elif name in BASE_KNOBS:
            default = getattr(replace(self, **{name: None}).base_spec(), name)
        else:
            return replace(self, **{name: value})
        return replace(self, **{name: None if value == default else value})

    def allowed_variants(self) -> tuple[str, ...]:
        return variants_for(datasets.info(self.dataset_name).modality)

    def labelled_specs(self) -> list[tuple[str, ExperimentSpec]]:
        """(label, spec) for every variant (or sweep value) and seed, in display order."""
        out = []
        for seed in range(self.seeds):
            base = self.base_spec(seed)
            if self.lesson:
                out += self.lesson.specs(base, **self.strengths())
            elif self.sweep:
                out += sweep_specs(base, self.sweep, self.values)
            else:
                out += variant_specs(base, self.variants, **self.strengths())
        return out

    def entries(self, store: RunStore) -> list[Entry]:
        """Every run of the comparison with its key and cached run, in display order: the
        one list a page builds, once."""
        from core.runner import run_key

        labelled = self.labelled_specs()
        keys = [run_key(spec) for _, spec in labelled]
        runs = store.load_many(keys)
        return [Entry(label, spec, key, runs.get(key))
                for (label, spec), key in zip(labelled, keys, strict=True)]  # fmt: skip

    def labels(self) -> list[str]:
        return list(dict.fromkeys(label for label, _ in self.labelled_specs()))

    def is_sweep(self) -> bool:
        return bool(self.sweep or (self.lesson and self.lesson.sweep))

    def loss_view(self) -> str:
        """Which losses the curves draw (VIEWS): the link's choice, else the lesson's."""
        return self.view or (self.lesson.view if self.lesson else "data")

    def sweep_knob(self) -> str:
        return self.lesson.sweep if self.lesson and self.lesson.sweep else self.sweep

    def claim_text(self, runs: Sequence[Run] = ()) -> str | None:
        """The lesson's text with its numbers filled in from the data (as cached runs
        recorded them, if given); for a dataset's default comparison, its checked default
        claim; otherwise None."""
        if self.lesson:
            text = self.lesson.fill(self.base_spec(), runs)
            checked = self.lesson.base_spec()
            if self.epochs not in (None, checked.epochs):
                text += (f" (Checked at {checked.epochs} epochs; at {self.epochs} it may not "
                         "hold.)")  # fmt: skip
            return text
        if self == Comparison(dataset=self.dataset, seeds=self.seeds):
            default = lessons.default_lesson(self.dataset)
            return default.fill(self.base_spec(), runs) if default else None
        return None

    # --- links ----------------------------------------------------------------------

    def to_query(self) -> dict[str, str]:
        """Only what differs from the defaults, with short names."""
        default = Comparison()
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value == getattr(default, f.name) or value is None:
                continue
            key = QUERY.get(f.name) or SETTINGS[f.name].url
            text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
            out[key] = text
        return out

    @classmethod
    def from_query(cls, params: dict[str, str]) -> tuple[Comparison, list[str]]:
        """A comparison from a URL. Links come from strangers: a value out of range is
        clamped to it, an unusable one dropped, each with a note; never an exception."""
        notes: list[str] = []
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = QUERY.get(f.name) or SETTINGS[f.name].url
            raw = params.get(key)
            if raw is None:
                continue
            try:
                values[f.name], note = _parse(f.name, raw, values)
            except (ValueError, SpecError, DatasetError, KeyError) as exc:
                notes.append(f"ignored {key}={raw[:60]!r}: {str(exc).strip(chr(39))}")
                continue
            if note:
                notes.append(note)
        comparison = cls(**values)
        return comparison.fitted(notes), notes

    def fitted(self, notes: list[str]) -> Comparison:
        """Knobs that make sense only for this dataset: variants it allows, a training size
        within its training split (all of it means all: one cache entry, not two)."""
        try:
            allowed = self.allowed_variants()
            changes: dict[str, Any] = {}
            dropped = [v for v in self.variants if v not in allowed]
            if dropped:
                notes.append(f"{', '.join(dropped)} do(es) not apply to this dataset")
                changes["variants"] = tuple(v for v in self.variants if v in allowed) or (
                    "baseline",
                )
            if self.train_size and not self.lesson:
                available = len(datasets.for_spec(self.base_spec()).y_train)
                if self.train_size >= available:
                    notes.append(
                        f"n={self.train_size} is more than the {available:,} training "
                        "examples there are; using all of them"
                    )
                    changes["train_size"] = 0
            fitted = replace(self, **changes)
            return fitted.with_value("train_size", 0) if changes.get("train_size") == 0 else fitted
        except (DatasetError, SpecError) as exc:
            notes.append(str(exc))
            return Comparison()


def _parse(name: str, raw: str, so_far: dict) -> tuple[Any, str | None]:
    if name == "dataset":
        datasets.check_allowed(raw)
        datasets.resolve(raw)  # resolvable, or DatasetError
        return raw, None
    if name == "preset":
        if raw not in lessons.LESSONS:
            raise ValueError(f"presets are {', '.join(lessons.LESSONS)}")
        return raw, None
    if name == "variants":
        names = tuple(dict.fromkeys(v.strip() for v in raw.split(",") if v.strip()))
        unknown = [v for v in names if v not in VARIANTS]
        if unknown or not names:
            raise ValueError(f"variants are {', '.join(VARIANTS)}")
        return names, None
    if name == "sweep":
        if raw not in SWEEPABLE:
            raise ValueError(f"a sweep runs along one of {', '.join(SWEEPABLE)}")
        return raw, None
    if name in ("scale", "view"):
        allowed = SCALES if name == "scale" else VIEWS
        if raw not in allowed:
            raise ValueError(f"choose from {', '.join(allowed)}")
        return raw, None
    if name == "values":
        knob = so_far.get("sweep")
        if not knob:
            raise ValueError("values need a sweep=")
        return sweep_values(knob, raw)
    return SETTINGS[name].parse(raw)


def sweep_values(knob: str, raw: str) -> tuple[tuple, str | None]:
    """Sweep values typed by a user or a link ("0, 1e-4, 1e-3"): parsed, clamped, ordered."""
    setting = SETTINGS[knob]
    parsed, notes = [], []
    for text in [t for t in raw.split(",") if t.strip()][:MAX_SWEEP_VALUES]:
        value, note = setting.parse(text)
        parsed.append(value)
        if note:
            notes.append(note)
    if len(set(parsed)) < 2:
        raise ValueError("a sweep needs at least two different values")
    ordered = tuple(sorted(set(parsed), key=_order(knob)))
    return ordered, "; ".join(notes) or None


def _order(knob: str):
    setting = SETTINGS[knob]
    if setting.choices:
        return setting.choices.index
    return lambda v: float("inf") if knob == "train_size" and v == 0 else v
