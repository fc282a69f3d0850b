"""A comparison on screen: what it is (built once per run of a page), its header — title,
the Run or Cancel button, the lesson — and its results, drawn the same way whether the runs
come from the cache or are still growing on a worker."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import streamlit as st

from core import charts, datasets, probes, report
from core.cache import RunStore
from core.comparison import Comparison, Entry
from core.datasets import DatasetError
from core.settings import SETTINGS
from core.spec import SpecError
from ui import app, render
from ui.engine import engine, requester
from ui.render import Curve

S = st.session_state
VALIDATION_POINTS_SHOWN = 250  # of 1,000: enough to see the pattern, few enough to see through


@dataclass
class View:
    comparison: Comparison
    entries: list[Entry]
    title: str
    claim: str | None
    info: datasets.DatasetInfo
    trained_here: set = field(default_factory=set)

    @property
    def labels(self) -> list[str]:
        return list(dict.fromkeys(e.label for e in self.entries))

    @property
    def missing(self) -> list[Entry]:
        return [e for e in self.entries if e.run is None]

    @property
    def epochs(self) -> int:
        return max(e.spec.epochs for e in self.entries)

    @cached_property
    def about(self) -> dict:
        """Titles and file names for exports: what, on which data, how long."""
        name = datasets.resolve(self.comparison.dataset_name).title
        labels = ", ".join(self.labels)
        seeds = self.comparison.seeds
        subtitle = (f"{name} · {labels} · {self.epochs} epochs · "
                    f"{seeds} seed{'s' if seeds > 1 else ''}")  # fmt: skip
        count = f"{len(self.labels)}-{'values' if self.comparison.is_sweep() else 'variants'}"
        file = render.slug(f"{self.comparison.dataset_name}-{count}-{self.epochs}-epochs")
        return {"title": self.title, "subtitle": subtitle, "file": file}

    def curves(self, growing: dict[str, list[dict]] | None = None) -> list[Curve]:
        """Every run's records: finished ones from the cache, the rest as far as they got."""
        out = []
        for e in self.entries:
            records = e.run.history if e.run else (growing or {}).get(e.key)
            if records:
                out.append(Curve(e.label, e.spec.seed, records))
        return out


def open_view(comparison: Comparison) -> View:
    """The comparison's runs and texts; a message (and the end of the page) when it cannot
    be shown."""
    name = comparison.dataset_name
    try:
        dataset = datasets.resolve(name)
        problem = dataset.missing()
        if problem:
            st.title(f"Regularization on {dataset.title}")
            st.warning(problem)
            st.stop()
        entries = comparison.entries(RunStore())
        info = datasets.info(name)
        claim = comparison.claim_text([e.run for e in entries if e.run])
    except (DatasetError, SpecError) as exc:
        st.error(str(exc))
        st.stop()
    lesson = comparison.lesson
    title = lesson.title if lesson else f"Regularization on {dataset.title}"
    return View(comparison, entries, title, claim, info, set(S.get("trained_here", ())))


def header(view: View, busy: bool) -> None:
    """Title and button on one line, the lesson under it, then what is compared."""
    title, button = st.columns([5, 1], vertical_alignment="bottom")
    title.title(view.title)
    if busy:
        button.button("Cancel", key="cancel", on_click=_cancel, args=(view,), width="stretch")
    else:
        todo = len(view.missing)
        button.button(f"Run ({todo} to train)" if todo else "All cached", type="primary",
                      disabled=not todo, key="run", on_click=_submit, args=(view,),
                      width="stretch")  # fmt: skip
    if view.claim:
        st.info(view.claim, icon=":material/school:")
    for problem in (S.pop("run_error", None), _failures(view)):
        if problem:
            st.error(problem)


def status_line(view: View) -> str:
    first = view.entries[0].spec
    cached = sum(e.run is not None for e in view.entries)
    run = view.entries[0].run
    if run and "train_examples" in run.meta:  # as the worker counted: no need to load data
        examples = run.meta["train_examples"]
    else:
        examples = datasets.for_spec(first).train_count(first.train_size)
    kind = "value(s)" if view.comparison.is_sweep() else "variant(s)"
    return (f"{len(view.labels)} {kind} × {view.comparison.seeds} seed(s) · {view.epochs} epochs · "
            f"batch {first.batch_size} · {examples:,} training {view.info.noun} · "
            f"{cached} of {len(view.entries)} run(s) cached")  # fmt: skip


def _failures(view: View) -> str | None:
    failed = engine().status([e.key for e in view.missing]).failed
    return f"Training failed: {next(iter(failed.values()))}" if failed else None


def _submit(view: View) -> None:
    missing = view.missing
    about = {"title": view.title, "query": view.comparison.to_query(), "runs": len(missing)}
    try:
        tasks = engine().submit([e.spec for e in missing], [e.key for e in missing], about,
                                requester())  # fmt: skip
    except Exception as exc:  # no cluster to talk to: say so, keep the page
        S["run_error"] = f"The job engine cannot be reached ({exc}); cached runs still show."
        return
    S.setdefault("my_tasks", {}).update({t: about for t in tasks})
    S.setdefault("trained_here", set()).update(e.key for e in missing)


def _cancel(view: View) -> None:
    engine().withdraw([e.key for e in view.missing], requester())


def loss_scale() -> str:
    return S.get("loss_scale") or "linear"


def results(view: View, curves: Sequence[Curve], key: str, figs: dict | None = None) -> None:
    """Everything below the header: the headline above the fold, then the pictures of
    what each network computes (2-D and 1-D data), small multiples, weights."""
    if not curves:
        st.info(
            "The first epoch is on its way…"
            if key == "live"
            else "Press **Run** to train every variant; the curves grow here epoch by epoch."
        )
        return
    figs = figs or figures(view, curves, panels=key != "live")
    if view.comparison.is_sweep():
        sweep_headline(view, curves, figs, key)
    else:
        render.headline(figs, view.about, key)
    pictures_section(view, curves, key)
    if key == "live":  # the panels are most of a page: drawn once, when training ends
        st.caption("The panel of each variant, its weights and the summary appear when "
                   "training ends.")  # fmt: skip
        return
    render.small_multiples(figs, view.about, key)
    # Drawn on request: a collapsed expander would still send its nine charts with every
    # page load (a fifth of a classroom server's throughput under load).
    if not st.toggle("Weights and penalties", key="show_weights",
                     help="How big the weights grow, their final distribution, the L1/L2 "
                          "penalty."):  # fmt: skip
        return
    with st.container(border=True):
        render.draw(figs["norms"], key=f"{key}-norms")
        st.caption("The size of all kernel weights per epoch. L2 shrinks them; L1 drives many "
                   "to zero; Dropout and BatchNorm change them in their own ways.")  # fmt: skip
        if figs["histograms"]:
            render.grid(figs["histograms"], render.PANELS_PER_ROW, f"{key}-hist")
            st.caption("Final kernel weights, as a share of each network's weights per bin.")
        if figs["penalty"] is not None:
            render.draw(figs["penalty"], key=f"{key}-penalty")
            st.caption(
                "Keras adds this to the loss it minimises (and reports); the curves "
                "above leave it out so variants compare on the same data loss."
            )


def sweep_headline(view: View, curves: Sequence[Curve], figs: dict, key: str) -> None:
    """A sweep's headline: the validation curve (loss against the knob's values) beside
    every value's loss over the epochs."""
    knob = SETTINGS[view.comparison.sweep_knob()]
    short = {e.label: knob.describe(getattr(e.spec, knob.name)) for e in view.entries}
    points = report.sweep_points([(short[c.label], c.records) for c in curves])
    order = list(dict.fromkeys(short[label] for label in view.labels))
    left, right = st.columns(2, gap="medium")
    with left:
        chart = charts.sweep_chart(points, knob.label, order, presentation=app.presentation())
        render.draw(chart, key=f"{key}-sweep")
        render.downloads(lambda: charts.titled(chart, view.title, view.about["subtitle"]),
                         view.about, "validation-curve", f"{key}-sweep")  # fmt: skip
    with right:  # the values alone in the legend, the knob its title: room for the curves
        short_curves = [Curve(short[c.label], c.seed, c.records) for c in curves]
        rows = report.tidy([(c.label, c.seed, c.records) for c in short_curves])
        overlay = charts.overlay(rows, order, loss_scale(), view.epochs, render.HEADLINE,
                                 sweep=True, presentation=app.presentation(),
                                 legend_title=knob.label)  # fmt: skip
        render.draw(overlay, key=f"{key}-overlay")
    st.caption(
        f"Left: final training, validation and test loss for each {knob.label.lower()} "
        "(mean over seeds, bars from the lowest to the highest seed), and the best "
        "validation loss reached. Right: each value's validation (solid) and training "
        "(dashed) loss over the epochs."
    )


def figures(view: View, curves: Sequence[Curve], panels: bool = True) -> dict:
    return render.figures(curves, view.labels, view.epochs, loss_scale(),
                          view.comparison.is_sweep(), app.presentation(), panels,
                          histograms(view.entries))  # fmt: skip


def histograms(entries) -> list[tuple[str, dict]]:
    """Each variant's final kernel weights (seed 0), for the runs that are finished."""
    return [(e.label, e.run.histogram) for e in entries
            if e.run and e.run.histogram and e.spec.seed == 0]  # fmt: skip


def pictures_section(view: View, curves: Sequence[Curve], key: str) -> None:
    """Each variant's decision boundary (2-D classes) or fitted curve (1-D regression) at
    one snapshot epoch, seed 0, with the data drawn on top; nothing for other data."""
    if probes.kind(view.info) is None:  # nothing to draw: and no data loaded to learn that
        return
    probe = next((e.run.probe for e in view.entries if e.run and e.run.probe), None)
    probe = probe or probes.axes(datasets.for_spec(view.entries[0].spec))
    latest = {c.label: [r for r in c.records if "probe" in r] for c in curves if c.seed == 0}
    epochs = sorted({r["epoch"] for rows in latest.values() for r in rows})
    if not epochs:
        return
    st.subheader("What each network computes")
    epoch = epochs[-1]
    if len(epochs) > 1 and all(e.run for e in view.entries):  # scrub a finished comparison
        epoch = st.select_slider("Snapshot at epoch", epochs, value=epochs[-1], key=f"{key}-at")
    points = _points(view, probe["kind"])
    palette = charts.colors(view.labels, view.comparison.is_sweep())
    keys = {e.label: e.key for e in view.entries if e.spec.seed == 0}
    panels = []
    for label, rows in latest.items():
        shown = [r for r in rows if r["epoch"] <= epoch] or rows
        snapshot = shown[-1]["probe"] | {"epoch": shown[-1]["epoch"]}
        panels.append(_picture(keys[label], snapshot["epoch"], label, palette[label],
                               view.info.class_names, probe, snapshot, points))  # fmt: skip
    what = "decision boundaries" if probe["kind"] == "grid" else "fitted curves"
    render.pictures(panels, view.about, what, f"{key}-pictures")
    if probe["kind"] == "grid":
        st.caption("Background: the probability each network gives the red class (blue 0%, "
                   "white 50%, red 100%). Large dots: training points; small faint dots: "
                   "validation points.")  # fmt: skip
    else:
        st.caption("The line: each network's prediction. Dark dots: training points; grey: "
                   "validation points.")  # fmt: skip


@st.cache_data(max_entries=2048, show_spinner=False)
def _picture(key: str, epoch: int, label: str, color: str, classes: tuple, _probe: dict,
             _snapshot: dict, _points: list) -> dict:  # fmt: skip
    """One run's picture at one epoch never changes: built once per server and shared by
    every session watching (the underscored arguments are not hashed: key and epoch say
    what they are)."""
    if _probe["kind"] == "grid":
        return charts.boundary(_probe, _snapshot, _points, label, classes, color)
    return charts.fitted(_probe, _snapshot, _points, label, color)


def _points(view: View, kind: str) -> list[dict]:
    """The training points and a sample of the validation points, in the model's units."""
    data = datasets.for_spec(view.entries[0].spec)
    train = data.training(view.entries[0].spec.train_size)
    rng = random.Random(0)
    val = rng.sample(range(len(data.y_val)), min(VALIDATION_POINTS_SHOWN, len(data.y_val)))
    out = []
    for split, x, y, pick in (("train", train.x_train, train.y_train, range(len(train.y_train))),
                              ("validation", data.x_val, data.y_val, val)):  # fmt: skip
        for i in pick:
            if kind == "grid":
                out.append({"x": float(x[i, 0]), "y": float(x[i, 1]), "split": split,
                            "class": view.info.class_names[int(y[i])]})  # fmt: skip
            else:
                out.append({"x": float(x[i, 0]), "y": float(y[i]), "split": split})
    return out
