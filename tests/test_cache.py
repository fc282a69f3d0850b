"""The run store: plain JSON round trips, one schema checked on every read, and entries that
are not run records set aside instead of crashing the reader."""

import json

import pytest

from core.cache import CacheError, RunStore
from core.spec import SCHEMA_VERSION
from tests.support import key, make_run


def test_save_load_round_trip_is_plain_json(cache_dir):
    store = RunStore()
    run = make_run()
    store.save(run)
    assert store.load(run.key) == run
    raw = json.loads((cache_dir / "runs" / run.key / "run.json").read_text())
    assert raw["schema"] == SCHEMA_VERSION and raw["spec"]["dataset"] == "iris"
    assert not list((cache_dir / "runs" / run.key).glob(".tmp-*")), "temporary file left"


def test_test_scores_are_read_from_the_last_epoch():
    run = make_run()
    assert run.test == {"loss": pytest.approx(1.3 / 3), "accuracy": 0.45}


def test_load_many_answers_what_is_cached_once_per_key():
    store = RunStore()
    store.save(make_run("a"))
    store.save(make_run("b", seed=1))
    found = store.load_many([key("b"), key("missing"), key("a"), key("b")])
    assert list(found) == [key("b"), key("a")] and found[key("a")] == make_run("a")


def test_list_newest_first_and_delete():
    store = RunStore()
    store.save(make_run("old", created=1.0))
    store.save(make_run("new", seed=1, created=2.0))
    assert [r.key for r in store.list()] == [key("new"), key("old")]
    assert store.delete(key("old")) and not store.has(key("old"))
    assert not store.delete(key("old"))
    assert store.keys() == [key("new")]


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # truncated
        lambda text: "not json at all",
        lambda text: text.replace(f'"schema":{SCHEMA_VERSION}', '"schema":0'),  # older schema
        lambda text: text.replace('"history":[', '"history":["x",'),
        lambda text: text.replace('"val_loss":1.2', '"val_loss":"1.2"'),  # text, not a number
        lambda text: text.replace('"val_loss":1.2', '"val_loss":1e400'),  # infinity
        lambda text: text.replace('"val_loss":1.2', '"val_loss":NaN'),
        lambda text: text.replace('"seconds":0.01,', "", 1),  # a required field missing
        lambda text: text.replace('"created":1.0', '"created":"yesterday"'),
        lambda text: text.replace('"params":123', '"params":true'),
        lambda text: "[" * 200_000,  # nested too deep for any parser
        lambda text: "[1, 2, 3]",
        lambda text: "null",
        lambda text: '"hello"',
    ],
)
def test_a_damaged_entry_is_a_miss_and_is_set_aside_once(cache_dir, damage):
    store = RunStore()
    run = make_run()
    store.save(run)
    path = cache_dir / "runs" / run.key / "run.json"
    path.write_text(damage(path.read_text()))
    assert store.load(run.key) is None
    assert not store.has(run.key)
    assert list((cache_dir / "quarantine").iterdir()), "damaged entry was not kept aside"
    assert len(store.notices) == 1 and run.key in store.notices[0]
    assert store.load(run.key) is None and len(store.notices) == 1  # told once
    store.save(run)  # and the key can be written again
    assert store.load(run.key) == run


def test_an_entry_filed_under_the_wrong_key_is_a_miss(cache_dir):
    store = RunStore()
    run = make_run("k1")
    store.save(run)
    other = cache_dir / "runs" / key("k2")
    other.mkdir()
    (cache_dir / "runs" / run.key / "run.json").rename(other / "run.json")
    assert store.load(key("k2")) is None


def test_unwritable_cache_gives_a_clear_error(tmp_path):
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    store = RunStore(blocker / "cache")
    with pytest.raises(CacheError, match="cannot write to the cache"):
        store.save(make_run())
