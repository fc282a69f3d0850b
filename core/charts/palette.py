"""One colour per role, in every chart, page and export.

A variant's colour says what it is, read from its spec against the comparison's base spec,
never from its label: baseline black, less capacity orange, L2 blue, L1 pink, Dropout
vermilion, BatchNorm green, augmentation teal, all combined purple; a strength is a shade
of its role's hue (weak light, strong dark). A sweep, or a lesson whose runs differ in a
data knob (more training examples, more label noise), is one sequential palette from the
lowest value to the highest: never a variant's colour. Grey is for what a claim does not
mention; a chart draws those thin, and one click shows them in colour.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

import altair as alt

from core.models import mlp_widths
from core.settings import CAPACITIES, SETTINGS
from core.spec import STRENGTHS, ExperimentSpec

# role -> its colour, or (weak, the default strength, strong) shades of one hue.
ROLES: dict[str, tuple[str, ...]] = {
    "baseline": ("#222222",),
    "small": ("#e69f00",),
    "l1": ("#e9a3c9", "#cc79a7", "#8e2c69"),
    "l2": ("#7fb6e3", "#0072b2", "#0b2f66"),
    "dropout": ("#f08a4b", "#d55e00", "#8a3300"),
    "batchnorm": ("#009e73",),
    "augment": ("#7fd1cf", "#2a9d9a", "#0b5c5a"),
    "combined": ("#7b4fb0",),
}
# Runs that are none of the roles (another architecture, a larger network): in order.
OTHERS = ("#8c564b", "#9a8c00", "#5d6d7e", "#b03a2e")
# Low -> high value: viridis, stopped before its yellow, which vanishes on white.
SEQUENTIAL = ("#440154", "#414487", "#2a788e", "#22a884", "#7ad151")
GREY = "#b4b4b4"
SIZE = ("capacity", "widths")  # how big the network is: a regularizer, not a data series
REGULARIZERS = (*SIZE, *STRENGTHS, "batchnorm")
NOT_WHAT_A_RUN_IS = ("seed", "patience")  # patience only reads the curves


@dataclass(frozen=True)
class Palette:
    """The colour of each label a chart may show (in display order), and which labels it
    stresses: those a lesson's claims name (all, when `focus` is empty)."""

    colours: tuple[tuple[str, str], ...]
    focus: frozenset[str] = frozenset()
    sequential: bool = False  # colours run from the lowest value to the highest

    @property
    def labels(self) -> list[str]:
        return [label for label, _ in self.colours]

    def colour(self, label: str) -> str:
        return dict(self.colours)[label]

    def stressed(self, label: str) -> bool:
        return not self.focus or label in self.focus

    def stressing(self, labels: Iterable[str]) -> Palette:
        return Palette(self.colours, frozenset(labels) & set(self.labels), self.sequential)

    def scale(self) -> alt.Scale:
        """Fixed colours for a chart's colour channel, whichever labels it draws."""
        return alt.Scale(domain=self.labels, range=[c for _, c in self.colours])


def by_value(labels: Sequence[str]) -> Palette:
    """A sweep's values (or a data series), given from the lowest value to the highest:
    evenly along the one sequential palette."""
    n = len(labels)
    return Palette(tuple((label, ramp(SEQUENTIAL, i / max(1, n - 1)))
                         for i, label in enumerate(labels)), sequential=True)  # fmt: skip


def by_role(labelled: Sequence[tuple[str, ExperimentSpec]], base: ExperimentSpec) -> Palette:
    """Each label's colour from what its spec changes against the base spec. Runs that
    differ in a data knob rather than a regularizer are a series, coloured by value."""
    specs = dict(labelled)  # one spec per label: its seeds differ in nothing else
    if series_knob(specs.values(), base):
        return by_value(list(specs))
    others = iter(OTHERS * 3)
    out = []
    for label, spec in specs.items():
        role, strength = role_of(spec, base)
        out.append((label, shade(role, strength) if role else next(others)))
    return Palette(tuple(out))


def series_knob(specs: Iterable[ExperimentSpec], base: ExperimentSpec) -> str | None:
    """The one data knob (training examples, label noise, epochs…) these runs differ in,
    or None when they differ in what the network is."""
    varying = {f.name for spec in specs for f in fields(spec)
               if getattr(spec, f.name) != getattr(base, f.name)}  # fmt: skip
    data = varying - set(REGULARIZERS) - set(NOT_WHAT_A_RUN_IS) - {"arch"}
    return next(iter(data)) if len(data) == 1 and not varying & set(REGULARIZERS) else None


def role_of(spec: ExperimentSpec, base: ExperimentSpec) -> tuple[str | None, float]:
    """What a run is against the base (a key of ROLES, None for none of them) and how
    strong, from 0 (the knob's weakest) through 0.5 (its default) to 1 (its strongest)."""
    changed = {f.name for f in fields(spec) if f.name not in NOT_WHAT_A_RUN_IS
               and getattr(spec, f.name) != getattr(base, f.name)}  # fmt: skip
    if not changed:
        return "baseline", 0.5
    if not changed <= set(REGULARIZERS):
        return None, 0.5
    if changed <= set(SIZE):
        return ("small" if size(spec) < size(base) else None), 0.5
    if len(changed) > 1:
        return ("combined" if not changed & set(SIZE) else None), 0.5
    (knob,) = changed
    return knob, strength(knob, getattr(spec, knob))


def size(spec: ExperimentSpec) -> tuple[int, int]:
    """How big a network is, to tell less capacity from more: its own hidden widths' units
    when it has them (the course's 16-8 against 512-512), else its capacity level's."""
    return sum(mlp_widths(spec)), CAPACITIES.index(spec.capacity)


def strength(knob: str, value) -> float:
    """Where a strength lies: 0.5 at the table's default strength, towards 0 weaker and 1
    stronger, on the knob's own scale (decades for L1 and L2)."""
    setting = SETTINGS[knob]
    if knob not in STRENGTHS:
        return 0.5
    if setting.choices:
        at, default = setting.choices.index(value), setting.choices.index(setting.strength)
        return 0.5 + 0.5 * (at - default) / max(1, len(setting.choices) - 1 - default)
    where = math.log if setting.steps else float  # decades, or the value itself
    low, mid, high = (where(v) for v in (setting.low, setting.strength, setting.high))
    v = where(min(max(value, setting.low), setting.high))
    return 0.5 * (v - low) / (mid - low) if v <= mid else 0.5 + 0.5 * (v - mid) / (high - mid)


def shade(role: str, t: float = 0.5) -> str:
    return ramp(ROLES[role], t)


def ramp(stops: Sequence[str], t: float) -> str:
    """The colour at t in [0, 1] along evenly spaced stops, mixed in RGB."""
    if len(stops) == 1:
        return stops[0]
    t = min(max(t, 0.0), 1.0) * (len(stops) - 1)
    i = min(int(t), len(stops) - 2)
    a, b = _rgb(stops[i]), _rgb(stops[i + 1])
    return "#" + "".join(f"{round(x + (y - x) * (t - i)):02x}" for x, y in zip(a, b, strict=True))


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
