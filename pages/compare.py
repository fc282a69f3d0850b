"""Compare: the variants of one comparison side by side, live while they train."""

from __future__ import annotations

import time

import streamlit as st

from core import datasets, lessons
from core.cache import RunStore
from core.datasets import DatasetError
from core.runner import run_key
from core.spec import SpecError
from ui import app, render
from ui.engine import engine

comparison = app.comparison()
name = comparison.dataset_name

try:
    entry = datasets.resolve(name)
    labelled = comparison.labelled_specs()
    problem = entry.missing()
except (DatasetError, SpecError) as exc:
    st.error(str(exc))
    st.stop()

if comparison.preset:
    lesson = lessons.lesson(comparison.preset)
    st.title(lesson.title)
    st.info(lesson.text)
else:
    st.title(f"Regularization on {entry.title}")
if problem:
    st.warning(problem)
    st.stop()

labels = comparison.labels()
keys = [run_key(spec) for _, spec in labelled]
cached = RunStore().load_many(keys)
missing = {key: spec for key, (_, spec) in zip(keys, labelled, strict=True) if key not in cached}

job = st.session_state.get("job")
if job is not None and not set(job.keys) <= set(keys):
    job = None  # a job for another comparison: this page does not follow it

total_epochs = sum(spec.epochs for _, spec in labelled)
first = labelled[0][1]
st.caption(
    f"{len(labels)} variant(s) × {comparison.seeds} seed(s) · {first.epochs} epochs · "
    f"batch {first.batch_size} · {first.train_size or 'all'} training examples · "
    f"{len(cached)} of {len(set(keys))} run(s) cached"
)

start = st.button(
    f"Run ({len(missing)} to train)" if missing else "All cached",
    type="primary",
    disabled=not missing or job is not None,
    key="run",
)
if start:
    try:
        job = engine().submit(list(missing.values()), list(missing))
    except Exception as exc:  # no cluster to talk to: say so, keep the page
        st.error(f"The job engine cannot be reached ({exc}); cached runs still show here.")
    else:
        st.session_state["job"] = job
        st.session_state.pop("job_clock", None)


def entries_now(progress: dict[str, list[dict]]) -> list[tuple[str, int, list[dict]]]:
    out = []
    for (label, spec), key in zip(labelled, keys, strict=True):
        if key in cached:
            out.append((label, spec.seed, list(cached[key].history)))
        elif progress.get(key):
            out.append((label, spec.seed, progress[key]))
    return out


@st.cache_data(max_entries=256, show_spinner=False)
def final_figures(view: tuple[tuple[str, str, int], ...]) -> dict:
    """A finished comparison's charts, built once per server and shared by every session:
    runs never change under their key. `view` is (label, run key, seed) per run."""
    runs = RunStore().load_many([key for _, key, _ in view])
    return render.figures(
        [(label, seed, runs[key].history) for label, key, seed in view if key in runs],
        list(dict.fromkeys(label for label, _, _ in view)),
    )


@st.fragment(run_every=1.0)
def live() -> None:
    """Polls the job engine; the script thread never trains, so clicks never abort it."""
    current = st.session_state.get("job")
    if current is None:
        return
    if current.done():
        st.session_state.pop("job", None)
        status = current.status()
        if status == "error":
            st.session_state["job_error"] = current.error()
        elif status == "finished":  # the summary tells these from runs found in the cache
            st.session_state.setdefault("trained_here", set()).update(current.keys)
        st.rerun()
    progress = current.progress()
    done = sum(len(records) for records in progress.values()) + sum(
        spec.epochs for (_, spec), key in zip(labelled, keys, strict=True) if key in cached
    )
    fraction = min(1.0, done / total_epochs) if total_epochs else 1.0
    if not progress:
        text = "Waiting for a worker: starting it, or finishing someone else's training…"
    else:
        text = f"Training: {fraction:.0%} of epochs, {time_left(done)}"
    cols = st.columns([4, 1])
    cols[0].progress(fraction, text=text)
    if cols[1].button("Cancel", key="cancel"):
        current.cancel()
        st.session_state.pop("job", None)
        st.rerun()
    planned = max(spec.epochs for _, spec in labelled)
    render.curves_section(render.figures(entries_now(progress), labels, planned), "live")


def time_left(done: int) -> str:
    """From the pace since the first epoch arrived: counting the worker's start-up and
    the loop's tracing would inflate the first estimates many times over."""
    now = time.monotonic()
    since, done_then = st.session_state.setdefault("job_clock", (now, done))
    if done <= done_then:
        return "estimating the time left…"
    pace = (now - since) / (done - done_then)
    return f"about {pace * (total_epochs - done):.0f} s left"


if "job_error" in st.session_state:
    st.error(f"Training failed: {st.session_state.pop('job_error')}")

if job is not None:
    live()
elif cached:
    view = tuple(
        (label, key, spec.seed)
        for (label, spec), key in zip(labelled, keys, strict=True)
        if key in cached
    )
    render.curves_section(final_figures(view), "final")
    trained_here = st.session_state.get("trained_here", set())
    finished = [
        (label, cached[key], key not in trained_here)
        for (label, _), key in zip(labelled, keys, strict=True)
        if key in cached
    ]
    render.summary_section(finished)
    st.download_button(
        "Histories (CSV)",
        data=lambda: render.histories_csv([(label, run) for label, run, _ in finished]),
        file_name="histories.csv",
        mime="text/csv",
        key="csv",
        on_click="ignore",
    )
else:
    st.info("Press **Run** to train every variant; the curves grow here epoch by epoch.")
