"""The shared choices, in the sidebar of every page: what to compare and how.

Every widget shows a field of the link's comparison and changes it through ui.link. Every
knob's widget is built from core.settings (range, steps, label, help), the table the link
parser, the command line and the spec's validation read too.
"""

from __future__ import annotations

import streamlit as st

from core import datasets, lessons
from core.comparison import Comparison
from core.datasets import DatasetError
from core.settings import SETTINGS, Setting
from core.spec import VARIANTS, SpecError
from ui import app
from ui.engine import heartbeat, machine, scheduler_address
from ui.link import change, linked

S = st.session_state
DOWNLOAD = "⤓"  # beside a lesson whose data needs a one-time download


# --- the sidebar ------------------------------------------------------------------------


def render(comparison: Comparison, notes: list[str], pages: list) -> None:
    """The pages (each link carrying the comparison), what to compare, its knobs, the
    presentation mode, your own data, and where training runs."""
    with st.sidebar:
        st.title("Overfitting Lab")
        st.caption("What does regularization do to a neural network?")
        for page in pages:
            st.page_link(page, query_params=app.on_page(comparison, page.title).to_query())
        for note in notes:
            st.warning(note)
        _choose_what(comparison)
        _knobs(comparison)
        linked(
            st.toggle,
            "present",
            "Presentation mode",
            comparison.present,
            help="Larger type for a projector; the link opens with the sidebar closed.",
        )
        _own_data()
        _device()
        heartbeat()  # this session still waits for its trainings, from any page


def _choose_what(comparison: Comparison) -> None:
    sweeping = comparison.is_sweep()
    presets = [n for n, item in lessons.LESSONS.items() if bool(item.sweep) == sweeping]
    linked(
        st.selectbox,
        "preset",
        "Lesson",
        comparison.preset,
        options=["", *presets],
        format_func=lambda p: (
            _lesson_label(p) if p else "Free " + ("sweep" if sweeping else "comparison")
        ),
        help="Teacher presets from the course notes; each says what to look for. "
        f"{DOWNLOAD}: its data needs a one-time download first.",
    )
    if comparison.lesson:
        st.caption(f"Dataset: **{datasets.resolve(comparison.dataset_name).title}**")
        return
    own = [] if comparison.dataset in datasets.registry() else [comparison.dataset]
    linked(st.selectbox, "dataset", "Dataset", comparison.dataset,
           options=[*datasets.registry(), *own], format_func=_dataset_label)  # fmt: skip
    if sweeping:
        _choose_sweep(comparison)
        return
    try:
        allowed = comparison.allowed_variants()
    except (DatasetError, SpecError):
        allowed = tuple(VARIANTS)
    linked(st.multiselect, "variants", "Variants", list(comparison.chosen()), options=allowed,
           help="\n".join(f"- **{name}**: {text}" for name, text in VARIANTS.items()))  # fmt: skip


def _choose_sweep(comparison: Comparison) -> None:
    """The knob to sweep and its values (typed; clamped to the table's range)."""
    linked(st.selectbox, "sweep", "Sweep along", comparison.sweep,
           options=comparison.sweepable(), format_func=lambda k: SETTINGS[k].label)  # fmt: skip
    knob = SETTINGS[comparison.sweep]
    text = ", ".join(knob.describe(v) for v in comparison.sweep_values())
    linked(st.text_input, "values", "Values", text, help=f"Separated by commas. {knob.help}")


def _dataset_label(name: str) -> str:
    entry = datasets.registry().get(name)
    if entry is None:
        return f"{datasets.resolve(name).title} (yours)"
    if _to_download(entry):
        return f"{entry.title} — needs a one-time download"
    return entry.title


def _lesson_label(name: str) -> str:
    """A lesson's title, marked where its data is not here yet (short: the menu is narrow)."""
    lesson = lessons.LESSONS[name]
    entry = datasets.registry().get(lesson.dataset)
    return f"{lesson.title} {DOWNLOAD}" if _to_download(entry) else lesson.title


def _to_download(entry) -> bool:
    """A registry entry whose data needs a one-time download that has not happened yet."""
    return entry is not None and entry.source == "download" and not entry.available()


def _knobs(comparison: Comparison) -> None:
    """The strength sliders that change something here, the base network and data, and
    the seeds."""
    try:
        strengths, knobs = comparison.shown_strengths(), comparison.knobs()
        if strengths:
            with st.expander("Strengths", expanded=not comparison.preset):
                for name in strengths:
                    _widget(comparison, SETTINGS[name])
        with st.expander("Network, data and training", expanded=False):
            for name in (*knobs, "seeds"):
                _widget(comparison, SETTINGS[name])
    except (DatasetError, SpecError) as exc:
        st.error(str(exc))


def _widget(comparison: Comparison, setting: Setting) -> None:
    """One knob's widget, as the table describes it: its range and steps, and its off
    value where it has one (a link's "off" shows as off)."""
    value = comparison.value(setting.name)
    off = (setting.off,) if setting.off_label else ()
    common = {"help": setting.help}
    if setting.steps:
        linked(st.select_slider, setting.name, setting.label, value,
               options=[*off, *setting.steps], format_func=setting.describe, **common)  # fmt: skip
    elif setting.choices:
        options = [*off, *setting.choices]
        if len(options) <= 3:
            common["horizontal"] = True
        widget = st.radio if len(options) <= 3 else st.selectbox
        linked(widget, setting.name, setting.label, value, options=options, **common)
    elif setting.spelling:  # free text, such as layer widths: empty means the default
        linked(st.text_input, setting.name, setting.label, value or "",
               placeholder="as the network size says", **common)  # fmt: skip
    else:
        low = off[0] if off else setting.low
        label = setting.label + (f" (0 = {setting.off_label})" if off else "")
        if setting.kind is float:
            linked(st.slider, setting.name, label, float(value), min_value=float(low),
                   max_value=float(setting.high), step=setting.step, **common)  # fmt: skip
        else:
            linked(st.number_input, setting.name, label, int(value), min_value=int(low),
                   max_value=int(setting.high), step=int(setting.step or 1), **common)  # fmt: skip


# --- your own data ----------------------------------------------------------------------


def _own_data() -> None:
    with st.expander("Your own data", expanded=False):
        st.file_uploader(
            f"A CSV with a 'label' column (up to {max_upload_mb()} MB)",
            type=["csv"],
            key="cmp_upload",
            on_change=_take_upload,
        )
        st.text_input(
            "…or an image folder on this server (one sub-folder per class)",
            key="cmp_folder",
            on_change=_take_folder,
        )
        if "own_data_error" in S:
            st.error(S["own_data_error"])


def max_upload_mb() -> int:
    """server.maxUploadSize from .streamlit/config.toml: one setting for server and app."""
    return int(st.get_option("server.maxUploadSize"))


def _take_upload() -> None:
    S.pop("own_data_error", None)
    upload = S.get("cmp_upload")
    if upload is None:
        return
    try:  # streamed to disk, bounded (the server refuses larger files; AppTest does not)
        name = datasets.save_upload(upload.name, upload, max_upload_mb() * 2**20)
    except DatasetError as exc:
        S["own_data_error"] = f"{upload.name[:80]}: {exc}"
        return
    _use_own(name, datasets.info(name).title)


def _take_folder() -> None:
    S.pop("own_data_error", None)
    path = S.get("cmp_folder", "").strip()
    if not path:
        return
    try:
        datasets.check_allowed(path)
        entry = datasets.resolve(path)
        if entry.missing():
            raise DatasetError(entry.missing())
    except DatasetError as exc:
        S["own_data_error"] = str(exc)
        return
    _use_own(path, entry.title)


def _use_own(name: str, title: str) -> None:
    """Your own data, accepted: the comparison moves to it as to any dataset."""
    change("dataset", name)
    st.toast(f"Now comparing on {title}")


def _device() -> None:
    device, versions = machine()
    where = scheduler_address()
    st.divider()
    if where:
        st.caption(f"**Training runs on** the Dask cluster at `{where}`")
    else:
        st.caption(f"**Training runs on** {device}, in a local Dask worker")
    st.caption(" · ".join(f"{k} {v}" for k, v in versions.items()))
