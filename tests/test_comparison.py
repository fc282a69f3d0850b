from core.comparison import Comparison
from core.lessons import LESSONS


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
    )
    query = custom.to_query()
    assert query["ds"] == "iris" and query["v"] == "baseline,l2"
    back, warnings = Comparison.from_query(query)
    assert back == custom and warnings == []


def test_a_hostile_or_broken_link_is_ignored_piece_by_piece():
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
    comparison, warnings = Comparison.from_query(query)
    assert comparison == Comparison()
    assert len(warnings) == len(query)
    assert any("outside the folders" in w for w in warnings)


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
    assert [label for label, _ in labelled] == ["100 examples", "400 examples", "all examples"]
    assert [spec.train_size for _, spec in labelled] == [100, 400, 0]
    assert {spec.epochs for _, spec in labelled} == {3}
