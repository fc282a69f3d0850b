"""The dashboard through Streamlit's AppTest, with real (tiny) training on a real Dask
cluster: one worker process, as the app starts by default."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from core.cache import RunStore
from core.comparison import Comparison
from core.runner import run_key
from tests.conftest import ROOT

APP = str(ROOT / "streamlit_app.py")
TINY = {"ds": "iris", "v": "baseline,dropout", "ep": "3", "cap": "tiny"}


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local:
        yield local


@pytest.fixture
def app(cluster, monkeypatch, apptest_navigation):
    """A fresh session of the app, its job engine pointed at the test cluster."""
    from ui.engine import engine

    monkeypatch.setenv("OVERFITTING_LAB_SCHEDULER", cluster.scheduler_address)
    engine.clear()

    def make(query: dict | None = None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60)
        for key, value in (query or {}).items():
            at.query_params[key] = value
        return at.run()

    yield make
    engine.clear()


def texts(at: AppTest) -> str:
    parts = [
        e.value
        for e in [
            *at.title,
            *at.caption,
            *at.markdown,
            *at.info,
            *at.warning,
            *at.error,
            *at.subheader,
        ]
    ]
    return "\n".join(str(p) for p in parts)


def run_button(at: AppTest):
    return next(b for b in at.button if b.key == "run")


def train_until_done(at: AppTest, timeout: float = 240) -> AppTest:
    """Click Run, then rerun as the page's polling fragment would, until it finishes."""
    run_button(at).click().run()
    deadline = time.time() + timeout
    while "job" in at.session_state and time.time() < deadline:
        time.sleep(1.0)
        at.run()
    assert "job" not in at.session_state, "training did not finish in time"
    return at


def test_opens_on_an_offline_dataset_ready_to_run(app):
    at = app()
    assert not at.exception
    assert "Regularization on Digits 8x8" in texts(at)
    assert at.selectbox(key="cmp_dataset").value == "digits"
    assert len(at.multiselect(key="cmp_variants").value) == 7
    assert run_button(at).label == "Run (7 to train)"
    assert "Press **Run**" in texts(at)


def test_dataset_and_variant_choices_change_the_comparison_and_the_link(app):
    at = app()
    at.selectbox(key="cmp_dataset").select("iris").run()
    at.multiselect(key="cmp_variants").set_value(["baseline", "l2"]).run()
    at.select_slider(key="cmp_l2").set_value(1e-2).run()
    assert not at.exception
    comparison = at.session_state["comparison"]
    assert comparison.dataset == "iris" and comparison.variants == ("baseline", "l2")
    assert comparison.l2 == 1e-2
    assert at.number_input(key="cmp_epochs").value == 200  # iris's own default
    assert at.query_params["ds"] == "iris" and at.query_params["v"] == "baseline,l2"
    assert run_button(at).label == "Run (2 to train)"


def test_a_shared_link_restores_the_comparison(app):
    at = app({**TINY, "l2": "0.01", "seeds": "2"})
    assert not at.exception
    assert at.selectbox(key="cmp_dataset").value == "iris"
    assert at.multiselect(key="cmp_variants").value == ["baseline", "dropout"]
    assert at.number_input(key="cmp_epochs").value == 3
    assert at.session_state["comparison"].seeds == 2
    assert run_button(at).label == "Run (4 to train)"


def test_a_broken_link_warns_and_falls_back(app):
    at = app({"ds": "../../etc/passwd.csv", "ep": "lots"})
    assert not at.exception
    assert len(at.sidebar.warning) == 2
    assert at.selectbox(key="cmp_dataset").value == "digits"


def test_run_trains_through_the_job_engine_then_replays_from_the_cache(app):
    at = train_until_done(app(TINY))
    assert not at.exception
    labelled = Comparison(
        dataset="iris", variants=("baseline", "dropout"), epochs=3, capacity="tiny"
    ).labelled_specs()
    store = RunStore()
    assert all(store.has(run_key(spec)) for _, spec in labelled)
    assert len(at.get("vega_lite_chart")) >= 3  # loss, accuracy, gap
    summary = next(m.value for m in at.markdown if m.value.startswith("| variant"))
    rows = summary.splitlines()[2:]
    assert [r.split("|")[1].strip() for r in rows] == ["baseline", "dropout"]
    assert all(r.rstrip(" |").endswith("trained") for r in rows)  # by this Run...
    assert run_button(at).label == "All cached" and run_button(at).disabled

    from ui.engine import engine

    trained = engine().trainings()
    again = app(TINY)  # a new session: everything from the cache, nothing trained
    assert not again.exception and "job" not in again.session_state
    assert len(again.get("vega_lite_chart")) >= 3
    summary = next(m.value for m in again.markdown if m.value.startswith("| variant"))
    assert all(r.rstrip(" |").endswith("cached") for r in summary.splitlines()[2:])
    assert engine().trainings() == trained


def test_two_sessions_asking_at_once_share_one_training(app):
    from ui.engine import engine

    query = {**TINY, "seeds": "2"}  # runs no other test trains on this cluster
    first, second = app(query), app(query)
    before = len(engine().trainings())
    run_button(first).click().run()
    run_button(second).click().run()
    for at in (first, second):
        deadline = time.time() + 240
        while "job" in at.session_state and time.time() < deadline:
            time.sleep(1.0)
            at.run()
    keys = [t["key"] for t in engine().trainings()[before:]]
    assert len(keys) == 4 and len(set(keys)) == 4  # each of the 4 runs trained exactly once
    assert not first.exception and not second.exception
    assert run_button(first).label == run_button(second).label == "All cached"


def test_csv_upload_switches_to_the_users_data(app):
    at = app()
    rows = "".join(f"{i % 3},{i},{i % 7},{(i * 5) % 11}\n" for i in range(90))
    at.sidebar.get("file_uploader")[0].set_value(
        ("flowers.csv", f"label,a,b,c\n{rows}".encode(), "text/csv")
    )
    at.run()
    assert not at.exception
    assert at.selectbox(key="cmp_dataset").value.startswith("upload:")
    assert "Regularization on flowers.csv" in texts(at)
    assert "Run (" in run_button(at).label


def test_a_bad_csv_shows_an_error_and_changes_nothing(app):
    at = app()
    at.sidebar.get("file_uploader")[0].set_value(("bad.csv", b"a,b\n1,2\n", "text/csv"))
    at.run()
    assert not at.exception
    assert any("no label column" in e.value for e in at.sidebar.error)
    assert at.selectbox(key="cmp_dataset").value == "digits"


def test_data_page_shows_splits_balance_samples_and_augmentation(app):
    at = app({"ds": "digits"})
    at.switch_page("pages/data.py").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Training examples used"] == "400" and metrics["Test"] == "360"
    assert "Class balance" in texts(at) and "Augmentation preview" in texts(at)
    images = at.get("image")
    assert len(images) >= 10 * 6 + 4  # samples per class, then the augmented rows
    assert "no flips" in texts(at)


def test_model_page_shows_summaries_and_code(app):
    at = app({"ds": "iris", "v": "baseline,batchnorm"})
    at.switch_page("pages/model.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["variant"]) == ["baseline", "batchnorm"]
    assert table["parameters"].iloc[1] > table["parameters"].iloc[0]
    code = [c.value for c in at.code]
    assert any("layers.BatchNormalization()" in c for c in code)
    assert any("Total params" in c for c in code)


def test_runs_page_lists_exports_and_survives_an_empty_cache(app):
    at = app()
    at.switch_page("pages/runs.py").run()
    assert not at.exception and "Nothing cached yet" in texts(at)
    train_until_done(app(TINY))
    at = app()
    at.switch_page("pages/runs.py").run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 2
    assert any("Export shown (2)" in b.label for b in at.get("download_button"))


def test_a_missing_download_explains_itself(app):
    at = app({"ds": "cifar10"})
    assert not at.exception
    assert "python -m core download cifar10" in texts(at)
