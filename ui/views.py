"""A comparison on screen: what it is (built once per run of a page) and its header — title,
the Run or Cancel button, the lesson. ui/results.py draws what follows."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import streamlit as st

from core import datasets
from core.cache import RunStore
from core.comparison import Comparison, Entry
from core.datasets import DatasetError
from core.spec import SpecError
from ui import render
from ui.engine import engine
from ui.render import Curve

S = st.session_state


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
    failed = engine().errors([e.key for e in view.missing])
    return f"Training failed: {next(iter(failed.values()))}" if failed else None


def _submit(view: View) -> None:
    missing = view.missing
    about = {"title": view.title, "query": view.comparison.to_query(), "runs": len(missing)}
    try:
        tasks = engine().submit([e.spec for e in missing], [e.key for e in missing], about)
    except Exception as exc:  # no cluster to talk to: say so, keep the page
        S["run_error"] = f"The job engine cannot be reached ({exc}); cached runs still show."
        return
    S.setdefault("my_tasks", {}).update({t: about for t in tasks})
    S.setdefault("trained_here", set()).update(e.key for e in missing)


def _cancel(view: View) -> None:
    engine().cancel([e.key for e in view.missing])
