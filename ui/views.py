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
from core.jobs import Status
from core.report import count, span
from core.settings import SETTINGS
from core.spec import SpecError
from ui import render
from ui.engine import engine, requester
from ui.render import Curve

S = st.session_state
WARM_ASKED_KEPT = 32  # the sets of runs a session has asked a worker to warm, latest kept


@dataclass
class View:
    comparison: Comparison
    entries: list[Entry]
    title: str
    claim: str | None
    info: datasets.DatasetInfo
    trained_here: set = field(default_factory=set)  # keys this session asked to train
    status: Status = field(default_factory=Status)  # the missing runs, as the engine sees them

    @property
    def in_flight(self) -> set[str]:
        """Missing runs training or queued now (anyone's)."""
        return set(self.status.pending)

    @property
    def waiting(self) -> set[str]:
        """Runs in flight this page waits for (every page that shows them does, until it
        presses Cancel): what its Cancel withdraws from."""
        return self.in_flight - set(self.status.withdrawn)

    @property
    def labels(self) -> list[str]:
        return list(dict.fromkeys(e.label for e in self.entries))

    @property
    def missing(self) -> list[Entry]:
        return [e for e in self.entries if e.run is None]

    @property
    def to_train(self) -> list[Entry]:
        """What Run asks for: missing runs nobody is training, and those this page
        cancelled while others still wait for them (Run waits for them again)."""
        return [e for e in self.missing if e.key not in self.waiting]

    @cached_property
    def refused(self) -> str | None:
        """Why the server's budget refuses to train the missing runs, or None. Joining a
        training already in flight costs nothing."""
        fresh = [e.spec for e in self.to_train if e.key not in self.in_flight]
        return budget_problem(fresh) if fresh else None

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
    status = engine().status([e.key for e in entries if e.run is None], requester())
    return View(comparison, entries, title, claim, info, set(S.get("trained_here", ())), status)


def _title(comparison: Comparison, data: str) -> str:
    if comparison.lesson:
        return comparison.lesson.title
    if comparison.sweep:
        return f"{SETTINGS[comparison.sweep].label} sweep on {data}"
    return f"Regularization on {data}"


def runs(entries: list[Entry]) -> int:
    """How many runs these entries are: two variants can be one network (at the smallest
    size the "less capacity" variant is the baseline), trained and cached once."""
    return len({e.key for e in entries})


def header(view: View) -> None:
    """Title and buttons on one line, the lesson under it. Run starts the missing runs
    nobody is training (queued behind those running) and waits for those in flight; every
    page that waits for a training shows Cancel, which withdraws only that page; a request
    above the server's budget shows why instead of a Run button."""
    todo, waiting, refused = view.to_train, view.waiting, view.refused
    run = bool(todo) and refused is None
    title, *slots = st.columns([4, 1, 1] if run and waiting else [5, 1],
                               vertical_alignment="bottom")  # fmt: skip
    title.title(view.title)
    if run:
        slots.pop(0).button(f"Run ({runs(todo)} to train)", type="primary", key="run",
                            on_click=_submit, args=(view,), width="stretch")  # fmt: skip
        _warm(todo)
    if waiting:
        # No tooltip: after a click it stayed over the progress line while the mouse
        # rested there; what Cancel did is said right under it (ui.live).
        slots.pop(0).button("Cancel", key="cancel", on_click=_cancel, args=(view,),
                            width="stretch")  # fmt: skip
    if slots and not view.missing:
        slots[0].button("All cached", key="run", disabled=True, width="stretch")
    if view.claim:
        st.info(view.claim, icon=":material/school:")
    for problem in (refused, _failures(view)):
        if problem:
            st.error(problem)


def status_line(view: View) -> str:
    """What is compared, in numbers: "3 variants × 1 seed · 60 epochs · batch 32 · 50 to
    1,149 training digits · 3 of 3 runs cached", with the hidden layers' widths where the
    link types them."""
    first = view.entries[0].spec
    cached = runs([e for e in view.entries if e.run is not None])
    kind = "value" if view.comparison.is_sweep() else "variant"
    widths = view.comparison.base_spec().widths  # typed in the link: no size names them
    return " · ".join([
        f"{count(len(view.labels), kind)} × {count(view.comparison.seeds, 'seed')}",
        f"{span([e.spec.epochs for e in view.entries])} epochs",
        f"batch {first.batch_size}",
        *([f"hidden layers {widths.replace(',', ', ')} wide"] if widths else []),
        f"{span(_examples(view))} training {view.info.noun}",
        f"{cached} of {count(runs(view.entries), 'run')} cached",
    ])  # fmt: skip


def _examples(view: View) -> list[int]:
    """How many training examples each run learns from: as the worker counted them (no
    need to load the data), or from the data."""

    def size(e: Entry) -> tuple:  # what decides the count: points generated, examples used
        return e.spec.data_size, e.spec.train_size

    counted = {size(e): e.run.meta["train_examples"] for e in view.entries
               if e.run and "train_examples" in e.run.meta}  # fmt: skip
    for e in view.entries:
        if size(e) not in counted:
            counted[size(e)] = datasets.for_spec(e.spec).train_count(e.spec.train_size)
    return list(counted.values())


def _failures(view: View) -> str | None:
    error = view.status.error
    return f"Training failed: {error}" if error else None


def _warm(todo: list[Entry]) -> None:
    """While the teacher reads the page, the worker traces the loop Run would train these
    runs in (a structure nobody trained: a variant ticked, widths typed): asked once per
    session and set of runs."""
    keys = frozenset(e.key for e in todo)
    asked = S.setdefault("warm_asked", [])
    if keys not in asked and engine().warm(list({e.key: e.spec for e in todo}.values())):
        asked.append(keys)
        del asked[:-WARM_ASKED_KEPT]


def _submit(view: View) -> None:
    """Ask for every missing run: those in flight are joined, the rest queued."""
    missing = view.missing
    page = "pages/sweep.py" if view.comparison.is_sweep() else "pages/compare.py"
    about = {"title": view.title, "query": view.comparison.to_query(), "page": page,
             "runs": runs(missing)}  # fmt: skip
    # No cluster to talk to fails these runs, saying so (core.jobs.JobEngine._release).
    tasks = engine().submit([e.spec for e in missing], [e.key for e in missing], about,
                            requester=requester(), warm=view.comparison.size_moves())  # fmt: skip
    S.setdefault("my_tasks", {}).update({t: about for t in tasks})
    S.setdefault("trained_here", set()).update(e.key for e in missing)


def _cancel(view: View) -> None:
    """This page stops waiting: a training another open page waits for goes on."""
    for task in engine().withdraw(sorted(view.waiting), requester()):
        S.get("my_tasks", {}).pop(task, None)  # the heartbeat no longer keeps it
    S["trained_here"] = S.get("trained_here", set()) - view.waiting
