from core.comparison import Comparison
from core.lessons import LESSONS
from core.spec import DEFAULT_VARIANTS


def test_a_comparison_survives_the_url_and_defaults_stay_out_of_it():
    assert Comparison().to_query() == {}
    custom = Comparison(
        dataset="iris",
        variants=("baseline", "l2"),
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
    assert query["ds"] == "iris" and query["v"] == "baseline,l2"
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


def test_a_lesson_run_at_other_epochs_says_its_claims_were_checked_elsewhere():
    checked = Comparison(preset="moons-boundary")
    assert "may not hold" not in checked.claim_text()
    changed = checked.with_value("epochs", 20)
    assert changed.claim_text().endswith("(Checked at 300 epochs; at 20 it may not hold.)")


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
