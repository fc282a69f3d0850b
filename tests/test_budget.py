"""What one request may cost: every lesson and default comparison fits the server's limit,
the huge link does not, and the refusal says what to reduce; the command line checks the
same limit (unless told to ignore it), its seeds and its sweep values, in one line each."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core import budget, datasets, lessons
from core.comparison import Comparison
from core.config import MAX_COST_ENV, ConfigError
from core.spec import ExperimentSpec

# /?ds=mnist5k&cap=huge&ep=1000&seeds=5&v=baseline,small,l1,l2,dropout,batchnorm,augment,combined
HUGE = Comparison(dataset="mnist5k", capacity="huge", epochs=1000, seeds=5,
                  variants=("baseline", "small", "l1", "l2", "dropout", "batchnorm", "augment",
                            "combined"))  # fmt: skip
# Training examples of the downloaded datasets (their official training split less the
# validation fifth): what their lessons cost once downloaded.
DOWNLOADED = {"mnist": 48_000, "fashion_mnist": 48_000, "cifar10": 40_000, "imdb": 20_000}


def specs(comparison: Comparison) -> list[ExperimentSpec]:
    return [spec for _, spec in comparison.labelled_specs()]


@pytest.fixture
def downloaded_sizes(monkeypatch):
    """The split sizes of the datasets this machine cannot download."""
    counted = budget.train_examples

    def examples(spec: ExperimentSpec) -> int:
        if spec.dataset not in DOWNLOADED:
            return counted(spec)
        available = DOWNLOADED[spec.dataset]
        return min(spec.train_size, available) if spec.train_size > 0 else available

    monkeypatch.setattr(budget, "train_examples", examples)


def test_every_lesson_and_default_comparison_fits_and_the_huge_link_does_not(downloaded_sizes):
    for name in lessons.LESSONS:
        assert budget.budget_problem(specs(Comparison(preset=name))) is None, name
    for name in datasets.registry():  # what the link ?ds=NAME opens
        default = Comparison.from_query({"ds": name})[0]
        assert budget.budget_problem(specs(default)) is None, name
    for name in lessons.offline():  # offline lessons fit with as many seeds as a link takes
        assert budget.budget_problem(specs(Comparison(preset=name, seeds=5))) is None, name
    problem = budget.budget_problem(specs(HUGE))
    assert problem and "\n" not in problem
    assert "40 run(s) × 1,000 epochs × 1,000 training digits" in problem
    for what in ("epochs", "seeds", "variants", "training examples", "smaller network"):
        assert what in problem


def test_the_epochs_the_refusal_suggests_do_fit():
    problem = budget.budget_problem(specs(HUGE))
    epochs = int(problem.split("about ")[1].split(" would fit")[0].replace(",", ""))
    assert budget.budget_problem(specs(replace(HUGE, epochs=epochs))) is None
    assert budget.budget_problem(specs(replace(HUGE, epochs=epochs + 10)))


def test_the_operator_sets_the_limit_and_a_bad_value_is_one_line(monkeypatch):
    default = specs(Comparison(dataset="digits"))
    assert budget.budget_problem(default) is None
    monkeypatch.setenv(MAX_COST_ENV, "0.01")
    assert "over this server's limit of 0.01" in budget.budget_problem(default)
    for bad in ("lots", "inf", "-1", "1e400"):
        monkeypatch.setenv(MAX_COST_ENV, bad)
        with pytest.raises(ConfigError, match=MAX_COST_ENV):
            budget.limit()


def _cli(*args, env: dict | None = None):
    import os
    import subprocess
    import sys

    from tests.support import ROOT

    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=os.environ | (env or {}))  # fmt: skip


def _one_line(done) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_the_command_line_refuses_too_many_seeds_or_sweep_values_in_one_line():
    seeds = ",".join(map(str, range(20000)))
    line = _one_line(_cli("run", "--dataset", "iris", "--seeds", seeds))
    assert line == "error: --seeds takes at most 5 different seeds, not 20,000"
    values = ",".join(str(v / 1000) for v in range(11))
    line = _one_line(_cli("run", "--dataset", "iris", "--sweep", f"dropout={values}"))
    assert line == "error: --sweep takes at most 10 different values, not 11"


def test_the_command_line_trains_over_the_limit_only_when_told_to(cache_dir):
    from core.cache import RunStore

    args = ["run", "--dataset", "iris", "--variants", "baseline", "--epochs", "4"]
    small = {MAX_COST_ENV: "1e-6"}  # a million; this run is about 100 million
    line = _one_line(_cli(*args, env=small))
    assert "over this server's limit" in line and "--ignore-budget" in line
    assert not RunStore().keys()
    done = _cli(*args, "--ignore-budget", env=small)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(RunStore().keys()) == 1
