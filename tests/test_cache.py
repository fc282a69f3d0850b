import json

import pytest

from core.cache import CacheError, Run, RunStore
from core.spec import SCHEMA_VERSION, ExperimentSpec


def make_run(key="k1", seed=0, created=1.0) -> Run:
    spec = ExperimentSpec(dataset="iris", seed=seed)
    history = tuple(
        {
            "epoch": e,
            "loss": 1.0 / e,
            "val_loss": 1.2 / e,
            "penalty": 0.0,
            "accuracy": 0.5,
            "val_accuracy": 0.4,
            "seconds": 0.01,
        }
        for e in range(1, 4)
    )
    return Run(
        key=key,
        spec=spec,
        fingerprint="fp",
        history=history,
        test={"loss": 0.5, "accuracy": 0.8},
        best_epoch=3,
        params=123,
        meta={"created": created},
    )


def test_save_load_round_trip_is_plain_json(cache_dir):
    store = RunStore()
    run = make_run()
    store.save(run)
    assert store.load("k1") == run
    raw = json.loads((cache_dir / "runs" / "k1" / "run.json").read_text())
    assert raw["schema"] == SCHEMA_VERSION and raw["spec"]["dataset"] == "iris"
    assert not list((cache_dir / "runs" / "k1").glob(".tmp-*")), "temporary file left behind"


def test_load_many_answers_what_is_cached_once_per_key():
    store = RunStore()
    store.save(make_run("a"))
    store.save(make_run("b", seed=1))
    found = store.load_many(["b", "missing", "a", "b"])
    assert list(found) == ["b", "a"] and found["a"] == make_run("a")


def test_list_newest_first_and_delete():
    store = RunStore()
    store.save(make_run("old", created=1.0))
    store.save(make_run("new", seed=1, created=2.0))
    assert [r.key for r in store.list()] == ["new", "old"]
    assert store.delete("old") and not store.has("old")
    assert not store.delete("old")
    assert store.keys() == ["new"]


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # truncated
        lambda text: "not json at all",
        lambda text: text.replace(f'"schema": {SCHEMA_VERSION}', '"schema": 0'),  # older schema
        lambda text: text.replace('"history": [', '"history": ["x", '),
    ],
)
def test_a_damaged_entry_is_a_miss_and_is_set_aside(cache_dir, damage):
    store = RunStore()
    store.save(make_run())
    path = cache_dir / "runs" / "k1" / "run.json"
    path.write_text(damage(path.read_text()))
    assert store.load("k1") is None
    assert not store.has("k1")
    assert list((cache_dir / "quarantine").iterdir()), "damaged entry was not kept aside"
    store.save(make_run())  # and the key can be written again
    assert store.load("k1") is not None


def test_an_entry_filed_under_the_wrong_key_is_a_miss(cache_dir):
    store = RunStore()
    store.save(make_run("k1"))
    (cache_dir / "runs" / "k2").mkdir()
    (cache_dir / "runs" / "k1" / "run.json").rename(cache_dir / "runs" / "k2" / "run.json")
    assert store.load("k2") is None


def test_unwritable_cache_gives_a_clear_error(tmp_path):
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    store = RunStore(blocker / "cache")
    with pytest.raises(CacheError, match="cannot write to the cache"):
        store.save(make_run())
