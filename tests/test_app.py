"""The dashboard through Streamlit's AppTest, with real (tiny) training on a real Dask
cluster: one worker process, as the app starts by default."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from urllib.parse import parse_qsl

import pytest
from streamlit.testing.v1 import AppTest

from core import datasets, lessons
from core.cache import RunStore
from core.comparison import QUERY, Comparison, sweep_values
from core.settings import SETTINGS
from tests.support import ROOT

APP = str(ROOT / "streamlit_app.py")
TINY = {"ds": "iris", "v": "baseline,dropout", "ep": "3", "cap": "tiny"}
# A training that is still running minutes later here (and many seconds on a fast GPU), for
# tests that act while it trains: iris ended within seconds on a fast machine.
LONG = {"ds": "digits", "v": "baseline", "ep": "1000", "cap": "huge"}
MOONS = {"ds": "moons", "v": "baseline,l2", "ep": "6", "cap": "small", "size": "60"}


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

    def make(query: dict | None = None, page: str | None = None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=90)
        for key, value in (query or {}).items():
            at.query_params[key] = value
        at.run()
        if page:  # as if the link named this page: the Compare page rewrote a sweep's link
            at.query_params.clear()
            at.query_params.update(query or {})
            at.switch_page(page).run()
        return at

    yield make
    engine().close()  # its client must not outlive the module's cluster
    engine.clear()


def texts(at: AppTest) -> str:
    parts = [e.value for e in [*at.title, *at.caption, *at.markdown, *at.info, *at.warning,
                               *at.error, *at.subheader]]  # fmt: skip
    return "\n".join(str(p) for p in parts)


def button(at: AppTest, key: str):
    return next((b for b in at.button if b.key == key), None)


def busy(at: AppTest) -> bool:
    return button(at, "cancel") is not None


def until(at: AppTest, done, timeout: float = 240) -> AppTest:
    """Rerun as the page's polling fragment would, until `done(at)`."""
    poll([at], lambda: done(at), timeout)
    return at


def poll(tabs: list[AppTest], done, timeout: float = 240) -> None:
    """Rerun every open tab, as their polling fragments would, until `done()`."""
    deadline = time.time() + timeout
    while not done() and time.time() < deadline:
        time.sleep(0.5)
        for at in tabs:
            at.run()
    assert done(), "the pages never got there"


def train_until_done(at: AppTest) -> AppTest:
    button(at, "run").click().run()
    return until(at, lambda a: not busy(a) and button(a, "run").label == "All cached")


def summary_rows(at: AppTest) -> list[str]:
    table = next(m.value for m in at.markdown if m.value.startswith("| variant"))
    return table.splitlines()[2:]


def charts(at: AppTest) -> list:
    return at.get("vega_lite_chart")


def test_opens_with_the_lesson_above_the_charts_ready_to_run(app):
    at = app()
    assert not at.exception
    assert at.title[0].value == "Regularization on Digits 8x8"
    claim = at.info[0].value
    assert claim.startswith("400 training digits are few for this network")
    assert "Less capacity, L2, Dropout, augmentation and all combined end" in claim
    assert button(at, "run").label == "Run (7 to train)"
    assert len(at.multiselect(key="cmp_variants").value) == 7
    # The Lesson menu marks the lessons whose data is not here yet.
    menu = at.selectbox(key="cmp_preset").options
    assert "CIFAR-10: DNN vs CNN ⤓" in menu and "IMDB: the Keras book's first overfitting ⤓" in menu
    assert "Does BatchNorm help on iris?" in menu  # bundled: no mark
    sources = at.selectbox(key="cmp_dataset").options  # and so does the Dataset menu
    assert "CIFAR-10 — needs a one-time download" in sources and "Iris flowers" in sources


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
    assert button(at, "run").label == "Run (2 to train)"
    # Changed from the dataset's default comparison: no longer the checked claim.
    assert not any("are few for this network" in i.value for i in at.info)


def test_the_status_line_counts_in_words_and_spans_what_varies(app):
    at = app({"preset": "digits-more-data"})
    assert not at.exception
    line = next(c.value for c in at.caption if "training digits" in c.value)
    assert line == ("3 variants × 1 seed · 60 epochs · batch 32 · 50 to 1,149 training digits "
                    "· 0 of 3 runs cached")  # fmt: skip


def test_the_status_line_names_widths_typed_in_the_link(app):
    at = app({"ds": "moons", "w": "40,40"})
    assert not at.exception
    line = next(c.value for c in at.caption if "training points" in c.value)
    assert "· batch 16 · hidden layers 40, 40 wide · 80 training points ·" in line


def test_two_variants_that_are_one_network_count_as_one_run(app):
    """At the smallest size the "less capacity" variant is the baseline: one run, trained
    and cached once, so Run, the status line and the engine's progress all say 6 of 7."""
    at = app({"ds": "iris", "cap": "tiny"})
    assert not at.exception
    assert button(at, "run").label == "Run (6 to train)"
    line = next(c.value for c in at.caption if "training flowers" in c.value)
    assert line.startswith("7 variants × 1 seed") and line.endswith("0 of 6 runs cached")


def test_a_link_value_that_is_no_value_is_one_line_and_off_leaves_no_copy_of_the_baseline(app):
    at = app({"ep": "abc", "do": "off"})
    assert not at.exception
    notes = [w.value for w in at.sidebar.warning]
    assert "ep=abc is not a whole number; using the default" in notes  # no Python text
    assert any(n.startswith("do=off would make the dropout variant a copy") for n in notes)
    assert "dropout" not in at.multiselect(key="cmp_variants").value
    assert at.slider(key="cmp_dropout").value == 0.0  # all combined still has it, off
    assert button(at, "run").label == "Run (6 to train)"


def test_a_shared_link_restores_the_comparison(app):
    at = app({**TINY, "l2": "0.01", "seeds": "2"})
    assert not at.exception
    assert at.selectbox(key="cmp_dataset").value == "iris"
    assert at.multiselect(key="cmp_variants").value == ["baseline", "dropout"]
    assert at.number_input(key="cmp_epochs").value == 3
    assert at.session_state["comparison"].seeds == 2
    assert button(at, "run").label == "Run (4 to train)"


def test_a_broken_link_says_what_it_changed_and_never_crashes(app):
    at = app({"ds": "../../etc/passwd.csv", "ep": "lots", "do": "0.9", "n": "1"})
    assert not at.exception
    notes = [w.value for w in at.sidebar.warning]
    assert len(notes) == 4
    assert any("do=0.9 is above" in n for n in notes) and any("n=1 is below" in n for n in notes)
    assert at.selectbox(key="cmp_dataset").value == "digits"
    assert at.slider(key="cmp_dropout").value == 0.8


def test_run_trains_through_the_job_engine_then_replays_from_the_cache(app):
    at = train_until_done(app(TINY))
    assert not at.exception
    labelled = Comparison(dataset="iris", variants=("baseline", "dropout"), epochs=3,
                          capacity="tiny").entries(RunStore())  # fmt: skip
    assert all(entry.run is not None for entry in labelled)
    assert len(charts(at)) >= 4  # overlay, gap, a panel per variant...
    rows = summary_rows(at)
    assert [r.split("|")[1].strip() for r in rows] == ["baseline", "dropout"]
    assert all(r.rstrip(" |").endswith("trained") for r in rows)  # by this Run...

    from ui.engine import engine

    keys = {e.key for e in labelled}  # workers report trainings asynchronously: wait for them
    until(at, lambda a: keys <= {t["key"] for t in engine().trainings()})
    trained = engine().trainings()
    again = app(TINY)  # a new session: everything from the cache, nothing trained
    assert not again.exception and not busy(again)
    assert all(r.rstrip(" |").endswith("cached") for r in summary_rows(again))
    assert engine().trainings() == trained


def cancelled_here(at: AppTest) -> bool:
    return any(w.value.startswith("Cancelled: ") for w in at.warning)


def epoch_of(keys: list[str]) -> int:
    """How far the training of these runs has got (0: not yet, or not any more)."""
    from ui.engine import engine

    watch = engine().watch(keys)
    return max((rows[-1]["epoch"] for rows in watch.records.values()), default=0) if watch else 0


def test_a_students_cancel_leaves_the_teachers_training_running(app):
    """A second tab with the link (a reload, a student) follows the training and waits for
    it, so it may cancel, like every page that waits: that withdraws only that page, which
    keeps the curves and says the training goes on. The teacher's Cancel, the last page
    waiting, stops it, and both pages show the partial curves."""
    query = LONG
    keys = [e.key for e in Comparison.from_query(query)[0].entries(RunStore())]
    teacher = app(query)
    button(teacher, "run").click().run()
    student = app(query)
    poll([teacher, student], lambda: charts(student) and busy(student), timeout=240)
    assert busy(teacher) and "of epochs" in student.get("progress")[0].proto.text

    button(student, "cancel").click().run()
    assert not busy(student) and button(student, "run").label == "Run (1 to train)"
    assert "the training goes on for 1 other open page waiting for it" in texts(student)
    assert charts(student)  # its curves so far
    epoch = epoch_of(keys)
    poll([teacher, student], lambda: epoch_of(keys) > epoch)  # it trains on for the teacher

    button(teacher, "cancel").click().run()
    poll([teacher, student], lambda: cancelled_here(teacher) and cancelled_here(student))
    assert epoch_of(keys) == 0 and not RunStore().has(keys[0])
    assert button(teacher, "run").label == button(student, "run").label == "Run (1 to train)"


def test_the_session_that_asked_keeps_its_training_from_any_page(app, monkeypatch):
    """The teacher presses Run and reads the Model page: the sidebar's heartbeat keeps the
    training, while a request whose tab was closed lapses (a lease of a few seconds here)."""
    from functools import partial

    from core.jobs import JobEngine
    from core.runner import run_key
    from ui.engine import engine

    monkeypatch.setattr("ui.engine.JobEngine", partial(JobEngine, lease=10))
    query = LONG
    keys = [e.key for e in Comparison.from_query(query)[0].entries(RunStore())]
    teacher = app(query)
    button(teacher, "run").click().run()
    teacher.switch_page("pages/model.py").run()
    closed = replace(Comparison.from_query(query)[0].entries(RunStore())[0].spec, seed=7)
    engine().submit([closed], [run_key(closed)], None, "a closed tab")
    poll([teacher], lambda: not engine().status([run_key(closed)]).pending)  # a lease passed
    assert not teacher.exception and engine().status(keys).pending  # kept by the heartbeat

    teacher.query_params.update(query)
    teacher.switch_page("pages/compare.py").run()
    button(teacher, "cancel").click().run()
    until(teacher, cancelled_here)


def still_training(at: AppTest) -> list:
    return [b for b in at.button if str(b.key).startswith("still-")]


def test_a_change_during_training_offers_its_own_run_and_lists_the_old_one(app):
    query = LONG
    at = app(query)
    button(at, "run").click().run()
    until(at, lambda a: busy(a) and charts(a), timeout=600)
    at.number_input(key="cmp_epochs").set_value(999).run()  # a nudge: another comparison
    assert not busy(at) and not at.exception
    assert button(at, "run").label == "Run (1 to train)"  # the new comparison's own run
    assert at.query_params["ep"] == "999"
    (back,) = still_training(at)  # the old one keeps training, named by what differs
    assert back.label == "Still training: Regularization on Digits 8x8 · Epochs 1000 · 1 run"
    back.click().run()  # back to it: its page, and its link in the address bar
    assert dict(at.query_params) == Comparison.from_query(query)[0].to_query()
    until(at, busy)  # still this session's training
    button(at, "cancel").click().run()
    assert not busy(at)
    cancelled = [w.value for w in at.warning if w.value.startswith("Cancelled: ")]
    assert cancelled and charts(at)  # the partial curves stay, marked
    assert button(at, "run").label == "Run (1 to train)"


def test_two_sessions_asking_at_once_share_one_training(app):
    from ui.engine import engine

    query = {**TINY, "seeds": "2", "ep": "4"}  # runs no other test trains on this cluster
    first, second = app(query), app(query)
    before = len(engine().trainings())
    button(first, "run").click().run()
    second.run()
    if (run := button(second, "run")) is not None and run.label.startswith("Run"):
        button(second, "run").click().run()
    for at in (first, second):
        until(at, lambda a: button(a, "run") and button(a, "run").label == "All cached")
    mine = {e.key for e in Comparison.from_query(query)[0].entries(RunStore())}
    # Workers report trainings asynchronously: wait until each run's report is in.
    until(first, lambda a: mine <= {t["key"] for t in engine().trainings()[before:]})
    keys = [t["key"] for t in engine().trainings()[before:] if t["key"] in mine]
    assert sorted(keys) == sorted(mine)  # each of the 4 runs trained exactly once
    assert button(first, "run").label == button(second, "run").label == "All cached"


def test_decision_boundaries_grow_and_a_cached_comparison_scrubs_them(app):
    at = app(MOONS)
    button(at, "run").click().run()
    until(at, lambda a: not busy(a))
    assert "What each network computes" in texts(at)
    assert any("Background: the probability" in c.value for c in at.caption)
    boundaries = [c for c in charts(at) if '"type": "image"' in str(c.proto.spec)]
    assert len(boundaries) == 2  # baseline and l2: a probability picture each
    scrub = at.select_slider(key="final-at")
    assert scrub.value == 6 and "1" in scrub.options
    scrub.set_value(1).run()
    specs = " ".join(str(c.proto.spec) for c in charts(at))
    assert not at.exception and '"subtitle": "epoch 1"' in specs and "epoch 6" not in specs


def test_fitted_curves_on_the_sine(app):
    at = app({"ds": "sine", "v": "baseline,small", "ep": "5", "size": "30"})
    train_until_done(at)
    assert "What each network computes" in texts(at)
    assert any("each network's prediction" in c.value for c in at.caption)


def test_a_sweep_draws_its_validation_curve(app):
    query = {"ds": "iris", "sweep": "capacity", "vals": "tiny,medium,huge", "ep": "3"}
    at = app(query, page="pages/sweep.py")
    assert not at.exception
    assert at.selectbox(key="cmp_sweep").value == "capacity"
    assert button(at, "run").label == "Run (3 to train)"
    train_until_done(at)
    specs = [str(c.proto.spec) for c in charts(at)]
    assert any("validation (final)" in s and "Network size" in s for s in specs)
    assert [r.split("|")[1].strip() for r in summary_rows(at)] == [
        "Network size = tiny", "Network size = medium", "Network size = huge"]  # fmt: skip


def test_weights_and_penalties(app):
    at = app({**TINY, "v": "baseline,l2,l1"})
    train_until_done(at)
    assert not any("weight norm" in str(c.proto.spec) for c in charts(at))  # on request
    at.toggle(key="show_weights").set_value(True).run()
    specs = [str(c.proto.spec) for c in charts(at)]
    assert any("weight norm (all kernels)" in s for s in specs)
    assert sum("share of weights" in s for s in specs) == 3  # a histogram per variant
    assert any('"penalty"' in s for s in specs)


def test_early_stopping_shows_where_it_would_stop_and_the_restored_test_score(app):
    at = train_until_done(app({**TINY, "ep": "30", "pat": "3"}))
    header = next(m.value for m in at.markdown if m.value.startswith("| variant"))
    assert "stopped at" in header and "restored test loss" in header
    assert any("EarlyStopping(patience, restore_best_weights=True)" in c.value
               for c in at.caption)  # fmt: skip


def test_csv_upload_switches_to_the_users_data(app):
    at = app()
    rows = "".join(f"{i % 3},{i},{i % 7},{(i * 5) % 11}\n" for i in range(90))
    at.sidebar.get("file_uploader")[0].set_value(
        ("flowers.csv", f"label,a,b,c\n{rows}".encode(), "text/csv")
    )
    at.run()
    assert not at.exception
    assert at.selectbox(key="cmp_dataset").value.startswith("upload:")
    assert at.title[0].value == "Regularization on flowers.csv"
    assert "Run (" in button(at, "run").label


def test_a_bad_csv_shows_an_error_and_changes_nothing(app):
    at = app()
    at.sidebar.get("file_uploader")[0].set_value(("bad.csv", b"a,b\n1,2\n", "text/csv"))
    at.run()
    assert not at.exception
    assert any("no label column" in e.value for e in at.sidebar.error)
    assert at.selectbox(key="cmp_dataset").value == "digits"


def test_data_page_shows_splits_balance_samples_and_augmentation(app):
    at = app({"ds": "digits"}, page="pages/data.py")
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Training (used)"] == "400" and metrics["Test"] == "360"
    assert "Class balance" in texts(at) and "Augmentation preview" in texts(at)
    assert len(at.get("image")) == 10 * 6  # samples per class: they never wait for a worker
    until(at, lambda a: "no flips" in texts(a), timeout=600)  # the worker's preview
    assert len(at.get("image")) == 10 * 6 + 2 * 4 * 6  # per level: 4 originals, 5 draws each


def test_data_page_says_what_it_waits_for_then_previews_the_models_noise_layer(app):
    at = app({"ds": "moons"}, page="pages/data.py")
    assert not at.exception
    waiting = [i.value for i in at.info if "A training worker is drawing" in i.value]
    previewed = [c.value for c in at.caption if "GaussianNoise layer" in c.value]
    assert waiting or previewed  # honest while it waits, never an empty section
    until(at, lambda a: sum("GaussianNoise layer" in c.value for c in a.caption) == 2)


def test_model_page_shows_whole_summaries_and_code(app):
    at = app({"ds": "iris", "v": "baseline,batchnorm"}, page="pages/model.py")
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["variant"]) == ["baseline", "batchnorm"]
    assert table["parameters"].iloc[1] > table["parameters"].iloc[0]
    code = [c.value for c in at.code]
    assert any("layers.BatchNormalization()" in c and "load_iris" in c for c in code)
    summaries = [c for c in code if "Total params" in c]
    assert summaries and all("Param #" in s for s in summaries)  # every column, not cut


def test_runs_page_lists_exports_and_deletes_exactly_what_was_picked(app):
    at = app(page="pages/runs.py")
    assert not at.exception and "Nothing cached yet" in texts(at)
    train_until_done(app({**TINY, "v": "baseline,dropout,l2"}))
    at = app(page="pages/runs.py")
    assert not at.exception
    assert sorted(at.dataframe[0].value["variant"]) == ["baseline (tiny)", "dropout 0.5 (tiny)",
                                                        "l2 0.001 (tiny)"]  # fmt: skip
    at.text_input(key="runs_filter").set_value("l2").run()  # one row shown...
    assert len(at.dataframe[0].value) == 1
    assert any("Export shown (1)" in b.label for b in at.get("download_button"))


def test_deleting_removes_exactly_the_confirmed_runs_and_names_them(app):
    train_until_done(app({**TINY, "v": "baseline,dropout,l2"}))
    at = app(page="pages/runs.py")
    table = at.dataframe[0].value
    doomed = table[table["variant"] == "dropout 0.5 (tiny)"]["key"].tolist()
    at.session_state["runs_confirm"] = doomed  # what ticking its row and Delete leave
    at.run()
    assert any("dropout 0.5 (tiny)" in w.value and doomed[0] in w.value for w in at.warning)
    button(at, "runs_yes").click().run()
    assert not at.exception
    left = at.dataframe[0].value
    assert sorted(left["variant"]) == ["baseline (tiny)", "l2 0.001 (tiny)"]
    assert at.session_state["runs_generation"] == 1  # a fresh table: nothing ticked


def test_a_stale_selection_beyond_a_shorter_table_is_no_row():
    from ui.runs_view import selected_keys

    shown = [{"key": "a"}, {"key": "b"}]
    assert selected_keys([1, 2, 5], shown) == ["b"]
    assert selected_keys([], shown) == []


def test_a_missing_download_explains_itself(app):
    at = app({"ds": "cifar10"})
    assert not at.exception
    assert "python -m core download cifar10" in texts(at)


def test_a_cached_boundary_comparison_draws_without_tensorflow(cache_dir, apptest_navigation):
    """Trained here, then drawn in a fresh process that must never import TensorFlow."""
    precompute("run", "--dataset", "moons", "--variants", "baseline,l2", "--epochs", "6",
               "--capacity", "small", "--size", "60")  # fmt: skip
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from streamlit.testing.v1 import AppTest
        from streamlit.runtime.pages_manager import PagesManager
        init = PagesManager.__init__
        def patched(self, *a, **k):
            init(self, *a, **k)
            PagesManager.uses_pages_directory = False
        PagesManager.__init__ = patched
        at = AppTest.from_file({APP!r}, default_timeout=90)
        for k, v in {MOONS!r}.items():
            at.query_params[k] = v
        at.run()
        assert not at.exception, at.exception
        assert any("What each network computes" in s.value for s in at.subheader)
        heavy = [m for m in ("tensorflow", "keras") if m in sys.modules]
        print("IMPORTED", heavy)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, env=os.environ | {"PYTHONPATH": str(ROOT)})  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "IMPORTED []" in done.stdout


# --- the link is the state: every transition, every hostile value -------------------------

CACHED_LESSON = "iris-batchnorm"  # the cheapest lesson to train whole: precomputed below


def every_pair(nodes: list) -> list:
    """A walk through every ordered pair of distinct nodes exactly once: an Eulerian
    circuit of the complete directed graph (Hierholzer)."""
    left = {a: [b for b in nodes if b != a] for a in nodes}
    stack, walk = [nodes[0]], []
    while stack:
        if left[stack[-1]]:
            stack.append(left[stack[-1]].pop())
        else:
            walk.append(stack.pop())
    return walk[::-1]


def on_screen(at: AppTest) -> Comparison:
    """The comparison the widgets show, built from their values alone."""
    shown = {w.key[len("cmp_"):]: w.value for kind in WIDGETS for w in at.get(kind)
             if str(getattr(w, "key", "")).startswith("cmp_")}  # fmt: skip
    comparison = Comparison(preset=shown.pop("preset"), dataset=shown.pop("dataset", "digits"))
    if "variants" in shown:
        comparison = replace(comparison, variants=tuple(shown.pop("variants")))
    if "sweep" in shown:
        knob = shown.pop("sweep")
        comparison = replace(
            comparison, sweep=knob, values=sweep_values(knob, shown.pop("values"))[0]
        )
    for name, value in shown.items():
        if name not in ("upload", "folder"):
            comparison = comparison.with_value(name, value)
    return comparison.fitted([])


WIDGETS = ("selectbox", "multiselect", "text_input", "select_slider", "slider", "number_input",
           "radio", "toggle", "segmented_control")  # fmt: skip


def check(at: AppTest, store: RunStore, step: str) -> None:
    """No exception; the link is the canonical link of what is on screen; the page shows
    that comparison; and it says cached exactly when the cache has every run."""
    assert not at.exception, (step, [e.value for e in at.exception])
    shown = on_screen(at)
    assert dict(at.query_params) == shown.to_query(), step
    assert at.session_state["comparison"] == shown, step
    title = shown.lesson.title if shown.lesson else None
    if title and at.title:
        assert at.title[0].value == title, step
    if button(at, "run") is not None:  # not for a dataset that needs a download
        cached = all(e.run for e in shown.entries(store))
        assert (button(at, "run").label == "All cached") == cached, step


def one_more_click(at: AppTest, turn: int) -> str:
    """Every other step the loss axis flips; otherwise a slider moves one step (or, with
    no slider in the sidebar, the epochs box). A page that waits for a download has no
    loss axis."""
    if turn % 2 == 0 and at.get("segmented_control"):
        scale = at.segmented_control(key="cmp_scale")
        scale.set_value("log" if scale.value == "linear" else "linear").run()
        return "scale"
    steps = [s for s in at.sidebar.get("select_slider") if s.key.startswith("cmp_")]
    sliders = [s for s in at.sidebar.get("slider") if s.key.startswith("cmp_")]
    if steps:
        setting = SETTINGS[steps[0].key[len("cmp_") :]]
        options = [setting.off, *setting.steps]
        steps[0].set_value(options[(options.index(steps[0].value) + 1) % len(options)]).run()
        return steps[0].key
    if sliders:
        slider = sliders[0]
        up = round(slider.value + slider.step, 2)
        slider.set_value(up if up <= slider.max else slider.min).run()
        return slider.key
    at.number_input(key="cmp_epochs").increment().run()
    return "cmp_epochs"


def precompute(*args: str) -> None:
    """Train into this test's cache as a teacher does before class, in a process of its
    own (TensorFlow in this one would slow every later AppTest run fiftyfold)."""
    done = subprocess.run([sys.executable, "-m", "core", *args, "--quiet"], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture
def cached_lesson(apptest_navigation) -> RunStore:
    """One whole lesson trained into this test's cache, as a teacher's precompute does."""
    precompute("precompute", "--preset", CACHED_LESSON)
    return RunStore()


def walk(at: AppTest, store: RunStore, widget: str, nodes: list) -> int:
    """Choose every node after every other (then one more click each), checking every
    step; returns how often the cached lesson was on screen."""
    seen_cached = 0
    if at.selectbox(key=widget).value != nodes[0]:
        at.selectbox(key=widget).select(nodes[0]).run()
    for turn, node in enumerate(every_pair(nodes)[1:]):
        at.selectbox(key=widget).select(node).run()
        check(at, store, f"{widget} -> {node!r}")
        seen_cached += node == CACHED_LESSON
        clicked = one_more_click(at, turn)
        check(at, store, f"{widget} -> {node!r}, then {clicked}")
    return seen_cached


def test_every_transition_keeps_the_link_the_state(cached_lesson):
    """Every lesson to every other and to the free comparison, every offline dataset to
    every other, Compare to Sweep and back, each followed by one more click."""
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["preset"] = CACHED_LESSON
    at.run()
    check(at, cached_lesson, "opened")
    assert button(at, "run").label == "All cached"
    compare = ["", *(n for n, item in lessons.LESSONS.items() if not item.sweep)]
    nodes = [CACHED_LESSON, *(n for n in compare if n != CACHED_LESSON)]
    assert walk(at, cached_lesson, "cmp_preset", nodes) == len(nodes) - 1
    at.selectbox(key="cmp_preset").select("").run()
    offline = [n for n, d in datasets.registry().items() if d.source != "download"]
    walk(at, cached_lesson, "cmp_dataset", offline)
    for turn, name in enumerate(offline):  # Compare <-> Sweep, through the pages' own links
        at.selectbox(key="cmp_dataset").select(name).run()
        for page in ("Sweep", "Compare"):
            follow(at, page)
            check(at, cached_lesson, f"{name}: to {page}")
            clicked = one_more_click(at, turn)
            check(at, cached_lesson, f"{name}: to {page}, then {clicked}")
    follow(at, "Sweep")
    sweeps = ["", *(n for n, item in lessons.LESSONS.items() if item.sweep)]
    walk(at, cached_lesson, "cmp_preset", sweeps)


def follow(at: AppTest, title: str) -> None:
    """Click a page in the sidebar: its link carries the comparison."""
    (link,) = [p.proto for p in at.sidebar.get("page_link") if p.proto.label == title]
    at.query_params.clear()
    at.query_params.update(parse_qsl(link.query_string))
    at.switch_page(f"pages/{title.lower()}.py").run()


PAGES = ("pages/compare.py", "pages/sweep.py", "pages/data.py", "pages/model.py",
         "pages/runs.py")  # fmt: skip
# Values that once crashed pages: a slider's minimum above 0, numpy's scale < 0, "off".
HOSTILE = ("0", "-0", "off", "1e-999")
FIELD_REPORT = [{"ds": "sine", "ln": "0.2"}, {"ds": "moons", "noise": "-0"},
                {"ds": "iris", "sweep": "train_size", "vals": "10,100,1000"},
                {"ds": "breast_cancer", "sweep": "l2"}, {"l2": "off"}, {"do": "off"}]  # fmt: skip


def hostile_links() -> list[dict]:
    """Every key of a link with every hostile value, where it would apply."""
    where = {"vals": {"ds": "moons", "sweep": "l2"}, "ds": {}, "preset": {}}
    applies = {"ds": "moons", "v": "baseline,l1,l2,dropout,augment"}
    keys = [*QUERY.values(), *(s.url for s in SETTINGS.values() if s.url)]
    return [where.get(key, applies) | {key: raw} for key in keys for raw in HOSTILE]


@pytest.mark.parametrize("page", PAGES)
def test_no_link_breaks_any_page(app, page):
    """Every key x 0, -0, off, 1e-999 (and the links of the field report) on every page:
    no exception, and the link the page writes back is canonical."""
    at = app(page=page)
    for query in [*hostile_links(), *FIELD_REPORT]:
        at.query_params.clear()
        at.query_params.update(query)
        at.run()
        assert not at.exception, (page, query, [e.value for e in at.exception])
        back, notes = Comparison.from_query(dict(at.query_params))
        assert notes == [] and back == at.session_state["comparison"], (page, query)


def test_a_request_above_the_budget_says_why_instead_of_run(app, monkeypatch):
    """The server's budget (core.jobs.budget_problem) decides; the page shows its words."""
    from ui import views

    def budget(specs) -> str | None:
        return f"{len(specs)} runs are more than this server allows; choose fewer variants" \
            if len(specs) > 2 else None  # fmt: skip

    monkeypatch.setattr(views, "budget_problem", budget)
    at = app()
    assert not at.exception and button(at, "run") is None
    assert "7 runs are more than this server allows" in texts(at)
    assert "Press **Run**" not in texts(at)  # no Run to press: what to do instead
    assert "Make it smaller as the red note says" in at.info[-1].value
    at.multiselect(key="cmp_variants").set_value(["baseline", "l2"]).run()
    assert button(at, "run").label == "Run (2 to train)"


def test_time_left_says_estimating_until_the_server_has_a_figure():
    from core.jobs import Watch
    from ui.live import progress
    from ui.views import View

    comparison = Comparison.from_query(TINY)[0]
    view = View(comparison, comparison.entries(RunStore()), "t", None, datasets.info("iris"))
    watch = Watch({}, {}, running=2, queued=0, ahead=0, seconds_left=None, tasks=())
    assert progress(view, watch)[1] == "0% of epochs · training 2 runs, estimating the time left…"
    later = Watch({}, {}, running=2, queued=0, ahead=0, seconds_left=30.0, tasks=())
    assert progress(view, later)[1] == "0% of epochs · training 2 runs, about 30 s left"
    ending = Watch({}, {}, running=2, queued=0, ahead=0, seconds_left=0.4, tasks=())
    assert progress(view, ending)[1] == "0% of epochs · training 2 runs, about 1 s left"


def test_a_queued_request_says_what_is_ahead_and_starting_only_when_a_worker_starts():
    """Queued behind another request's training, the page said "starting a worker"."""
    from core.jobs import Watch
    from ui.live import progress
    from ui.views import View

    comparison = Comparison.from_query(TINY)[0]
    view = View(comparison, comparison.entries(RunStore()), "t", None, datasets.info("iris"))

    def said(**counts) -> str:
        return progress(view, Watch({}, {}, seconds_left=None, tasks=(), **counts))[1]

    assert said(running=0, queued=2, ahead=7) == (
        "0% of epochs · 2 runs queued behind 7 runs of other requests"
    )
    assert said(running=1, queued=1, ahead=0) == (
        "0% of epochs · training 1 run, estimating the time left… · 1 run queued"
    )
    assert said(running=0, queued=0, ahead=0, starting=2) == (
        "0% of epochs · 2 runs starting on a worker"
    )


def test_untrained_pictures_of_a_free_comparison_draw_before_any_loss_exists():
    """/?ds=circles&l2=0.003 (a free comparison: no claim names the variants) showed "This
    app has encountered an error" until the first epoch: its starting pictures have no loss
    yet, and the page ranked the variants by final loss to stress the best."""
    from ui import results
    from ui.render import Curve
    from ui.views import View

    comparison = Comparison.from_query({"ds": "circles", "l2": "0.003"})[0]
    view = View(comparison, comparison.entries(RunStore()), "t", None, datasets.info("circles"))
    assert view.missing and not results.claims_of(view)
    starting = [Curve(e.label, e.spec.seed, [{"epoch": 0, "probe": {}}]) for e in view.entries]
    palette = results.palette_of(view, starting)  # none is ahead yet: every one in colour
    assert not palette.focus and all(palette.stressed(e.label) for e in view.entries)
