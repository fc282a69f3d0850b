from dataclasses import replace

import pytest

from core import datasets, lessons
from core.comparison import Comparison
from core.lessons import LESSONS
from core.settings import SETTINGS
from core.spec import DEFAULT_VARIANTS

OFFLINE = [n for n, d in datasets.registry().items() if d.source != "download"]


def test_a_comparison_survives_the_url_and_defaults_stay_out_of_it():
    assert Comparison().to_query() == {}
    custom = Comparison(
        dataset="iris",
        variants=("baseline", "l2", "dropout", "augment"),
        l2=0.01,
        dropout=0.3,
        augment="strong",
        epochs=12,
        seeds=3,
        capacity="small",
        train_size=50,
        label_noise=0.1,
        patience=5,
    )
    query = custom.to_query()
    assert query["ds"] == "iris" and query["v"] == "baseline,l2,dropout,augment"
    back, warnings = Comparison.from_query(query)
    assert back == custom and warnings == []


def test_a_hostile_or_broken_link_is_clamped_or_ignored_piece_by_piece():
    query = {
        "ds": "/etc/passwd.csv",
        "v": "baseline,rm -rf",
        "l2": "-1",
        "do": "0.99",
        "ep": "1e9",
        "seeds": "50",
        "preset": "nope",
        "cap": "galactic",
        "n": "x",
        "aug": "sideways",
    }
    comparison, notes = Comparison.from_query(query)
    # Numbers out of range are clamped to the table (with a note), nonsense is dropped.
    assert comparison == Comparison(l2=1e-5, dropout=0.8, epochs=1000, seeds=5)
    assert len(notes) == len(query)
    assert any("outside the folders" in n for n in notes)
    assert any("do=0.99 is above the dropout rate range" in n for n in notes)


def test_links_from_the_field_report_open_with_a_visible_note():
    cases = {
        "do=0.9": ({"do": "0.9"}, "dropout", 0.8),
        "l2=1": ({"l2": "1"}, "l2", 0.1),
        "n=10000000": ({"n": "10000000"}, "train_size", None),  # all of it: the default
        "n=1": ({"n": "1"}, "train_size", 10),
    }
    for name, (query, field, expected) in cases.items():
        comparison, notes = Comparison.from_query({"ds": "wine", **query})
        assert getattr(comparison, field) == expected, name
        assert len(notes) == 1, name
    _, notes = Comparison.from_query({"ds": "nonexistent"})
    assert notes[0].startswith("ignored ds='nonexistent': unknown dataset")


def test_specs_follow_variants_seeds_and_overrides():
    comparison = Comparison(
        dataset="wine",
        variants=("baseline", "dropout"),
        dropout=0.3,
        epochs=5,
        seeds=2,
        capacity="small",
        train_size=40,
    )
    labelled = comparison.labelled_specs()
    assert [label for label, _ in labelled] == ["baseline", "dropout"] * 2
    assert [spec.seed for _, spec in labelled] == [0, 0, 1, 1]
    assert {spec.epochs for _, spec in labelled} == {5}
    assert {(spec.capacity, spec.train_size) for _, spec in labelled} == {("small", 40)}
    assert labelled[1][1].dropout == 0.3 and labelled[0][1].dropout == 0
    assert comparison.labels() == ["baseline", "dropout"]


def test_a_preset_brings_its_own_dataset_and_variants():
    lesson = LESSONS["digits-more-data"]
    comparison = Comparison(preset=lesson.name, dataset="iris", epochs=3)
    labelled = comparison.labelled_specs()
    assert comparison.dataset_name == "digits"
    assert [label for label, _ in labelled] == ["50 examples", "200 examples", "all examples"]
    assert [spec.train_size for _, spec in labelled] == [50, 200, 0]
    assert {spec.epochs for _, spec in labelled} == {3}


def test_a_knob_set_to_its_default_follows_the_default():
    comparison = Comparison(dataset="digits")
    assert comparison.value("epochs") == 100 and comparison.value("l2") == 1e-3
    assert comparison.with_value("epochs", 100) == comparison
    assert comparison.with_value("epochs", 20).epochs == 20
    assert comparison.with_value("l2", 1e-3).l2 is None
    assert comparison.to_query() == {}


def test_a_sweep_is_a_comparison_along_one_knob():
    sweep = Comparison(dataset="digits", sweep="train_size", values=(100, 400, 0))
    assert sweep.labels() == ["Training examples = 100", "Training examples = 400",
                              "Training examples = all"]  # fmt: skip
    assert [s.train_size for _, s in sweep.labelled_specs()] == [100, 400, 0]
    assert "train_size" not in sweep.knobs()
    back, notes = Comparison.from_query(sweep.to_query())
    assert back == sweep and notes == []
    clamped, notes = Comparison.from_query({"sweep": "l2", "vals": "0,1e-4,5"})
    assert clamped.values == (0.0, 1e-4, 0.1) and "above" in notes[0]


def test_variants_a_dataset_does_not_allow_are_dropped():
    assert "augment" not in Comparison(dataset="imdb").allowed_variants()
    assert Comparison().variants == DEFAULT_VARIANTS


def test_a_lesson_run_at_other_settings_says_its_claims_were_checked_elsewhere():
    checked = Comparison(preset="moons-boundary")
    assert "may not hold" not in checked.claim_text()
    assert "may not hold" not in checked.with_value("seeds", 3).claim_text()
    changed = checked.with_value("epochs", 20)
    assert changed.claim_text().endswith(
        "(Checked as the lesson sets it, Epochs 300; with Epochs 20 it may not hold.)"
    )
    slid, _ = Comparison(preset="iris-batchnorm").changed("l2", 0.01)
    assert slid.claim_text().endswith("with L2 strength 0.01 it may not hold.)")


def test_a_lessons_numbers_from_cached_runs_equal_those_from_the_data(monkeypatch):
    """The page reads sizes from the runs the worker recorded, so a cached page never loads
    the data; both ways must say the same."""
    from core import datasets
    from core.cache import RunStore
    from core.runner import execute

    comparison = Comparison(preset="digits-more-data", epochs=1)
    runs = [r.run for r in execute([s for _, s in comparison.labelled_specs()])]
    from_data = comparison.claim_text()
    assert "50, 200 and 1,149 training digits" in from_data

    def no_loading(*args, **kwargs):
        raise AssertionError("the data was loaded")

    monkeypatch.setattr(datasets, "for_spec", no_loading)
    assert comparison.claim_text(runs) == from_data
    assert len(RunStore().keys()) == 3


def _every_state() -> list[Comparison]:
    """Every lesson, every offline dataset's default comparison and a sweep on it."""
    states = [Comparison(preset=name) for name in LESSONS]
    for name in OFFLINE:
        free = Comparison(dataset=name)
        states += [free, free.for_page(True)]
    return states


@pytest.mark.parametrize("state", _every_state(), ids=lambda c: str(c.to_query()))
def test_every_canonical_link_parses_back_to_itself(state):
    assert state.fitted([]) == state  # already canonical
    back, notes = Comparison.from_query(state.to_query())
    assert back == state and notes == []


@pytest.mark.parametrize("raw", ["off", "0", "-0", "1e-999", "0.0", "OFF"])
def test_off_zero_and_negative_zero_mean_off_for_every_strength_that_has_it(raw):
    for key, name in (("l2", "l2"), ("do", "dropout")):  # all combined, that part off
        comparison, notes = Comparison.from_query({"v": "baseline,combined", key: raw})
        assert getattr(comparison, name) == 0.0 and notes == [], (key, raw)
        assert comparison.to_query()[key] == "off"  # the link names it
        spec = dict(comparison.labelled_specs())["combined"]
        assert getattr(spec, name) == 0.0 and spec.batchnorm  # off really is off; the rest stays
    comparison, _ = Comparison.from_query({"v": "baseline,l1", "l1": raw})
    assert comparison.chosen() == ("baseline",)  # l1 off: no L1 variant left to draw


@pytest.mark.parametrize(
    "key,name,off",
    [("l1", "l1", "off"), ("l2", "l2", "off"), ("do", "dropout", "0"), ("aug", "augment", "none")],
)
def test_a_strength_set_to_off_leaves_no_variant_that_is_the_baseline(key, name, off):
    """/?do=off once drew "dropout" with the baseline's numbers, under its own name."""
    comparison, notes = Comparison.from_query({"v": f"baseline,{name},combined", key: off})
    assert comparison.chosen() == ("baseline", "combined")
    assert notes == [f"{key}={SETTINGS[name].describe(SETTINGS[name].off)} would make the "
                     f"{name} variant a copy of the baseline: left out (turn its strength on "
                     "to add it again)"]  # fmt: skip
    baseline = comparison.base_spec()
    assert all(spec != baseline for label, spec in comparison.labelled_specs()
               if label != "baseline")  # fmt: skip
    back, notes = Comparison.from_query(comparison.to_query())
    assert back == comparison and notes == []
    # The sidebar's slider takes the same way; a lesson keeps its variants and its strength.
    after, notes = Comparison(variants=("baseline", name)).changed(name, SETTINGS[name].off)
    assert after.chosen() == ("baseline",) and len(notes) == 1
    lesson, notes = Comparison.from_query({"preset": "moons-boundary", "do": "off"})
    assert lesson == Comparison(preset="moons-boundary")
    assert notes == ["do=off would make the lesson's dropout a copy of the baseline; using 0.5"]


def test_a_negative_zero_noise_is_zero_and_trains_real_data():
    comparison, notes = Comparison.from_query({"ds": "moons", "noise": "-0"})
    assert comparison.data_noise == 0.0 and notes == []
    assert comparison.to_query()["noise"] == "0"
    data = datasets.for_spec(comparison.base_spec())  # numpy once refused a scale of -0.0
    assert len(data.y_train) == 80


def test_settings_that_do_not_apply_are_dropped_with_a_note():
    sine, notes = Comparison.from_query({"ds": "sine", "ln": "0.2"})
    assert sine.label_noise is None and "label_noise" not in sine.knobs()
    assert notes == ["ignored ln='0.2': label noise is defined for classes, not for "
                     "regression targets"]  # fmt: skip
    assert "label_noise" not in sine.sweepable()
    lesson, notes = Comparison.from_query({"preset": "moons-boundary", "cap": "small",
                                           "noise": "0.1", "ep": "20"})  # fmt: skip
    assert lesson == Comparison(preset="moons-boundary", epochs=20)
    assert [n.split(":")[0] for n in notes] == ["ignored cap='small'", "ignored noise='0.1'"]
    unused, notes = Comparison.from_query({"v": "baseline,small", "l2": "0.01"})
    assert unused.l2 is None and notes == ["ignored l2='0.01': no variant here uses it"]


def test_a_training_size_above_the_data_is_all_of_it_once():
    iris, notes = Comparison.from_query({"ds": "iris", "n": "5000"})
    assert iris == Comparison(dataset="iris")  # one cache key, not two
    assert notes == ["n=5000 is more than the 96 training examples there are; using all of "
                     "them"]  # fmt: skip
    widget, notes = Comparison(dataset="iris").changed("train_size", 5000)
    assert widget == iris and len(notes) == 1  # a widget passes the same check as a link


def test_a_learning_curve_merges_sizes_above_the_data_with_a_note():
    sweep, notes = Comparison.from_query({"ds": "iris", "sweep": "train_size",
                                          "vals": "10,100,1000"})  # fmt: skip
    assert sweep.values == (10, 0) and sweep.to_query()["vals"] == "10,all"
    assert [s.train_size for _, s in sweep.labelled_specs()] == [10, 0]
    assert len(notes) == 1 and "96" in notes[0]
    default, notes = Comparison.from_query({"ds": "iris", "sweep": "train_size"})
    assert default.values == (50, 0) and len(notes) == 1  # 100 to 800 are all 96


def test_a_sweep_without_values_sweeps_the_knobs_default_values():
    sweep, notes = Comparison.from_query({"ds": "breast_cancer", "sweep": "l2"})
    assert notes == [] and sweep.values == ()
    assert sweep.sweep_values() == SETTINGS["l2"].sweep
    assert [s.l2 for _, s in sweep.labelled_specs()] == list(SETTINGS["l2"].sweep)
    typed, _ = sweep.changed("values", ", ".join(map(str, SETTINGS["l2"].sweep)))
    assert typed == sweep  # typing the defaults keeps following them
    with pytest.raises(ValueError, match="two different values"):
        sweep.changed("values", "1e-3")


@pytest.mark.parametrize("name", [n for n, item in LESSONS.items()])
def test_choosing_a_lesson_gives_exactly_its_link_keeping_seeds_and_display(name):
    before = Comparison(dataset="wine", variants=("baseline", "l2"), l2=0.01, epochs=20,
                        label_noise=0.1, seeds=2, scale="log", present=True)  # fmt: skip
    after, notes = before.changed("preset", name)
    lesson = LESSONS[name]
    expected = Comparison(preset=name, seeds=2, scale="log", present=True)
    assert after == expected.for_page(False) and notes == []
    if not lesson.sweep:
        assert after.to_query() == {"preset": name, "seeds": "2", "scale": "log",
                                    "present": "1"}  # fmt: skip
        free, _ = after.changed("preset", "")
        assert free == Comparison(dataset=lesson.dataset, seeds=2, scale="log", present=True)


@pytest.mark.parametrize("name", OFFLINE)
def test_choosing_a_dataset_gives_its_defaults_and_keeps_the_chosen_variants(name):
    before = Comparison(dataset="moons", variants=("baseline", "l2", "augment"), l2=0.01,
                        epochs=20, label_noise=0.1, data_noise=0.1, data_size=40,
                        capacity="small", scale="log")  # fmt: skip
    after, _ = before.changed("dataset", name)
    assert after == Comparison(dataset=name, variants=("baseline", "l2", "augment"), l2=0.01,
                               scale="log")  # fmt: skip
    assert after.base_spec() == datasets.base_spec(name)  # the dataset's own defaults


def test_compare_and_sweep_pages_carry_the_data_and_the_changed_knobs():
    compare = Comparison(dataset="moons", variants=("baseline", "dropout"), dropout=0.3,
                         epochs=20, data_noise=0.1, seeds=2)  # fmt: skip
    sweep = compare.for_page(True)
    assert sweep == Comparison(dataset="moons", sweep="capacity", epochs=20, data_noise=0.1,
                               seeds=2)  # fmt: skip
    back = sweep.changed("sweep", "epochs")[0].for_page(False)
    assert back == Comparison(dataset="moons", data_noise=0.1, seeds=2)  # swept: default
    lesson = Comparison(preset="capacity-sweep").for_page(False)
    assert lesson == Comparison(dataset=lessons.lesson("capacity-sweep").dataset)


def test_a_link_value_that_is_no_number_says_so_in_one_line():
    comparison, notes = Comparison.from_query({"ep": "abc", "do": "zz", "seeds": "1.5"})
    assert comparison == Comparison()
    assert sorted(notes) == ["do=zz is not a number; using the default",
                             "ep=abc is not a whole number; using the default",
                             "seeds=1.5 is not a whole number; using the default"]  # fmt: skip


def test_two_trainings_of_one_dataset_are_told_apart_by_what_differs():
    shown = Comparison(dataset="wine", epochs=850)
    earlier = Comparison(dataset="wine", variants=("baseline", "dropout"), dropout=0.3, epochs=760)
    assert earlier.differences(shown) == ["Variants baseline, dropout", "Dropout rate 0.3",
                                          "Epochs 760"]  # fmt: skip
    assert replace(shown, seeds=3).differences(shown) == ["3 seeds"]
    assert shown.differences(shown) == []
    assert Comparison(dataset="iris").differences(shown) == []  # its title says it all
    lesson = Comparison(preset="keras-view", epochs=30)
    assert lesson.differences(Comparison(preset="keras-view")) == ["Epochs 30"]


def test_the_network_sizes_next_to_a_comparison_are_its_size_moves_seed_0():
    """What a worker warms after a comparison trains: the comparisons a step of the Network
    size slider away, each exactly as the page would ask for it."""
    comparison = Comparison(dataset="moons", variants=("baseline", "small", "l2"), seeds=3)
    assert comparison.value("capacity") == "medium"
    moves = comparison.size_moves()
    assert moves == [[spec for _, spec in replace(comparison, capacity=capacity,
                                                  seeds=1).labelled_specs()]
                     for capacity in ("small", "large")]  # fmt: skip
    # The "less capacity" variant follows its base, as on the page.
    sizes = [[s.capacity for s in specs] for specs in moves]
    assert sizes == [["small", "tiny", "small"], ["large", "small", "large"]]
    assert {s.seed for specs in moves for s in specs} == {0}
    # At the end of the slider, one neighbour; none where the size is not a knob.
    [at_the_end] = replace(comparison, capacity="huge").size_moves()
    assert [s.capacity for s in at_the_end] == ["large", "small", "large"]
    assert replace(comparison, widths="64,32").size_moves() == []
    assert Comparison(dataset="moons", sweep="capacity").size_moves() == []
    assert Comparison(preset=next(iter(LESSONS))).size_moves() == []
