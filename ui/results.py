"""What a comparison shows under its header: above the fold, the claim's headline — the
variants its claims name, stressed on a loss axis chosen from their settled curves, beside
how big the effect is and the margin each claim holds by — then the pictures of what each
network computes (with a play button), the panels and the weights. Drawn the same way
whether the runs come from the cache or are still growing on a worker.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

import streamlit as st

from core import charts, datasets, lessons, metrics, probes, report
from core.datasets import base as splits
from core.settings import SETTINGS
from ui import render
from ui.render import Claims, Curve, Look
from ui.views import View

S = st.session_state
VALIDATION_POINTS_SHOWN = 100  # a faint sample of 1,000: the pattern, not a cloud over it
TRUTH_POINTS = 400  # noise-free draws that trace the true curve
VIEW_NOTES = {  # why the two views of the losses differ, in one sentence each
    "data": "Both curves are the data loss measured at the end of each epoch with Dropout and "
    "augmentation off and without the L1/L2 penalty, so variants compare like with like; "
    "Keras's fit prints the loss while training, with both on and the penalty added.",
    "keras": "As Keras's fit prints them: loss is the mean over each epoch's steps with "
    "Dropout and augmentation on, plus the L1/L2 penalty, and val_loss adds the penalty too, "
    "so Dropout's training loss can lie above its validation loss and L2 lifts both curves.",
}


def results(view: View, curves: Sequence[Curve], key: str) -> None:
    """Everything below the header: the headline above the fold, then the pictures of
    what each network computes (2-D and 1-D data), small multiples, weights."""
    if not curves:
        st.info("The first epoch is on its way…" if key == "live" else next_step(view))
        return
    look = look_of(view, curves)
    if view.comparison.is_sweep():
        sweep_headline(view, curves, look, key)
        figs = None
    else:
        figs = figures(view, curves, look, panels=key != "live")
        render.headline(figs, view.about, key)
        for line in _unwritten(view):  # body text: as large as the rest on a projector
            st.markdown(line)
    st.caption(VIEW_NOTES[look.view])
    pictures_section(view, curves, key, look)
    if key == "live":  # the panels are most of a page: drawn once, when training ends
        st.caption("The right-hand chart shows each variant once it has trained every "
                   "epoch; the panel of each variant, its weights and the summary appear when "
                   "training ends.")  # fmt: skip
        return
    figs = figs or figures(view, curves, look)
    render.small_multiples(figs, view.about, key)
    _weights(figs, key)


def next_step(view: View) -> str:
    """What to do to see curves: press Run, or, for a request above the server's budget
    (which offers no Run), make it smaller."""
    if view.refused:
        return ("Nothing to draw yet: this request is more than the server trains at once. "
                "Make it smaller as the red note says, and **Run** appears.")  # fmt: skip
    return "Press **Run** to train every variant; the curves grow here epoch by epoch."


def _weights(figs: dict, key: str) -> None:
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
                "Keras adds this to the loss it minimises (and prints); the app's own "
                "curves leave it out so variants compare on the same data loss."
            )


# --- how it is drawn -------------------------------------------------------------------


def look_of(view: View, curves: Sequence[Curve]) -> Look:
    comparison = view.comparison
    theme = charts.PROJECTOR if comparison.present else charts.SCREEN
    return Look(palette_of(view, curves), theme, comparison.scale, comparison.loss_view())


def palette_of(view: View, curves: Sequence[Curve]) -> charts.Palette:
    """Colours by what each run is (or by value, for a sweep), stressing what the claims
    name: in a free comparison, the baseline and the variant that ends lowest."""
    if view.comparison.is_sweep():
        return charts.by_value(view.labels)
    palette = charts.by_role([(e.label, e.spec) for e in view.entries],
                             view.comparison.base_spec())  # fmt: skip
    claims = claims_of(view)
    if claims:
        return palette.stressing(n for c in claims for n in (*c.subjects, c.other) if n)
    if view.missing:  # while runs train (or after a cancel) no variant has ended lowest:
        return palette  # every one in its colour, none greyed before the race is over
    final = {label: metrics.mean(metrics.finals(runs, "validation"))
             for label, runs in render.histories(curves).items()}  # fmt: skip
    return palette.stressing({"baseline", min(final, key=final.get)})


def claims_of(view: View) -> tuple[lessons.Claim, ...]:
    """The claims the page states: a lesson's, or a dataset's default comparison's."""
    if not view.claim:
        return ()
    lesson = view.comparison.lesson or lessons.default_lesson(view.comparison.dataset)
    return lesson.claims if lesson else ()


def checked(view: View) -> list[tuple[lessons.Claim, str, lessons.Verdict]]:
    """Each claim's verdict on both held-out splits, once every run is there."""
    if view.missing:
        return []
    runs: dict[str, list] = {}
    for e in sorted(view.entries, key=lambda e: e.spec.seed):
        runs.setdefault(e.label, []).append(e.run)
    return [(c, split, c.check(runs, split)) for c in claims_of(view) for split in lessons.SPLITS]


def claims_for_charts(view: View) -> Claims:
    claims = claims_of(view)
    kinds = tuple(c.kind for c in claims)
    reference = next((c.other for c in claims if c.other), None)
    reference = reference or ("baseline" if "baseline" in view.labels else None)
    written = charts.notes(checked(view), charts.measure_of(kinds))
    return Claims(kinds, reference, written)


def _unwritten(view: View) -> list[str]:
    """The claims the effect chart does not draw (training accuracy, or gaps beside a loss
    chart), a sentence each with its margins (core.lessons.Claim.sentence)."""
    results = checked(view)
    measure = charts.measure_of(c.kind for c, _, _ in results)
    verdicts: dict = {}
    for claim, split, verdict in results:
        if charts.effects.MEASURE.get(claim.kind) != measure:
            verdicts.setdefault(claim, {})[split] = verdict
    return [claim.sentence(by_split) for claim, by_split in verdicts.items()]


def figures(view: View, curves: Sequence[Curve], look: Look, panels: bool = True) -> dict:
    """The comparison's charts; a finished comparison's are built once per server."""
    if panels and not view.missing:
        return _finished(_identity(view), look, view)
    return render.figures(curves, look, claims_for_charts(view), view.epochs, panels)


def _identity(view: View) -> tuple:
    """What a finished comparison's figures depend on: runs never change under their key;
    the same runs can be a lesson (with claims) or a free comparison."""
    return (tuple((e.label, e.key, e.spec.seed) for e in view.entries), view.epochs,
            view.comparison.preset, view.claim)  # fmt: skip


@st.cache_data(max_entries=256, show_spinner=False)
def _finished(identity: tuple, look: Look, _view: View) -> dict:
    """Shared by every session: the identity and the look key the cache; the view, not
    hashed, holds the loaded runs."""
    return render.figures(_view.curves(), look, claims_for_charts(_view), _view.epochs,
                          weights=histograms(_view.entries))  # fmt: skip


def histograms(entries) -> list[tuple[str, dict]]:
    """Each variant's final kernel weights (seed 0), for the runs that are finished."""
    return [(e.label, e.run.histogram) for e in entries
            if e.run and e.run.histogram and e.spec.seed == 0]  # fmt: skip


# --- a sweep ---------------------------------------------------------------------------


def sweep_headline(view: View, curves: Sequence[Curve], look: Look, key: str) -> None:
    """A sweep's headline: the validation curve (loss against the knob's values, on the
    knob's own scale) beside every value's loss over the epochs."""
    knob = view.comparison.sweep_knob()
    setting = SETTINGS[knob]
    first = {e.label: e for e in reversed(view.entries)}  # the first seed's entry per label
    short = {label: setting.describe(getattr(e.spec, knob)) for label, e in first.items()}
    order = [short[label] for label in view.labels]
    finished = render.finished(curves, view.epochs)  # a value's point is where it ended
    points = report.sweep_points([(short[c.label], c.records) for c in finished])
    at = charts.positions(knob, [_value(e, knob) for e in map(first.get, view.labels)])
    left, right = st.columns(2, gap="medium")
    with left:
        chart = charts.sweep_chart(points, knob, order, at and dict(zip(order, at, strict=True)),
                                   look.theme, _valley(view, short), render.HEADLINE,
                                   look.view)  # fmt: skip
        render.draw(chart, key=f"{key}-sweep")
        render.downloads(lambda: charts.titled(chart, view.title, view.about["subtitle"]),
                         view.about, "validation-curve", f"{key}-sweep")  # fmt: skip
    with right:  # the values alone in the legend, the knob its title: room for the curves
        shown = [Curve(short[c.label], c.seed, c.records) for c in curves]
        overlay = charts.overlay(render.tidy(shown, look.view), charts.by_value(order), look.theme,
                                 look.scale, view.epochs, render.HEADLINE,
                                 charts.HEADINGS[look.view],
                                 legend_title=setting.label)  # fmt: skip
        render.draw(overlay, key=f"{key}-overlay")
    st.caption(
        f"Left: final training, validation and test data loss for each "
        f"{setting.label.lower()} "
        "(mean over seeds, bars from the lowest to the highest seed), and the best "
        "validation loss reached. Right: each value's validation (solid) and training "
        "(dashed) loss over the epochs."
    )


def _value(entry, knob: str):
    """A run's value of the knob; for the training-set size, the examples it really had
    ("all" is a number too, on a learning curve's axis)."""
    if knob != "train_size":
        return getattr(entry.spec, knob)
    if entry.run and "train_examples" in entry.run.meta:
        return entry.run.meta["train_examples"]
    return datasets.for_spec(entry.spec).train_count(entry.spec.train_size)


def _valley(view: View, short: dict[str, str]) -> list[str]:
    """The valley claim's margins, one line per split, in the values' own words."""
    lines = []
    for claim, split, verdict in checked(view):
        inside, ends = "", []
        for what, margin in verdict.margins.items():
            inside, _, end = what.partition(" < ")
            number, way = claim.amount(margin)
            ends.append(f"{number} {way} {short.get(end, end)}")
        mark = "✓" if verdict.holds else "✗"
        lines.append(f"{mark} {split}: lowest at {short.get(inside, inside)}, " + ", ".join(ends))
    return lines


# --- pictures --------------------------------------------------------------------------


def pictures_section(view: View, curves: Sequence[Curve], key: str, look: Look | None = None):
    """Each variant's decision boundary (2-D classes) or fitted curve (1-D regression),
    seed 0, with the data drawn on top; nothing for other data. A finished comparison
    plays its snapshots, with the epoch shown marked on the loss chart beside them."""
    if probes.kind(view.info) is None:  # nothing to draw: and no data loaded to learn that
        return
    snapshots = {c.label: [r for r in c.records if "probe" in r] for c in curves if c.seed == 0}
    epochs = sorted({r["epoch"] for rows in snapshots.values() for r in rows})
    if not epochs:
        return
    look = look or look_of(view, curves)
    st.subheader("What each network computes")
    if len(epochs) > 1 and not view.missing:
        _player(view, curves, snapshots, epochs, key, look)
    else:
        _pictures(view, snapshots, epochs[-1], key, look)


def _player(view: View, curves, snapshots: dict, epochs: list[int], key: str, look: Look):
    """Play / pause, the snapshot's epoch, the loss chart marked there, the pictures. While
    playing, each run of the page shows the next snapshot, and _tick runs the page again a
    second later."""
    at, playing = f"{key}-at", f"{key}-playing"
    if S.get(at) not in epochs:
        S[at] = epochs[-1]
    if S.get(playing) and not S.pop(f"{key}-hold", False):
        S[at] = epochs[min(epochs.index(S[at]) + 1, len(epochs) - 1)]
        S[playing] = S[at] != epochs[-1]
    button, slider = st.columns([1, 6], vertical_alignment="bottom")
    button.button("Pause" if S.get(playing) else "Play", key=f"{key}-play", on_click=_play,
                  icon=":material/pause:" if S.get(playing) else ":material/play_arrow:",
                  args=(key, epochs), width="stretch")  # fmt: skip
    # The snapshots are spaced geometrically (core.probes): the slider steps through them,
    # evenly, so its label says it does not step through epochs.
    label = f"Snapshot at epoch — {len(epochs)} snapshots, closer together early on"
    epoch = slider.select_slider(label, epochs, key=at)
    timeline = charts.overlay(render.tidy(curves, look.view), look.palette, look.theme,
                              "linear", view.epochs, charts.PICTURE, f"Loss ┊ epoch {epoch}",
                              at=epoch)  # fmt: skip
    _pictures(view, snapshots, epoch, key, look, timeline)
    if S.get(playing):
        S[f"{key}-tick"] = "page"
        st.fragment(_tick, run_every=1.0)(key)


def _tick(key: str) -> None:
    """While playing, a second after each run of the page: the page again (which shows the
    next snapshot). A fragment's timer, so the script thread never sleeps; a whole run,
    not the fragment's, because Streamlit's message cache ages differently in fragment
    runs and a page rerun after several of them failed ("Cached ForwardMsg MISS")."""
    if S[f"{key}-tick"] == "timer":
        st.rerun()
    S[f"{key}-tick"] = "timer"  # the next run of this fragment is its timer's


def _play(key: str, epochs: list[int]) -> None:
    playing, at = f"{key}-playing", f"{key}-at"
    S[playing] = not S.get(playing)
    if S[playing]:
        S[f"{key}-hold"] = True  # this run shows where it starts
        if S.get(at) == epochs[-1]:  # from the first snapshot again
            S[at] = epochs[0]


def _pictures(
    view: View, snapshots: dict, epoch: int, key: str, look: Look, lead: dict | None = None
) -> None:
    probe = next((e.run.probe for e in view.entries if e.run and e.run.probe), None)
    probe = probe or probes.axes(datasets.for_spec(view.entries[0].spec))
    points, truth = _points(view, probe["kind"])
    keys = {e.label: e.key for e in view.entries if e.spec.seed == 0}
    panels = []
    for label, rows in snapshots.items():
        shown = [r for r in rows if r["epoch"] <= epoch] or rows
        snapshot = shown[-1]["probe"] | {"epoch": shown[-1]["epoch"]}
        panels.append(_picture(keys[label], snapshot["epoch"], label,
                               look.palette.colour(label), view.info.class_names, look.theme,
                               probe, snapshot, points, truth))  # fmt: skip
    what = "decision boundaries" if probe["kind"] == "grid" else "fitted curves"
    render.pictures(panels, view.about, what, f"{key}-pictures", lead)
    if probe["kind"] == "grid":
        st.caption("Background: the probability each network gives the red class (blue 0%, "
                   "white 50%, red 100%). Large dots: training points; small faint dots: a "
                   f"sample of {VALIDATION_POINTS_SHOWN} validation points.")  # fmt: skip
    else:
        st.caption("The coloured line: each network's prediction; grey dashes: the true "
                   "curve y = sin(πx), in the standardised units the network sees. Dark "
                   f"dots: training points; grey: a sample of {VALIDATION_POINTS_SHOWN} "
                   "validation points.")  # fmt: skip


@st.cache_data(max_entries=2048, show_spinner=False)
def _picture(key: str, epoch: int, label: str, colour: str, classes: tuple,
             theme: charts.Theme, _probe: dict, _snapshot: dict, _points: list,
             _truth: list) -> dict:  # fmt: skip
    """One run's picture at one epoch never changes: built once per server and shared by
    every session watching (the underscored arguments are not hashed: key and epoch say
    what they are)."""
    if _probe["kind"] == "grid":
        return charts.boundary(_probe, _snapshot, _points, label, classes, colour, theme)
    return charts.fitted(_probe, _snapshot, _points, _truth, label, colour, theme)


def _points(view: View, kind: str) -> tuple[list[dict], list[dict]]:
    """The training points and a sample of the validation points, in the model's units;
    for a curve, also the true curve."""
    spec = view.entries[0].spec
    data = datasets.for_spec(spec)
    train = data.training(spec.train_size)
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
    return out, (_truth(spec) if kind == "curve" else [])


def _truth(spec) -> list[dict]:
    """The curve a generated dataset's noisy points were drawn around (its generator
    without noise), in the standardised units the network sees: standardised by the same
    split, with the statistics of this run's own training draw."""
    dataset = datasets.resolve(spec.dataset)
    if not dataset.generated:
        return []
    raw = dataset.reader(noise=spec.data_noise, size=spec.data_size)
    clean = dataset.reader(noise=0.0, size=TRUTH_POINTS)
    order = clean.x[:, 0].argsort()
    line = (clean.x[order], clean.y[order])
    data = splits.split(replace(raw, val=line, test=line), fingerprint="")
    return [{"x": float(x), "y": float(y)} for x, y in zip(data.x_val[:, 0], data.y_val,
                                                           strict=True)]  # fmt: skip
