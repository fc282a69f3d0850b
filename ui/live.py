"""The live view, server-wide: any session that opens a comparison being trained on this
server — a reload, a second tab, another student, a link — follows its progress and redraws
from the cache when it ends. The script thread never trains, so clicks never abort it; a
fragment polls the job engine once a second.

Time left counts only the epochs of runs actually training, at their own pace; runs waiting
for a worker say how many runs are queued before them. A cancelled comparison keeps its
partial curves, marked as such.
"""

from __future__ import annotations

import streamlit as st

from core.comparison import SCALES, VIEWS
from core.jobs import Watch
from ui import app, render, results, views
from ui.engine import engine
from ui.link import linked
from ui.render import Curve
from ui.views import View

S = st.session_state
LOSS_VIEWS = {"data": "Data loss", "keras": "As Keras prints it"}


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
        results.pictures_section(view, curves, "starting")


@st.fragment(run_every=1.0)
def _live(view: View) -> None:
    watch = watching(view)
    if watch is None:  # finished, failed or cancelled: the page redraws from the cache
        st.rerun()
    fraction, text = progress(view, watch)
    st.progress(fraction, text=text)
    results.results(view, view.curves(watch.records), "live")


def progress(view: View, watch: Watch) -> tuple[float, str]:
    """The share of all planned epochs done, and what is happening in words."""
    planned = sum(e.spec.epochs for e in view.entries)
    done = sum(e.spec.epochs for e in view.entries if e.run) + sum(
        rows[-1]["epoch"] for rows in watch.records.values() if rows
    )
    parts = []
    if watch.running:  # one figure per training, computed on the server for every viewer
        left = watch.seconds_left
        time = f"about {_duration(left)} left" if left else "estimating the time left…"
        parts.append(f"training {watch.running} run(s), {time}")
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
    results.results(view, view.curves(cancelled), "final")
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


def still_training(view: View) -> None:
    """Trainings this session asked for other comparisons (a setting changed mid-run):
    each listed with a link back to its own comparison, where it keeps drawing."""
    mine = S.get("my_tasks", {})
    if not mine:
        return
    current = {e.key for e in view.entries}
    running = engine().mine(list(mine))
    for task_id in [t for t in mine if t not in {r.id for r in running}]:
        del mine[task_id]  # finished: forget
    others = {}
    for task in running:
        if not set(task.keys) <= current:  # some of its runs are not on this page
            others[str(task.about.get("query"))] = task.about
    for about in others.values():
        label = f"Still training: {about['title']} ({about['runs']} run(s))"
        st.page_link(about["page"], label=label, query_params=about["query"],
                     icon=":material/autorenew:")  # fmt: skip


def page() -> None:
    """The Compare and Sweep pages: the view, its header, what is compared, how the
    curves are drawn, and the results, live or cached."""
    comparison = app.comparison()
    view = views.open_view(comparison)
    watch = watching(view)
    views.header(view)
    line, axis, losses = st.columns([3, 1.2, 1.8], vertical_alignment="center")
    line.caption(views.status_line(view))
    with axis:
        linked(st.segmented_control, "scale", "Loss axis", comparison.scale, options=SCALES,
               required=True, label_visibility="collapsed",
               help="Linear shows a validation loss that turns upward; log shows every "
                    "curve whole.")  # fmt: skip
    with losses:
        linked(st.segmented_control, "view", "Losses", comparison.loss_view(), options=VIEWS,
               required=True, label_visibility="collapsed", format_func=LOSS_VIEWS.get,
               help="Data loss: the cross-entropy (or squared error) alone, both sets in "
                    "inference mode, so variants compare fairly. As Keras prints it: loss "
                    "and val_loss as fit() shows them, the L1/L2 penalty included and the "
                    "training loss averaged over the epoch with Dropout on.")  # fmt: skip
    show(view, watch)
