"""The live view, server-wide: any session that opens a comparison being trained on this
server — a reload, a second tab, another student, a link — follows its progress and redraws
from the cache when it ends. The script thread never trains, so clicks never abort it; a
fragment polls the job engine once a second, and every poll says this open page waits for
the training, until it presses Cancel.

Time left counts only the epochs of runs actually training, at their own pace; runs waiting
for a worker say how many runs of other requests go before them. A cancelled comparison
keeps its partial curves, marked as such.
"""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from core.comparison import SCALES, VIEWS, Comparison
from core.jobs import Watch
from core.report import count
from ui import app, render, results, views
from ui.engine import engine, requester
from ui.link import linked
from ui.render import Curve
from ui.views import View

S = st.session_state
LOSS_VIEWS = {"data": "Data loss", "keras": "As Keras prints it"}


def watching(view: View) -> Watch | None:
    return engine().watch([e.key for e in view.missing], requester())


def show(view: View, watch: Watch | None) -> None:
    still_training(view)
    if watch is None:
        finished(view)
    elif watch.records:
        _live(view)
    else:
        _starting(view, watch)


def _starting(view: View, watch: Watch) -> None:
    """Until the first epoch arrives: a small fragment polls, and the page redraws once
    when there is something new to draw. The pictures stay out of the fragment: redrawn at
    every poll, they took the CPU from the worker tracing a new structure's loop."""
    if watch.running or watch.starting:
        _first_epoch_soon(view, len(watch.untrained))
    else:
        _first_epoch_later(view, len(watch.untrained))
    cached = view.curves()
    if cached:  # the runs already cached stay on screen while the others start
        results.results(view, cached, "live")
    elif watch.untrained:  # 2-D or 1-D data: the networks as built, before any training step
        curves = [Curve(e.label, e.spec.seed, [{"epoch": 0, "probe": watch.untrained[e.key]}])
                  for e in view.entries if e.key in watch.untrained]  # fmt: skip
        results.pictures_section(view, curves, "starting")


def _awaiting(view: View, drawn: int, queued: bool) -> None:
    """Progress and the note; the page redraws when the first epoch arrives, more untrained
    networks than it drew, or the runs' turn on a worker."""
    watch = watching(view)
    if (watch is None or watch.records or len(watch.untrained) != drawn
            or queued != (not watch.running and not watch.starting)):  # fmt: skip
        st.rerun()
    fraction, text = progress(view, watch)
    st.progress(fraction, text=text)
    _cancelled_here(watch)
    st.info("The first epoch is on its way…")


@st.fragment(run_every=0.25)
def _first_epoch_soon(view: View, drawn: int) -> None:
    """On a worker: poll four times a second, so the first epoch shows without delay."""
    _awaiting(view, drawn, queued=False)


@st.fragment(run_every=1.0)
def _first_epoch_later(view: View, drawn: int) -> None:
    """Queued behind other requests: once a second, as the live view polls."""
    _awaiting(view, drawn, queued=True)


@st.fragment(run_every=1.0)
def _live(view: View) -> None:
    watch = watching(view)
    if watch is None:  # finished, failed or cancelled: the page redraws from the cache
        st.rerun()
    fraction, text = progress(view, watch)
    st.progress(fraction, text=text)
    _cancelled_here(watch)
    results.results(view, view.curves(watch.records), "live")


def _cancelled_here(watch: Watch) -> None:
    """This page pressed Cancel, and the training goes on for other open pages."""
    if not watch.mine:
        pages = count(watch.requesters, "other open page")
        st.warning(f"Cancelled on this page: the training goes on for {pages} waiting "
                   "for it; its curves so far are shown. Press "
                   "**Run** to wait for it again.")  # fmt: skip


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
        parts.append(f"training {count(watch.running, 'run')}, {time}")
    if watch.starting:  # handed to a worker still starting up (importing TensorFlow)
        parts.append(f"{count(watch.starting, 'run')} starting on a worker")
    if watch.queued:
        behind = f" behind {count(watch.ahead, 'run')} of other requests" if watch.ahead else ""
        parts.append(f"{count(watch.queued, 'run')} queued{behind}")
    fraction = min(1.0, done / planned) if planned else 1.0
    return fraction, " · ".join([f"{fraction:.0%} of epochs", *parts])


def _duration(seconds: float) -> str:
    # Never "about 0 s left" while a training still runs (it said so at 64% of epochs).
    return f"{max(1, round(seconds))} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def cancelled_note(cancelled: dict[str, list[dict]]) -> str:
    """What Cancel stopped: how far the runs got, or that none had trained an epoch. Every
    page that opens the comparison afterwards reads it, not only the one that pressed it."""
    runs = count(len(cancelled), "run")
    epochs = [rows[-1]["epoch"] for rows in cancelled.values() if rows]
    if not epochs:
        return (f"Cancelled: {runs} of this comparison stopped before their first epoch; nothing "
                "was trained. Press **Run** to train again.")  # fmt: skip
    return (f"Cancelled: {runs} of this comparison stopped by epoch {max(epochs)}, drawn as far as "
            "they got. Press **Run** to train again.")  # fmt: skip


def finished(view: View) -> None:
    """Nothing of this comparison is training: the cached runs (and the partial curves of
    cancelled ones), then the summary once every run is there."""
    cancelled = view.status.cancelled
    if cancelled:
        st.warning(cancelled_note(cancelled))
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
    each a button back to its own comparison, named by what differs from this one. A
    button, not st.page_link: a page link to the page on screen changes the comparison
    but leaves the address bar as it was (Streamlit updates it only on a change of page),
    so a reload or a shared link would give the wrong one; st.switch_page writes it."""
    mine = S.get("my_tasks", {})
    if not mine:
        return
    current = {e.key for e in view.entries}
    running = engine().mine(list(mine))
    for task_id in [t for t in mine if t not in {r.id for r in running}]:
        del mine[task_id]  # finished: forget
    others, listed = {}, set()
    for task in running:
        if not set(task.keys) <= current:  # some of its runs are not on this page
            others[urlencode(task.about.get("query", {}))] = task.about
            listed.add(task.id)
    for query, about in others.items():
        earlier, _ = Comparison.from_query(about["query"])
        what = [about["title"], *earlier.differences(view.comparison), count(about["runs"], "run")]
        if st.button("Still training: " + " · ".join(what), key=f"still-{query}",
                     icon=":material/autorenew:", type="tertiary"):  # fmt: skip
            st.switch_page(about["page"], query_params=about["query"])
    if listed:
        _until_one_ends(frozenset(listed))


@st.fragment(run_every=2.0)
def _until_one_ends(listed: frozenset[str]) -> None:
    """The list above is drawn with the page: redraw the page once a training on it ends,
    or a finished page would say "Still training" for as long as it stays open."""
    if len(engine().mine(list(listed))) < len(listed):
        st.rerun()


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
