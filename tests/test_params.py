"""The one declaration of the report parameters (kit/params.py) and what is derived from it."""

import argparse
import re

import pytest

from kit import ledger, parse, presets
from kit.cli import build_parser
from kit.errors import ParameterError
from kit.movements import NETTINGS, PERIODS
from kit.params import MEASURING, REPORT, SOURCE, SPECS, ReportParameters, ledger_options, reactivation_window
from kit.report import PARAMETERS, load_options, validate_parameters


def test_allowed_values_are_the_owning_modules_constants():
    owners = {"kind": ledger.KINDS, "preset": presets.PRESET_NAMES, "fx_mode": ledger.FX_MODES,
              "snapshot_dates": ledger.SNAPSHOT_DATES, "period": PERIODS, "netting": NETTINGS,
              "thousands_grouping": parse.THOUSANDS_GROUPINGS}  # fmt: skip
    assert {name for name, spec in SPECS.items() if spec.param.choices is not None} == set(owners)
    for name, constant in owners.items():
        assert SPECS[name].param.choices is constant, name
    assert SPECS["kind"].param.allowed() == ("", "snapshots", "subscriptions", "stripe")


def test_the_model_and_the_report_view_agree():
    assert list(ReportParameters.model_fields) == list(SPECS) == list(PARAMETERS)
    model = ReportParameters()
    for name, (kind, default, meaning) in PARAMETERS.items():
        assert getattr(model, name) == default and SPECS[name].type is kind and SPECS[name].param.help == meaning
    with pytest.raises(TypeError):
        PARAMETERS["colour"] = (str, "", "")  # a read-only view


def test_every_parameter_but_data_has_one_cli_option_in_a_known_group():
    flags = [spec.param.cli.flag for name, spec in SPECS.items() if name != "data"]
    assert len(flags) == len(set(flags)) == len(SPECS) - 1
    assert {spec.param.cli.group for name, spec in SPECS.items() if name != "data"} == {SOURCE, MEASURING, REPORT}


def _groups(parser: argparse.ArgumentParser) -> dict[str, list[str]]:
    return {group.title: [a.option_strings[0] for a in group._group_actions if a.option_strings]
            for group in parser._action_groups}  # fmt: skip


def test_the_cli_groups_follow_the_declaration():
    commands = build_parser()._subparsers._group_actions[0].choices
    source = [s.param.cli.flag for s in SPECS.values() if s.param.cli and s.param.cli.group == SOURCE]
    measuring = [s.param.cli.flag for s in SPECS.values() if s.param.cli and s.param.cli.group == MEASURING]
    own = [s.param.cli.flag for s in SPECS.values() if s.param.cli and s.param.cli.group == REPORT]
    for command in ("summary", "report"):
        groups = _groups(commands[command])
        assert groups["reading the data"] == source and groups["measuring"] == measuring
    assert _groups(commands["report"])["options"] == ["-h", *own, "--output-dir", "--name", "--xlsx"]
    assert _groups(commands["summary"])["options"] == ["-h", "--by", "--output"]


def test_cli_arguments_give_the_report_parameters():
    from kit.cli import parameters_from_args

    args = build_parser().parse_args(["report", "d.csv", "--header-row", "3", "--map", "a=b", "--filter", "r=X",
                                      "--filter", "r=Y", "--lenient", "--fx-mode", "monthly"])  # fmt: skip
    params = parameters_from_args(args)
    assert params == validate_parameters(
        {
            "data": "d.csv",
            "header_row": 2,
            "mapping": {"a": "b"},
            "filters": {"r": ["X", "Y"]},
            "lenient": True,
            "fx_mode": "monthly",
        }
    )
    assert params["reactivation_window"] == -1


def test_load_options_follow_the_declared_keywords():
    params = validate_parameters({"data": "d.csv", "lenient": True, "sep": ";", "mapping": {"a": "b"}})
    options = load_options(params)
    assert options == {**ledger_options(params), "source": "d.csv", "fx": None}
    assert options["on_invalid"] == "quarantine" and options["sep"] == ";" and options["kind"] is None
    assert options["mapping"] == {"a": "b"} and options["defaults"] is None and options["as_of"] is None
    assert ledger_options({"as_of": ""}, empty_is_none=False)["as_of"] == ""  # the command line passes "" on


@pytest.mark.parametrize(("value", "expected"), [(-1, None), (None, None), (0, 0), (4, 4)])
def test_reactivation_window_none_is_minus_one(value, expected):
    assert reactivation_window(value) == expected


def test_reactivation_window_below_minus_one_is_refused_once():
    message = "report parameter reactivation_window must be -1 (none) or a whole number ≥ 0"
    with pytest.raises(ParameterError, match=f"^{re.escape(message)}$"):
        reactivation_window(-2)
    with pytest.raises(ParameterError, match=f"^{re.escape(message)}$"):
        validate_parameters({"reactivation_window": -2})


def test_choice_errors_name_the_allowed_values():
    with pytest.raises(ParameterError, match=r"^report parameter kind must be one of \(empty\), snapshots, "
                                             r"subscriptions, stripe$"):  # fmt: skip
        validate_parameters({"kind": "rows"})
    with pytest.raises(ParameterError, match=r"^report parameter fx_mode must be one of monthly, constant$"):
        validate_parameters({"fx_mode": "daily"})
