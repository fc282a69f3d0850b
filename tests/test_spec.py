import json
from dataclasses import replace

import pytest

from core.spec import (
    SCHEMA_VERSION,
    VARIANTS,
    ExperimentSpec,
    SpecError,
    make_variant,
    smaller_capacity,
)


def test_canonical_json_round_trips_and_is_byte_stable():
    spec = ExperimentSpec(dataset="iris", l2=1e-3, dropout=0.5, batchnorm=True, seed=7)
    text = spec.to_json()
    assert ExperimentSpec.from_json(text) == spec
    assert text == ExperimentSpec.from_json(text).to_json()
    assert list(json.loads(text)) == sorted(json.loads(text))  # sorted keys
    assert " " not in text


def test_key_changes_with_any_field_the_data_or_the_schema(monkeypatch):
    spec = ExperimentSpec(dataset="iris")
    key = spec.key("fp1")
    assert key == ExperimentSpec(dataset="iris").key("fp1")
    assert spec.key("fp2") != key
    for change in ({"l2": 1e-4}, {"seed": 1}, {"epochs": 31}, {"augment": "light"}):
        assert replace(spec, **change).key("fp1") != key
    monkeypatch.setattr("core.spec.SCHEMA_VERSION", SCHEMA_VERSION + 1)
    assert spec.key("fp1") != key


def test_from_dict_coerces_url_strings_and_rejects_nonsense():
    spec = ExperimentSpec.from_dict(
        {"dataset": "wine", "epochs": "12", "batchnorm": "true", "l2": "0.01"}
    )
    assert (spec.epochs, spec.batchnorm, spec.l2) == (12, True, 0.01)
    bad = [
        ({"dropout": 1.0}, "dropout"),
        ({"capacity": "enormous"}, "capacity"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": 2.5}, "epochs"),
        ({"l2": "nan"}, "l2"),
        ({"batchnorm": "maybe"}, "batchnorm"),
        ({"colour": "red"}, "unknown spec field"),
    ]
    for raw, words in bad:
        with pytest.raises(SpecError, match=words):
            ExperimentSpec.from_dict({"dataset": "wine", **raw})


def test_named_variants_change_only_what_they_say():
    base = ExperimentSpec(dataset="digits", capacity="large")
    assert make_variant(base, "baseline") == base
    assert make_variant(base, "small").capacity == "small"
    assert make_variant(base, "l2", l2=0.01).l2 == 0.01
    assert make_variant(base, "dropout").dropout == 0.5
    assert make_variant(base, "batchnorm").batchnorm is True
    assert make_variant(base, "augment").augment == "light"
    assert make_variant(base, "l1").l1 == 1e-4 and make_variant(base, "l1").l2 == 0
    combined = make_variant(base, "combined", l2=1e-4, dropout=0.2, augment="strong")
    assert (combined.l2, combined.dropout, combined.batchnorm, combined.augment) == (
        1e-4,
        0.2,
        True,
        "strong",
    )
    assert combined.capacity == base.capacity
    assert set(VARIANTS) == {
        "baseline",
        "small",
        "l1",
        "l2",
        "dropout",
        "batchnorm",
        "augment",
        "combined",
    }
    with pytest.raises(SpecError, match="unknown variant"):
        make_variant(base, "magic")


def test_small_is_never_larger_than_the_base():
    assert smaller_capacity("huge") == "small"
    assert smaller_capacity("medium") == "small"
    assert smaller_capacity("small") == "tiny"
    assert smaller_capacity("tiny") == "tiny"


def test_fusion_group_ignores_what_lives_inside_a_branch():
    base = ExperimentSpec(dataset="iris")
    inside = replace(
        base,
        l2=0.1,
        l1=1e-4,
        dropout=0.3,
        batchnorm=True,
        augment="light",
        capacity="tiny",
        optimizer="sgd",
        learning_rate=0.1,
        train_size=50,
        label_noise=0.2,
        epochs=3,
        patience=4,
    )
    assert inside.fusion_group() == base.fusion_group()
    for change in ({"batch_size": 8}, {"data_noise": 0.1}, {"data_size": 100}, {"seed": 5}):
        assert replace(base, **change).fusion_group() != base.fusion_group()


def test_runs_that_differ_in_epochs_or_patience_share_a_branch():
    base = ExperimentSpec(dataset="iris", epochs=10)
    assert replace(base, epochs=40, patience=5).branch() == base.branch()
    assert replace(base, seed=1).branch() != base.branch()


def test_a_spec_from_a_file_must_be_an_object_of_typed_fields():
    for raw in ([1, 2], "x", None, {"epochs": True}, {"l2": "inf"}, {"dataset": 3}):
        with pytest.raises(SpecError):
            ExperimentSpec.from_dict(raw)
