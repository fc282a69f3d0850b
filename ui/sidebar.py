"""The shared choices, in the sidebar of every page: what to compare and how.

Every knob's widget is built from core.settings (range, steps, label, help), the table the
URL parser, the command line and the spec's validation read too. The comparison lives in
the URL: opening a shared link restores every widget, and every change rewrites the link.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from core import datasets, lessons
from core.comparison import BASE_KNOBS, Comparison, sweep_values
from core.datasets import DatasetError
from core.settings import SETTINGS, SWEEPABLE, Setting
from core.spec import DEFAULT_VARIANTS, VARIANTS, SpecError
from ui.engine import machine, scheduler_address

S = st.session_state
PREFIX = "cmp_"
KEPT = "kept_choices"  # every choice, outside widget state: a page that does not draw a
# widget (the Sweep page has no Variants) must not make Streamlit forget its value
PRESENT = "present"  # the query parameter of presentation mode (not part of a comparison)


def _key(name: str, default=None) -> str:
    """A widget's key, its value restored from the kept choices if Streamlit dropped it."""
    key = PREFIX + name
    if key not in S and name in S[KEPT]:
        S[key] = S[KEPT][name]
    elif key not in S and default is not None:
        S[key] = default
    return key


def _kept(name: str):
    S[KEPT][name] = S[PREFIX + name]
    return S[KEPT][name]


def render(sweeping: bool = False) -> Comparison:
    """Draw the sidebar and return the comparison it describes; on the Sweep page, a
    sweep along one knob instead of variants."""
    if "cmp_ready" not in S:
        _from_url()
    with st.sidebar:
        st.title("Overfitting Lab")
        st.caption("What does regularization do to a neural network?")
        for note in S.pop("url_notes", []):
            st.warning(note)
        comparison = _choose_what(sweeping)
        comparison = _knobs(comparison)
        st.toggle(
            "Presentation mode",
            key="present",
            on_change=_presentation_changed,
            help="Larger type for a projector; the link opens with the sidebar closed.",
        )
        _own_data()
        _device()
    query = comparison.to_query() | ({PRESENT: "1"} if S.get("present") else {})
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)
    return comparison


def _from_url() -> None:
    params = st.query_params.to_dict()
    comparison, notes = Comparison.from_query(params)
    S["url_notes"] = notes
    S["present"] = params.get(PRESENT) == "1"
    kept = S[KEPT] = {
        "preset": comparison.preset,
        "dataset": comparison.dataset,
        "variants": list(comparison.variants),
        "seeds": comparison.seeds,
    }
    if comparison.dataset not in datasets.registry():
        S.setdefault("own_datasets", {})[comparison.dataset] = datasets.resolve(
            comparison.dataset
        ).title
    if comparison.sweep:
        kept["sweep"] = comparison.sweep
        kept["values"] = ", ".join(SETTINGS[comparison.sweep].describe(v)
                                   for v in comparison.values)  # fmt: skip
    for name in SETTINGS:
        value = getattr(comparison, name, None)
        if value is not None and name != "seeds":
            kept[name] = value  # the rest follow the defaults as the widgets draw
    S["cmp_ready"] = True


def _forget_knobs() -> None:
    """A new dataset or lesson: every knob follows its defaults again."""
    for name in ("preset", "dataset"):
        _kept(name)
    for name in [*SETTINGS, "sweep", "values"]:
        if name != "seeds":
            S.pop(PREFIX + name, None)
            S[KEPT].pop(name, None)


def _presentation_changed() -> None:
    st.toast("Presentation mode: reopen the link to start with the sidebar closed.")


def _choose_what(sweeping: bool) -> Comparison:
    presets = [n for n, item in lessons.LESSONS.items() if bool(item.sweep) == sweeping]
    key = _key("preset", "")
    if S[key] not in presets:
        S[key] = ""
    st.selectbox(
        "Lesson",
        ["", *presets],
        key=key,
        on_change=_forget_knobs,
        format_func=lambda p: (
            lessons.LESSONS[p].title if p else "Free " + ("sweep" if sweeping else "comparison")
        ),
        help="Teacher presets from the course notes; each says what to look for.",
    )
    preset = _kept("preset")
    seeds = S[KEPT].get("seeds", 1)
    if preset:
        st.caption(f"Dataset: **{datasets.resolve(lessons.lesson(preset).dataset).title}**")
        return Comparison(preset=preset, seeds=seeds)
    st.selectbox(
        "Dataset",
        [*datasets.registry(), *S.get("own_datasets", {})],
        key=_key("dataset", "digits"),
        format_func=_dataset_label,
        on_change=_forget_knobs,
    )
    comparison = Comparison(dataset=_kept("dataset"), seeds=seeds)
    if sweeping:
        return _choose_sweep(comparison)
    try:
        allowed = comparison.allowed_variants()
    except (DatasetError, SpecError):
        allowed = tuple(VARIANTS)
    key = _key("variants", list(DEFAULT_VARIANTS))
    S[key] = [v for v in S[key] if v in allowed]
    st.multiselect(
        "Variants",
        allowed,
        key=key,
        help="\n".join(f"- **{name}**: {text}" for name, text in VARIANTS.items()),
    )
    chosen = tuple(_kept("variants")) or ("baseline",)
    return Comparison(dataset=comparison.dataset, variants=chosen, seeds=comparison.seeds)


def _choose_sweep(comparison: Comparison) -> Comparison:
    """The knob to sweep and its values (typed; clamped to the table's range)."""
    knobs = [k for k in SWEEPABLE if k in comparison.knobs() or k not in BASE_KNOBS]
    key = _key("sweep", knobs[0])
    if S[key] not in knobs:
        S[key] = knobs[0]
    st.selectbox("Sweep along", knobs, key=key, on_change=_new_sweep,
                 format_func=lambda k: SETTINGS[k].label)  # fmt: skip
    knob = SETTINGS[_kept("sweep")]
    key = _key("values", ", ".join(knob.describe(v) for v in knob.sweep))
    st.text_input("Values", key=key, help=f"Separated by commas. {knob.help}")
    try:
        values, note = sweep_values(knob.name, _kept("values"))
    except ValueError as exc:
        st.error(str(exc))
        values, note = knob.sweep, None
    if note:
        st.caption(note)
    return replace(comparison, sweep=knob.name, values=tuple(values))


def _new_sweep() -> None:
    S.pop(PREFIX + "values", None)
    S[KEPT].pop("values", None)


def _dataset_label(name: str) -> str:
    own = S.get("own_datasets", {})
    if name in own:
        return f"{own[name]} (yours)"
    entry = datasets.registry()[name]
    if entry.source == "download" and not entry.available():
        return f"{entry.title} — needs a one-time download"
    return entry.title


def _knobs(comparison: Comparison) -> Comparison:
    """The strength sliders that change something here, the base network and data, and
    the seeds; each widget starts at the comparison's current value."""
    try:
        strengths, knobs = comparison.shown_strengths(), comparison.knobs()
        if strengths:
            with st.expander("Strengths", expanded=not comparison.preset):
                for name in strengths:
                    comparison = _widget(comparison, SETTINGS[name])
        with st.expander("Network, data and training", expanded=False):
            for name in knobs:
                comparison = _widget(comparison, SETTINGS[name])
            comparison = _widget(comparison, SETTINGS["seeds"])
    except (DatasetError, SpecError) as exc:
        st.error(str(exc))
    return comparison


def _widget(comparison: Comparison, setting: Setting) -> Comparison:
    """One knob's widget, as the table describes it; returns the comparison with its value."""
    key = _key(setting.name)
    start = {} if key in S else {"value": comparison.value(setting.name)}
    common = {"key": key, "help": setting.help}
    if setting.steps:
        options = setting.steps
        if "value" in start and start["value"] not in options:
            start["value"] = options[0]
        value = st.select_slider(setting.label, options, format_func=setting.describe,
                                 **start, **common)  # fmt: skip
    elif setting.choices:
        options = list(setting.choices)
        widget = st.radio if len(options) <= 3 else st.selectbox
        extra = {"horizontal": True} if widget is st.radio else {}
        if key not in S:
            value = start["value"]
            extra["index"] = options.index(value) if value in options else 0
        value = widget(setting.label, options, **extra, **common)
    elif setting.spelling:  # free text, such as layer widths
        text = st.text_input(setting.label, placeholder="the network size's", **start, **common)
        try:
            value, _ = setting.parse(text)
        except ValueError as exc:
            value = comparison.value(setting.name)
            st.caption(f"{setting.label}: {exc}; still {value or 'the network size'}")
    elif setting.kind is float:
        value = st.slider(setting.label, float(setting.low), float(setting.high),
                          step=setting.step, **start, **common)  # fmt: skip
    else:
        low = setting.off if setting.off is not None else setting.low
        label = setting.label + (f" (0 = {setting.off_label})" if setting.off_label else "")
        value = st.number_input(label, int(low), int(setting.high), step=int(setting.step or 1),
                                **start, **common)  # fmt: skip
        value, note = setting.parse(str(value))
        if note:
            st.caption(note)
    S[KEPT][setting.name] = S[key]
    return comparison.with_value(setting.name, value)


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
    content = upload.getvalue()
    if len(content) > max_upload_mb() * 2**20:  # the server refuses these; AppTest does not
        S["own_data_error"] = f"{upload.name} is larger than {max_upload_mb()} MB"
        return
    try:
        name = datasets.save_upload(upload.name, content)
        title = datasets.load(name).info.title  # parse now: refuse bad files at the door
    except (DatasetError, OSError) as exc:
        S["own_data_error"] = f"{upload.name[:80]}: {exc}"
        return
    _use_own(name, title)


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
    S.setdefault("own_datasets", {})[name] = title
    S[PREFIX + "preset"] = ""
    S[PREFIX + "dataset"] = name
    _forget_knobs()


def _device() -> None:
    device, versions = machine()
    where = scheduler_address()
    st.divider()
    if where:
        st.caption(f"**Training runs on** the Dask cluster at `{where}`")
    else:
        st.caption(f"**Training runs on** {device}, in a local Dask worker")
    st.caption(" · ".join(f"{k} {v}" for k, v in versions.items()))
