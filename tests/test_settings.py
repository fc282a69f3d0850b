"""One table for every knob: each widget, URL parameter, command-line flag and the spec's
validation agree with it, and a link's value outside it is clamped with a note."""

from __future__ import annotations

import pytest

from core import settings
from core.cli import _parser
from core.comparison import Comparison
from core.settings import SETTINGS
from core.spec import ExperimentSpec, SpecError

NUMERIC = [s for s in SETTINGS.values() if s.kind in (int, float) and s.low is not None]
WITH_URL = [s for s in SETTINGS.values() if s.url]


def _beyond(setting, side: str):
    span = (setting.high - setting.low) or 1
    value = setting.low - span if side == "low" else setting.high + span
    if setting.off is not None and value == setting.off:
        value -= 1
    return setting.kind(value)


@pytest.mark.parametrize("setting", NUMERIC, ids=lambda s: s.name)
def test_the_spec_refuses_values_outside_the_table(setting):
    if not hasattr(ExperimentSpec(), setting.name):
        pytest.skip("a comparison's or the server's setting, not a spec's")
    for side in ("low", "high"):
        with pytest.raises(SpecError, match=setting.name):
            ExperimentSpec(**{setting.name: _beyond(setting, side)}).validate()
    ExperimentSpec(**{setting.name: setting.kind(setting.high)}).validate()
    if setting.off is not None:
        ExperimentSpec(**{setting.name: setting.off}).validate()


@pytest.mark.parametrize("setting", [s for s in WITH_URL if s in NUMERIC], ids=lambda s: s.name)
def test_a_link_value_out_of_range_is_clamped_with_a_note(setting):
    for side, edge in (("low", setting.low), ("high", setting.high)):
        raw = str(_beyond(setting, side))
        value, note = setting.parse(raw)
        expected = min(setting.steps, key=lambda s: abs(s - edge)) if setting.steps else edge
        assert value == expected and note and f"{setting.url}={raw}" in note
    with pytest.raises(ValueError):
        setting.parse("lots")


def test_whole_links_with_every_value_out_of_range_open_without_errors():
    params = {s.url: str(_beyond(s, "high")) for s in WITH_URL if s in NUMERIC}
    params |= {"ds": "moons"}
    comparison, notes = Comparison.from_query(params)
    assert comparison.dataset == "moons"
    for setting in (s for s in WITH_URL if s in NUMERIC):
        value = getattr(comparison, setting.name)
        if value is not None:  # n beyond the data means all of it: back to the default
            setting.check(value)
    assert len(notes) >= len(params) - 1
    comparison.labelled_specs()  # and it means real, valid specs


@pytest.mark.parametrize("setting", [s for s in WITH_URL if s.choices], ids=lambda s: s.name)
def test_a_link_choice_outside_the_table_is_ignored_with_a_note(setting):
    comparison, notes = Comparison.from_query({setting.url: "nonsense"})
    assert getattr(comparison, setting.name, None) in (None, "mlp")
    assert len(notes) == 1 and setting.url in notes[0]


def _cli_options() -> dict:
    run = next(a for a in _parser()._subparsers._group_actions[0].choices.values()
               if a.prog.endswith("run"))  # fmt: skip
    return {flag: action for action in run._actions for flag in action.option_strings}


@pytest.mark.parametrize("setting", [s for s in SETTINGS.values() if s.cli], ids=lambda s: s.name)
def test_every_cli_flag_comes_from_the_table(setting):
    action = _cli_options()[setting.cli]
    if setting.choices:  # checked by the flag's type, with the off word ("none") too
        assert f"one of {', '.join(setting.choices)}" in action.help
    if setting.kind is not bool and setting.name not in ("seeds", "seed"):
        assert setting.help in action.help


@pytest.mark.parametrize("setting", [s for s in NUMERIC if s.cli and s.name not in ("seeds",)],
                         ids=lambda s: s.name)  # fmt: skip
def test_a_cli_value_out_of_range_is_one_line_and_exit_2(setting, capsys):
    from core.cli import main

    args = ["run", "--dataset", "moons", "--variants", "baseline", setting.cli,
            str(_beyond(setting, "high"))]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and setting.name in err[0]


def test_the_sidebar_widgets_are_the_table(apptest_navigation):
    """Every knob's widget on a generated dataset (which has them all) takes its range,
    steps and options from the table."""
    from streamlit.testing.v1 import AppTest

    from tests.support import ROOT

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.query_params["ds"] = "moons"
    at.query_params["v"] = "l1,l2,dropout,augment"
    at.run()
    assert not at.exception
    seen = set()
    for setting in SETTINGS.values():
        widget = _find(at, setting.name)
        if widget is None:
            continue
        seen.add(setting.name)
        off = (setting.off,) if setting.off_label else ()  # "off", "all", "none": offered
        if setting.steps:
            options = (*off, *setting.steps)
            assert tuple(widget.options) == tuple(setting.describe(v) for v in options)
        elif setting.choices:
            assert tuple(widget.options) == (*off, *setting.choices)
        else:
            low = off[0] if off else setting.low
            assert (widget.min, widget.max) == (low, setting.high)
            if setting.step:
                assert widget.step == setting.step
    shown = {"l2", "l1", "dropout", "augment", "capacity", "train_size", "label_noise",
             "data_noise", "data_size", "patience", "epochs", "seeds"}  # fmt: skip
    assert seen == shown


def _find(at, name: str):
    for kind in ("slider", "select_slider", "number_input", "radio", "selectbox"):
        for widget in at.get(kind):
            if getattr(widget, "key", None) == f"cmp_{name}":
                return widget
    return None


def test_a_lesson_shows_only_sliders_that_change_its_variants(apptest_navigation):
    from streamlit.testing.v1 import AppTest

    from tests.support import ROOT

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.query_params["preset"] = "moons-boundary"  # baseline, small, l2, dropout
    at.run()
    assert _find(at, "l2") is not None and _find(at, "dropout") is not None
    assert _find(at, "augment") is None and _find(at, "l1") is None  # no variant uses them
    assert _find(at, "capacity") is None  # the lesson fixes its network
    at.select_slider(key="cmp_l2").set_value(0.01).run()
    at.slider(key="cmp_dropout").set_value(0.3).run()
    specs = dict(at.session_state["comparison"].labelled_specs())
    assert specs["l2"].l2 == 0.01 and specs["dropout"].dropout == 0.3
    assert specs["baseline"].l2 == 0 and specs["small"].dropout == 0
    assert at.query_params["l2"] == "0.01" and at.query_params["do"] == "0.3"


def test_setting_kinds_convert_text():
    assert settings.convert(int, "1e3") == 1000
    assert settings.convert(bool, "yes") is True
    for kind, text in ((int, "2.5"), (float, "inf"), (float, "nan"), (bool, "maybe")):
        with pytest.raises(ValueError):
            settings.convert(kind, text)
