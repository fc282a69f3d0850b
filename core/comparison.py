"""A comparison as a user describes it — a dataset (or a teacher preset), variants and their
strengths, seeds, changes to the base network, or a sweep along one knob, and how it is
shown — its round trip through a URL's query string, the one transition every widget makes
(`changed`), and the specs it means.

The link is the app's state: a page parses it into one Comparison, draws every widget from
it, and writes the canonical link of the next Comparison when a widget changes. Canonical
means that a link holds only what differs from the defaults and applies here, so parsing it
gives back the same Comparison. A knob left at None follows the dataset's (or the
lesson's) default. Ranges come from core.settings; a link's value outside them is clamped
or snapped, and one that does not apply is dropped, each with a note, never an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from core import datasets, lessons
from core.cache import Run, RunStore
from core.datasets import DatasetError
from core.report import count, series
from core.settings import SETTINGS, SWEEPABLE, convert
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
GENERATED_ONLY = ("data_noise", "data_size")
# How the curves are shown, not what is trained: these and the seeds survive every switch.
DISPLAY = ("scale", "view", "present")
KEPT = ("seeds", *DISPLAY)
MAX_SWEEP_VALUES = int(SETTINGS["sweep_values"].high)
QUERY = {"dataset": "ds", "preset": "preset", "variants": "v", "sweep": "sweep", "values": "vals",
         "scale": "scale", "view": "view", "present": "present"}  # fmt: skip
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
    variants: tuple[str, ...] = DEFAULT_VARIANTS  # the default: those the data allows
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
    # A sweep along one knob instead of variants; no values: the knob's default values.
    sweep: str = ""
    values: tuple = ()
    # How the curves are drawn; "" for the view: the lesson's, else "data". Presentation
    # mode: larger type, and the link opens with the sidebar closed.
    scale: str = "linear"
    view: str = ""
    present: bool = False

    # --- what it means ------------------------------------------------------------

    @property
    def lesson(self) -> lessons.Lesson | None:
        return lessons.lesson(self.preset) if self.preset else None

    @property
    def dataset_name(self) -> str:
        return self.lesson.dataset if self.lesson else self.dataset

    def knobs(self) -> tuple[str, ...]:
        """The base knobs that apply here: a lesson fixes the rest, generated datasets
        alone have a noise level and a size, regression targets take no label noise."""
        return tuple(k for k in BASE_KNOBS if self._why_not(k) is None)

    def _why_not(self, knob: str) -> str | None:
        """Why a base knob changes nothing here, or None when it does."""
        if self.lesson:
            applies = knob in LESSON_KNOBS and knob != self.sweep_knob()
            return None if applies else "the lesson sets it"
        if knob == self.sweep:
            return "the sweep runs along it"
        if knob in GENERATED_ONLY and not datasets.resolve(self.dataset).generated:
            return "only generated datasets have it"
        if knob == "label_noise" and datasets.info(self.dataset).task == "regression":
            return "label noise is defined for classes, not for regression targets"
        return None

    def sweepable(self) -> tuple[str, ...]:
        """The knobs a free sweep can run along on this data, in the Sweep page's order."""
        free = Comparison(dataset=self.dataset_name)
        return tuple(k for k in SWEEPABLE if k not in BASE_KNOBS or free._why_not(k) is None)

    def chosen(self) -> tuple[str, ...]:
        """The variants compared: those chosen that this data allows."""
        allowed = self.allowed_variants()
        return tuple(v for v in self.variants if v in allowed)

    def strengths(self) -> dict[str, Any]:
        return {k: getattr(self, k) if getattr(self, k) is not None else SETTINGS[k].strength
                for k in STRENGTHS}  # fmt: skip

    def shown_strengths(self) -> tuple[str, ...]:
        """The strength sliders that change something here: a lesson's named variants, or
        the chosen variants of a free comparison (no slider that does nothing)."""
        if self.is_sweep():
            return ()
        return lessons.strengths_used(self.lesson.variants if self.lesson else self.chosen())

    def base_spec(self, seed: int = 0) -> ExperimentSpec:
        overrides = {k: getattr(self, k) for k in self.knobs() if getattr(self, k) is not None}
        if self.lesson:
            return self.lesson.base_spec(seed, **overrides)
        return datasets.base_spec(self.dataset, seed=seed, **overrides)

    def value(self, name: str) -> Any:
        """What a knob is now, defaults included: what its widget shows."""
        if name in STRENGTHS:
            return self.strengths()[name]
        if name in BASE_KNOBS:
            return getattr(self.base_spec(), name)
        if name == "view":
            return self.loss_view()
        if name == "values":
            return self.sweep_values()
        if name == "variants":
            return self.chosen()
        return getattr(self, name)

    def with_value(self, name: str, value: Any) -> Comparison:
        """This comparison with one knob changed; a knob set to its default is forgotten,
        so that it keeps following the default."""
        if name in STRENGTHS:
            default = SETTINGS[name].strength
        elif name in BASE_KNOBS:
            default = getattr(replace(self, **{name: None}).base_spec(), name)
        elif name == "view":
            default = replace(self, view="").loss_view()
        elif name == "values":
            default = replace(self, values=()).sweep_values()
        else:
            return replace(self, **{name: value})
        forgotten = "" if name == "view" else () if name == "values" else None
        return replace(self, **{name: forgotten if value == default else value})

    def size_moves(self) -> list[list[ExperimentSpec]]:
        """The specs, seed 0, of each comparison one Network-size step away: the move a
        teacher makes most that needs loops of other shapes, which a worker warms once this
        comparison has trained (core.worker.warm_soon). None where the size is not a knob
        here, or the layer widths are set by hand."""
        if "capacity" not in self.knobs() or self.widths:
            return []
        sizes = SETTINGS["capacity"].choices
        at = sizes.index(self.value("capacity"))
        moved = [replace(self.with_value("capacity", sizes[i]), seeds=1)
                 for i in (at - 1, at + 1) if 0 <= i < len(sizes)]  # fmt: skip
        return [[spec for _, spec in comparison.labelled_specs()] for comparison in moved]

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
                out += sweep_specs(base, self.sweep, self.sweep_values())
            else:
                out += variant_specs(base, self.chosen(), **self.strengths())
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

    def sweep_values(self) -> tuple:
        """The values swept: the lesson's, the link's, or the knob's default values."""
        if self.lesson:
            return self.lesson.values
        return self.values or (SETTINGS[self.sweep].sweep if self.sweep else ())

    def claim_text(self, runs: Sequence[Run] = ()) -> str | None:
        """The lesson's text with its numbers filled in from the data (as cached runs
        recorded them, if given); for a dataset's default comparison, its checked default
        claim; otherwise None."""
        if self.lesson:
            text = self.lesson.fill(self.base_spec(), runs)
            checked = Comparison(preset=self.preset, seeds=self.seeds)
            moved, was = self.differences(checked), checked.differences(self)
            if moved:  # a teacher's slider: the text stays, and says what it was checked at
                text += (f" (Checked as the lesson sets it, {', '.join(was)}; with "
                         f"{', '.join(moved)} it may not hold.)")  # fmt: skip
            return text
        shown = {k: getattr(self, k) for k in DISPLAY}
        if self == Comparison(dataset=self.dataset, seeds=self.seeds, **shown):
            default = lessons.default_lesson(self.dataset)
            return default.fill(self.base_spec(), runs) if default else None
        return None

    def differences(self, other: Comparison) -> list[str]:
        """What this comparison trains differently from `other` on the same data, in words
        ("Epochs 820", "Variants baseline, dropout"): what tells two trainings of one
        dataset apart. Nothing for other data: its title says that."""
        if (self.dataset_name, self.preset) != (other.dataset_name, other.preset):
            return []
        names = ("variants", "sweep", "values", "seeds", *self.shown_strengths(), *self.knobs())
        return [self._in_words(n) for n in names if self.value(n) != other.value(n)]

    def _in_words(self, name: str) -> str:
        value = self.value(name)
        if name == "variants":
            return "Variants " + ", ".join(value)
        if name == "sweep":
            return f"sweep along {SETTINGS[value].label}"
        if name == "values":
            return "Values " + ", ".join(map(SETTINGS[self.sweep_knob()].describe, value))
        if name == "seeds":
            return count(value, "seed")
        return f"{SETTINGS[name].label} {SETTINGS[name].describe(value)}"

    # --- moving from one comparison to the next --------------------------------------

    def changed(self, name: str, value: Any) -> tuple[Comparison, list[str]]:
        """The comparison after one widget changed to `value`, and notes on what had to be
        adjusted (a training size above the data). Choosing a lesson gives that lesson;
        choosing a dataset gives its defaults, keeping the chosen variants and their
        strengths; the seeds and how the curves are shown survive every choice. Typed
        sweep values that are not values raise ValueError."""
        notes: list[str] = []
        if name in SETTINGS:  # a widget's value passes the link's own check
            value, note = SETTINGS[name].parse(SETTINGS[name].describe(value))
            notes += [note] if note else []
        kept = {k: getattr(self, k) for k in KEPT}
        if name == "preset":  # a lesson, or a free comparison (or sweep) on the lesson's data
            after = Comparison(**({"preset": value} if value else {"dataset": self.dataset_name}),
                               **kept)  # fmt: skip
        elif name == "dataset":
            chosen = {k: getattr(self, k) for k in ("variants", "sweep", "values", *STRENGTHS)}
            after = Comparison(dataset=value, **chosen, **kept)
        elif name == "variants":
            after = replace(self, variants=tuple(value) or ("baseline",))
        elif name == "sweep":
            after = replace(self, sweep=value, values=())
        elif name == "values":
            after = self.with_value("values", sweep_values(self.sweep, value)[0])
        else:
            after = self.with_value(name, value)
        return after.fitted(notes).for_page(self.is_sweep()), notes

    def for_page(self, sweeping: bool) -> Comparison:
        """This comparison as the Sweep page (one knob) or the Compare page (variants) shows
        it: the data, the knobs changed by hand, the seeds and the display stay."""
        if self.is_sweep() == sweeping:
            return self
        kept = {k: getattr(self, k) for k in KEPT}
        if not self.lesson:
            kept |= {k: getattr(self, k) for k in BASE_KNOBS}
        after = Comparison(dataset=self.dataset_name, **kept)
        if sweeping:
            after = replace(after, sweep=after.sweepable()[0])
        return after.fitted([])

    # --- links ----------------------------------------------------------------------

    def to_query(self) -> dict[str, str]:
        """Only what differs from the defaults, with short names."""
        default = Comparison()
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value == getattr(default, f.name) or value is None:
                continue
            text = SETTINGS[f.name].describe if f.name in SETTINGS else str
            if f.name == "values":
                text = SETTINGS[self.sweep].describe
            if isinstance(value, tuple):
                out[_key(f.name)] = ",".join(map(text, value))
            else:
                out[_key(f.name)] = "1" if value is True else text(value)
        return out

    @classmethod
    def from_query(cls, params: dict[str, str]) -> tuple[Comparison, list[str]]:
        """A comparison from a URL. Links come from strangers: a value out of range is
        clamped to it, an unusable one or one that does not apply here dropped, each with
        a note; never an exception."""
        notes: list[str] = []
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = _key(f.name)
            raw = params.get(key)
            if raw is None:
                continue
            try:
                values[f.name], note = _parse(f.name, raw, values)
            except (ValueError, SpecError, DatasetError, KeyError) as exc:
                notes.append(_unusable(f.name, raw, exc))
                continue
            if note:
                notes.append(note)
        comparison = cls(**values)
        try:
            for name, why in comparison._inapplicable().items():
                notes.append(f"ignored {_key(name)}={params[_key(name)][:60]!r}: {why}")
        except (DatasetError, SpecError):
            pass  # fitted() says what is wrong with the dataset
        return comparison.fitted(notes), notes

    def _inapplicable(self) -> dict[str, str]:
        """The fields set here that change nothing, and why: a canonical link leaves them
        out."""
        out = {}
        if self.lesson:
            out |= dict.fromkeys(("dataset", "sweep", "values", "variants"),
                                 "the lesson brings its own")  # fmt: skip
        elif self.sweep:
            out["variants"] = "a sweep compares values, not variants"
            if self.sweep not in self.sweepable():
                out["sweep"] = out["values"] = "it does not apply to this dataset"
        for knob in BASE_KNOBS:
            why = self._why_not(knob)
            if getattr(self, knob) is not None and why:
                out[knob] = why
        shown = self.shown_strengths()
        out |= {k: "no variant here uses it" for k in STRENGTHS if k not in shown}
        default = Comparison()
        return {f: why for f, why in out.items() if getattr(self, f) != getattr(default, f)}

    def fitted(self, notes: list[str]) -> Comparison:
        """The canonical comparison: only what applies here, defaults forgotten, a training
        size within the data (all of it means all: one cache entry, not two), and notes on
        what changed that a user would not expect."""
        try:
            return self._fitted(notes)
        except (DatasetError, SpecError) as exc:
            notes.append(str(exc))
            return Comparison(**{k: getattr(self, k) for k in KEPT})

    def _fitted(self, notes: list[str]) -> Comparison:
        self = self._without_hollow_variants(notes)
        dropped = [v for v in self.variants if v not in self.allowed_variants()]
        if dropped and self.variants != DEFAULT_VARIANTS and not self.is_sweep():
            verb = "does" if len(dropped) == 1 else "do"
            notes.append(f"{series(dropped)} {verb} not apply to this dataset")
        fitted = replace(self, variants=self.chosen() or ("baseline",))
        if fitted.variants == replace(self, variants=DEFAULT_VARIANTS).chosen():
            fitted = replace(fitted, variants=DEFAULT_VARIANTS)  # the default, as allowed
        default = Comparison()
        fitted = replace(fitted, **{f: getattr(default, f) for f in fitted._inapplicable()})
        fitted = fitted._within_the_data(notes)
        for name in (*STRENGTHS, *fitted.knobs(), "view", "values"):
            if getattr(fitted, name) not in (None, "", ()):
                fitted = fitted.with_value(name, getattr(fitted, name))
        return fitted

    def _without_hollow_variants(self, notes: list[str]) -> Comparison:
        """A strength set to off (do=off) would leave its own variant equal to the baseline
        under another name: a free comparison leaves that variant out, and a lesson, whose
        variants are its own, keeps the default strength; each with a note. All combined
        just loses that part."""
        if self.is_sweep():
            return self
        named = self.lesson.variants if self.lesson else self.chosen()
        hollow = [k for k in STRENGTHS if k in named and getattr(self, k) == SETTINGS[k].off]
        for k in hollow:
            setting = SETTINGS[k]
            said = f"{_key(k)}={setting.describe(setting.off)}"
            if self.lesson:
                notes.append(f"{said} would make the lesson's {k} a copy of the baseline; "
                             f"using {setting.describe(setting.strength)}")  # fmt: skip
            else:
                notes.append(f"{said} would make the {k} variant a copy of the baseline: left "
                             "out (turn its strength on to add it again)")  # fmt: skip
        if self.lesson:
            return replace(self, **dict.fromkeys(hollow))
        return replace(self, variants=tuple(v for v in self.variants if v not in hollow))

    def _within_the_data(self, notes: list[str]) -> Comparison:
        """Training sizes at or above the training split's size are all of it."""
        if self.lesson or not (self.train_size or self.sweep == "train_size"):
            return self
        available = len(datasets.for_spec(self.base_spec()).y_train)
        if self.train_size and self.train_size >= available:
            notes.append(f"n={self.train_size} is more than the {available:,} training "
                         "examples there are; using all of them")  # fmt: skip
            return replace(self, train_size=None)
        if self.sweep != "train_size":
            return self
        asked = self.sweep_values()
        within = tuple(sorted({v if 0 < v < available else 0 for v in asked},
                              key=_order("train_size")))  # fmt: skip
        if within == asked:
            return self
        notes.append(f"training sizes from {available:,} up all mean the {available:,} "
                     "training examples there are: merged into one value, all")  # fmt: skip
        return replace(self, values=within if len(within) > 1 else (available // 2, 0))


def _key(name: str) -> str:
    return QUERY.get(name) or SETTINGS[name].url


NUMBERS = {int: "a whole number", float: "a number"}


def _unusable(name: str, raw: str, exc: Exception) -> str:
    """The note for a link's value that is no value here: "ep=abc is not a whole number;
    using the default", or why it was ignored."""
    kind = SETTINGS[name].kind if name in SETTINGS else None
    if kind in NUMBERS and type(exc) is ValueError:  # the only way a number fails to parse
        return f"{_key(name)}={raw[:60]} is not {NUMBERS[kind]}; using the default"
    return f"ignored {_key(name)}={raw[:60]!r}: {str(exc).strip(chr(39))}"


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
    if name == "present":
        return convert(bool, raw.strip()), None
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
