"""A comparison on screen: what it is (built once per run of a page) and its header — title,
the Run or Cancel button, the lesson. ui/results.py draws what follows."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import streamlit as st

from core import datasets
from core.budget import budget_problem
from core.cache import RunStore
from core.comparison import Comparison, Entry
from core.datasets import DatasetError
from core.settings import SETTINGS
from core.spec import SpecError
from ui import render
from ui.engine import engine, requester
from ui.render import Curve

S = st.session_state


@dataclass
class View:
    comparison: Comparison
    entries: list[Entry]
    title: str
    claim: str | None
    info: datasets.DatasetInfo
    trained_here: set = field(default_factory=set)  # keys this session asked to train
    in_flight: set = field(default_factory=set)  # missing keys training or queued now

    @property
    def labels(self) -> list[str]:
        return list(dict.fromkeys(e.label for e in self.entries))

    @property
    def missing(self) -> list[Entry]:
        return [e for e in self.entries if e.run is None]

    @property
    def to_train(self) -> list[Entry]:
        """Missing runs nobody is training: what Run starts."""
        return [e for e in self.missing if e.key not in self.in_flight]

    @property
    def mine(self) -> set[str]:
        """Runs in flight that this session asked for: only these may it cancel."""
        return self.in_flight & self.trained_here

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
        title = _title(comparison, dataset.title)
        problem = dataset.missing()
        if problem:
            st.title(title)
            st.warning(problem)
            st.stop()
        entries = comparison.entries(RunStore())
        info = datasets.info(name)
        claim = comparison.claim_text([e.run for e in entries if e.run])
    except (DatasetError, SpecError) as exc:
        st.error(str(exc))
        st.stop()
    flying = _in_flight([e.key for e in entries if e.run is None])
    return View(comparison, entries, title, claim, info, set(S.get("trained_here", ())), flying)


def _title(comparison: Comparison, data: str) -> str:
    if comparison.lesson:
        return comparison.lesson.title
    if comparison.sweep:
        return f"{SETTINGS[comparison.sweep].label} sweep on {data}"
    return f"Regularization on {data}"


def _in_flight(keys: list[str]) -> set[str]:
    """Which of these run keys a worker is training or will train (any session's)."""
    tasks = engine().mine(engine().inflight(keys))
    return {k for task in tasks for k in task.keys} & set(keys)


def header(view: View) -> None:
    """Title and buttons on one line, the lesson under it. Run starts the missing runs
    nobody is training (queued behind those running); Cancel withdraws this session's
    request, and only the session that asked sees it; a request above the server's budget
    shows why instead of a Run button."""
    todo, mine = view.to_train, view.mine
    refused = budget_problem([e.spec for e in todo]) if todo else None
    run = bool(todo) and refused is None
    title, *slots = st.columns([4, 1, 1] if run and mine else [5, 1], vertical_alignment="bottom")
    title.title(view.title)
    if run:
        slots.pop(0).button(f"Run ({len(todo)} to train)", type="primary", key="run",
                            on_click=_submit, args=(view,), width="stretch")  # fmt: skip
    if mine:
        slots.pop(0).button("Cancel", key="cancel", on_click=_cancel, args=(view,),
                            width="stretch")  # fmt: skip
    if slots and not refused:  # nothing this session can do: say why
        label = "Training…" if view.in_flight else "All cached"
        slots[0].button(label, key="run", disabled=True, width="stretch")
    if view.claim:
        st.info(view.claim, icon=":material/school:")
    for problem in (refused, S.pop("run_error", None), _failures(view)):
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
    """Ask for every missing run: those in flight are joined, the rest queued."""
    missing = view.missing
    page = "pages/sweep.py" if view.comparison.is_sweep() else "pages/compare.py"
    about = {"title": view.title, "query": view.comparison.to_query(), "page": page,
             "runs": len(missing)}  # fmt: skip
    try:
        tasks = engine().submit([e.spec for e in missing], [e.key for e in missing], about,
                                requester=requester())  # fmt: skip
    except Exception as exc:  # no cluster to talk to: say so, keep the page
        S["run_error"] = f"The job engine cannot be reached ({exc}); cached runs still show."
        return
    S.setdefault("my_tasks", {}).update({t: about for t in tasks})
    S.setdefault("trained_here", set()).update(e.key for e in missing)


def _cancel(view: View) -> None:
    """Withdraw this session's request: a training another session asked for goes on."""
    engine().withdraw(sorted(view.mine), requester())
    S["trained_here"] = S.get("trained_here", set()) - view.mine
