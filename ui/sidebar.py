"""The shared choices, in the sidebar of every page: what to compare and how.

The comparison lives in the URL too: opening a shared link restores every widget, and every
change rewrites the link.
"""

from __future__ import annotations

import streamlit as st

from core import datasets, lessons
from core.comparison import MAX_SEEDS, Comparison
from core.datasets import DatasetError
from core.spec import CAPACITIES, VARIANTS, SpecError
from ui.engine import machine, scheduler_address

L2_STEPS = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
S = st.session_state


def render() -> Comparison:
    """Draw the sidebar and return the comparison it describes."""
    if "cmp_ready" not in S:
        _from_url()
    with st.sidebar:
        st.title("Overfitting Lab")
        st.caption("What does regularization do to a neural network?")
        for warning in S.pop("url_warnings", []):
            st.warning(warning)
        _choose_what()
        _choose_strengths()
        _choose_training()
        _own_data()
        _device()
    comparison = current()
    query = comparison.to_query()
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)
    return comparison


def current() -> Comparison:
    """The comparison the widgets describe. Accepted defaults stay implicit, so a shared
    link stays short and keeps following the dataset's defaults."""
    preset = S.get("cmp_preset", "")
    defaults = _defaults(preset, S["cmp_dataset"])
    return Comparison(
        dataset=S["cmp_dataset"],
        variants=tuple(S["cmp_variants"]) or ("baseline",),
        l2=S["cmp_l2"],
        dropout=S["cmp_dropout"],
        augment=S["cmp_augment"],
        epochs=0 if S["cmp_epochs"] == defaults["epochs"] else int(S["cmp_epochs"]),
        seeds=int(S["cmp_seeds"]),
        preset=preset,
        capacity="" if preset or S["cmp_capacity"] == defaults["capacity"] else S["cmp_capacity"],
        train_size=-1
        if preset or S["cmp_train_size"] == defaults["train_size"]
        else int(S["cmp_train_size"]),
    )


def _from_url() -> None:
    comparison, warnings = Comparison.from_query(st.query_params.to_dict())
    S["url_warnings"] = warnings
    S["cmp_preset"] = comparison.preset
    S["cmp_dataset"] = comparison.dataset
    if comparison.dataset not in datasets.registry():
        S.setdefault("own_datasets", {})[comparison.dataset] = datasets.resolve(
            comparison.dataset
        ).title
    S["cmp_variants"] = list(comparison.variants)
    S["cmp_l2"] = min(L2_STEPS, key=lambda v: abs(v - comparison.l2))
    S["cmp_dropout"] = comparison.dropout
    S["cmp_augment"] = comparison.augment
    S["cmp_seeds"] = comparison.seeds
    defaults = _defaults(comparison.preset, comparison.dataset)
    S["cmp_epochs"] = comparison.epochs or defaults["epochs"]
    S["cmp_capacity"] = comparison.capacity or defaults["capacity"]
    S["cmp_train_size"] = (
        comparison.train_size if comparison.train_size >= 0 else defaults["train_size"]
    )
    S["cmp_ready"] = True


def _defaults(preset: str, dataset: str) -> dict:
    """Epochs, capacity and training-set size that the current selection uses by default."""
    try:
        spec = lessons.lesson(preset).specs(0)[0][1] if preset else datasets.base_spec(dataset)
    except (DatasetError, SpecError, KeyError):
        spec = datasets.base_spec("digits")
    return {"epochs": spec.epochs, "capacity": spec.capacity, "train_size": spec.train_size}


def _reset_training_defaults() -> None:
    defaults = _defaults(S.get("cmp_preset", ""), S["cmp_dataset"])
    S["cmp_epochs"] = defaults["epochs"]
    S["cmp_capacity"] = defaults["capacity"]
    S["cmp_train_size"] = defaults["train_size"]


def _choose_what() -> None:
    presets = ["", *lessons.LESSONS]
    st.selectbox(
        "Lesson",
        presets,
        key="cmp_preset",
        on_change=_reset_training_defaults,
        format_func=lambda p: lessons.LESSONS[p].title if p else "Free comparison",
        help="Teacher presets from the course notes; each explains what to look for.",
    )
    if S["cmp_preset"]:
        lesson = lessons.lesson(S["cmp_preset"])
        st.caption(f"Dataset: **{datasets.resolve(lesson.dataset).title}**")
        return
    names = [*datasets.registry(), *S.get("own_datasets", {})]
    st.selectbox(
        "Dataset",
        names,
        key="cmp_dataset",
        format_func=_dataset_label,
        on_change=_reset_training_defaults,
    )
    options = list(VARIANTS)
    if (
        datasets.resolve(S["cmp_dataset"]).info is not None
        and datasets.info(S["cmp_dataset"]).modality == "text"
    ):
        options = [v for v in options if v not in ("augment", "combined")]
    S["cmp_variants"] = [v for v in S["cmp_variants"] if v in options]
    st.multiselect(
        "Variants",
        options,
        key="cmp_variants",
        help="\n".join(f"- **{name}**: {text}" for name, text in VARIANTS.items()),
    )


def _dataset_label(name: str) -> str:
    own = S.get("own_datasets", {})
    if name in own:
        return f"{own[name]} (yours)"
    entry = datasets.registry()[name]
    return (
        entry.title
        if entry.source != "download" or entry.available()
        else (f"{entry.title} — needs a one-time download")
    )


def _choose_strengths() -> None:
    with st.expander("Strengths", expanded=not S["cmp_preset"]):
        st.select_slider("L2 strength", L2_STEPS, key="cmp_l2", format_func=lambda v: f"{v:g}")
        st.slider("Dropout rate", 0.1, 0.8, step=0.05, key="cmp_dropout")
        st.radio("Augmentation", ["light", "strong"], key="cmp_augment", horizontal=True)


def _choose_training() -> None:
    with st.expander("Training", expanded=False):
        st.number_input("Epochs", 1, 1000, key="cmp_epochs")
        st.slider(
            "Seeds",
            1,
            MAX_SEEDS,
            key="cmp_seeds",
            help="Several seeds draw each variant as a mean with a band: is a "
            "difference bigger than the noise?",
        )
        if not S["cmp_preset"]:
            st.selectbox("Base network size", CAPACITIES, key="cmp_capacity")
            st.number_input(
                "Training examples (0 = all)",
                0,
                10**7,
                step=100,
                key="cmp_train_size",
                help="More data is a regularizer too: try 100 against all.",
            )


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
        S["own_data_error"] = f"{upload.name}: {exc}"
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
    S["cmp_preset"] = ""
    S["cmp_dataset"] = name
    _reset_training_defaults()


def _device() -> None:
    device, versions = machine()
    where = scheduler_address()
    st.divider()
    if where:
        st.caption(f"**Training runs on** the Dask cluster at `{where}`")
    else:
        st.caption(f"**Training runs on** {device}, in a local Dask worker")
    st.caption(" · ".join(f"{k} {v}" for k, v in versions.items()))
