"""The live view, server-wide: any session that opens a comparison being trained on this
server — a reload, a second tab, another student, a link — follows its progress and redraws
from the cache when it ends. The script thread never trains, so clicks never abort it; a
fragment polls the job engine once a second.

Time left counts only the epochs of runs actually training, at their own pace; runs waiting
for a worker say how many runs are queued before them. A cancelled comparison keeps its
partial curves, marked as such.
"""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from core.jobs import Watch
from ui import app, render, views
from ui.engine import engine
from ui.render import Curve
from ui.views import View

S = st.session_state


def watching(view: View) -> Watch | None:
    return engine().watch([e.key for e in view.missing])


def show(view: View, watch: Watch | None) -> None:
    still_training(view)
    if watch is None:
        finished(view)
    elif watch.records:
        _live(view)
    else:
        _starting(view)


@st.fragment(run_every=0.5)
def _starting(view: View) -> None:
    """Until the first epoch arrives: poll twice as often, so it shows without delay."""
    watch = watching(view)
    if watch is None or watch.records:
        st.rerun()
    fraction, text = progress(view, watch)
    st.progress(fraction, text=text)
    st.info("The first epoch is on its way…")
    if watch.untrained:  # 2-D or 1-D data: the networks as built, before any training step
        curves = [Curve(e.label, e.spec.seed, [{"epoch": 0, "probe": watch.untrained[e.key]}])
                  for e in view.entries if e.key in watch.untrained]  # fmt: skip
        views.pictures_section(view, curves, "starting")


@st.fragment(run_every=1.0)
def _live(view: View) -> None:
    watch = watching(view)
    if watch is None:  # finished, failed or cancelled: the page redraws from the cache
        st.rerun()
    fraction, text = progress(view, watch)
    st.progress(fraction, text=text)
    views.results(view, view.curves(watch.records), "live")


def progress(view: View, watch: Watch) -> tuple[float, str]:
    """The share of all planned epochs done, and what is happening in words."""
    planned = sum(e.spec.epochs for e in view.entries)
    done = sum(e.spec.epochs for e in view.entries if e.run) + sum(
        rows[-1]["epoch"] for rows in watch.records.values() if rows
    )
    parts = []
    if watch.running:
        left = watch.seconds_left
        parts.append(f"training {watch.running} run(s)"
                     + (f", about {_duration(left)} left for these" if left else ""))  # fmt: skip
    if watch.queued:
        behind = f" behind {watch.ahead} run(s) of other requests" if watch.ahead else ""
        parts.append(f"{watch.queued} run(s) queued{behind}")
    if not watch.running and not watch.ahead:
        parts.append("starting a worker")
    fraction = min(1.0, done / planned) if planned else 1.0
    return fraction, f"{fraction:.0%} of epochs · " + " · ".join(parts)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def finished(view: View) -> None:
    """Nothing of this comparison is training: the cached runs (and the partial curves of
    cancelled ones), then the summary once every run is there."""
    cancelled = engine().status([e.key for e in view.missing]).cancelled
    if cancelled:
        epoch = max(rows[-1]["epoch"] for rows in cancelled.values() if rows)
        st.warning(f"Cancelled at epoch {epoch}: the partial curves are shown. Press **Run** "
                   "to train again.")  # fmt: skip
    complete = not view.missing
    figs = cached_figures(_identity(view), views.loss_scale(), app.presentation(), view) \
        if complete else None  # fmt: skip
    views.results(view, view.curves(cancelled), "final", figs)
    if complete:
        entries = [(e.label, e.run, e.key not in view.trained_here) for e in view.entries]
        render.summary_section(entries, view.info.num_classes)
        st.download_button(
            "Histories (CSV)",
            data=lambda: render.histories_csv([(label, run) for label, run, _ in entries]),
            file_name=f"{view.about['file']}-histories.csv",
            mime="text/csv",
            key="csv",
            on_click="ignore",
        )


def _identity(view: View) -> tuple:
    """What a finished comparison's figures depend on: runs never change under their key."""
    sweep = view.comparison.is_sweep()
    return (tuple((e.label, e.key, e.spec.seed) for e in view.entries), view.epochs, sweep)


@st.cache_data(max_entries=256, show_spinner=False)
def cached_figures(identity: tuple, scale: str, presentation: bool, _view: View) -> dict:
    """A finished comparison's charts, built once per server and shared by every session.
    The runs, loss scale and presentation mode key the cache (views.figures reads the
    same scale and mode from the session); the view, not hashed, holds the loaded runs."""
    return views.figures(_view, _view.curves())


def still_training(view: View) -> None:
    """Trainings this session started for other comparisons (a slider nudged mid-run):
    listed with a link back, never silently dropped."""
    mine = S.get("my_tasks", {})
    if not mine:
        return
    current = {e.key for e in view.entries}
    running = engine().mine(list(mine))
    for task_id in [t for t in mine if t not in {r.id for r in running}]:
        del mine[task_id]  # finished: forget
    others = {}
    for task in running:
        if not set(task.keys) & current:
            others[str(task.about.get("query"))] = task.about
    for about in others.values():
        link = "?" + urlencode(about.get("query") or {})
        st.caption(f":material/autorenew: Still training: [{about['title']}]({link}) "
                   f"({about.get('runs', '?')} run(s))")  # fmt: skip


def page() -> None:
    """The Compare and Sweep pages: the view, its header, what is compared, and the
    results, live or cached."""
    view = views.open_view(app.comparison())
    watch = watching(view)
    views.header(view, busy=watch is not None)
    line, scale = st.columns([4, 1], vertical_alignment="center")
    line.caption(views.status_line(view))
    scale.segmented_control(
        "Loss axis",
        ["linear", "log"],
        default="linear",
        key="loss_scale",
        label_visibility="collapsed",
        help="Linear shows a validation loss that turns upward; log shows every curve whole.",
    )
    show(view, watch)
