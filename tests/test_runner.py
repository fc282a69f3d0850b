import threading
from dataclasses import replace

import pytest

import core.training
from core.cache import RunStore
from core.runner import execute, run_key
from core.spec import ExperimentSpec, make_variant

BASE = ExperimentSpec(dataset="iris", capacity="small", epochs=3, batch_size=16)


@pytest.fixture
def trainings(monkeypatch):
    """Counts every spec that is actually trained (not loaded)."""
    trained = []
    real = core.training.train

    def counting(specs, data, **kwargs):
        trained.extend(run_key(s) for s in specs)
        return real(specs, data, **kwargs)

    monkeypatch.setattr(core.training, "train", counting)
    return trained


def test_second_request_is_served_from_the_cache(trainings):
    specs = [BASE, make_variant(BASE, "l2")]
    first = execute(specs)
    assert [r.cached for r in first] == [False, False] and len(trainings) == 2
    second = execute(specs + [make_variant(BASE, "dropout")])
    assert [r.cached for r in second] == [True, True, False]
    assert [r.run for r in second[:2]] == [r.run for r in first]
    assert len(trainings) == 3
    assert RunStore().has(run_key(specs[0]))


def test_duplicates_in_one_request_train_once(trainings):
    results = execute([BASE, BASE, replace(BASE)])
    assert len(trainings) == 1 and results[0].run == results[2].run


def test_concurrent_identical_requests_train_once(trainings):
    specs = [BASE, make_variant(BASE, "batchnorm")]
    barrier = threading.Barrier(4)
    outcomes = []

    def request():
        barrier.wait()
        outcomes.append(execute(specs))

    threads = [threading.Thread(target=request) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 4
    assert sorted(trainings) == sorted(run_key(s) for s in specs)  # each exactly once
    for outcome in outcomes:
        assert [r.run.key for r in outcome] == [run_key(s) for s in specs]
    trained_here = [r.cached for outcome in outcomes for r in outcome].count(False)
    assert trained_here == 2


def test_progress_is_reported_by_run_key():
    seen = {}
    specs = [BASE, make_variant(BASE, "dropout")]
    execute(specs, on_progress=lambda key, record: seen.setdefault(key, []).append(record["epoch"]))
    assert seen == {run_key(s): [1, 2, 3] for s in specs}
