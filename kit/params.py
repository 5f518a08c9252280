"""
Declare every report parameter once: type, default, allowed values, help, CLI option, load keyword.

:class:`ReportParameters` is the one declaration of the report's 30 parameters (a
pydantic model: its fields are the parameters, in the order the notebook's
``parameters`` cell lists them). Each field's :class:`Param` says the rest:

* the allowed values, taken from the constant of the module that owns them
  (``kit.ledger.KINDS``, ``kit.movements.PERIODS``, …), never copied; ``empty=True``
  admits ``""`` too ("not given": detected, inferred or none);
* the help text of the report parameter (the notebook and the README say the same);
* its command-line option (:class:`Cli`): flag, group, help, metavar, default and how the
  parsed value becomes the parameter (``--header-row`` counts from 1, the parameter from 0);
* the :func:`kit.ledger.load_ledger` keyword it feeds and how: as it is, ``""`` -> None
  (``empty_is_none``), or ``lenient`` -> ``on_invalid``.

Derived from it: :func:`kit.report.validate_parameters` (by name, type and allowed
values), :func:`kit.report.load_options` and ``kit summary``'s load (:func:`ledger_options`),
the options of ``kit summary`` and ``kit report`` (:func:`add_options`,
:func:`parameters_from_args`) and the defaults :func:`kit.report.default_name` compares with.

Reactivation window: the report parameter is ``-1`` ("none", the notebook's literal) or
a whole number ≥ 0; :func:`reactivation_window` turns it into the API's value (None for
none), the one place that does. The notebook's ``parameters`` cell stays literal for
papermill; a test holds it equal to this declaration.
"""

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict

from kit.errors import ParameterError
from kit.ledger import FX_MODES, KINDS, SNAPSHOT_DATES
from kit.movements import NETTINGS, PERIODS
from kit.parse import THOUSANDS_GROUPINGS
from kit.presets import PRESET_NAMES

#: The ``--help`` groups of the command line, in their order; REPORT is the command's own options.
SOURCE, MEASURING, REPORT = "reading the data", "measuring", "report"
#: The report parameter's "no reactivation window" (the API's None).
NO_WINDOW = -1


def pairs(values: list[str] | None, option: str) -> dict[str, str]:
    """
    Turn repeated ``NAME=VALUE`` options into a dict.

    >>> pairs(["monthly_amount = amount"], "--map")
    {'monthly_amount': 'amount'}
    """
    out = {}
    for value in values or []:
        if "=" not in value:
            raise ParameterError(f"{option} takes NAME=VALUE, not {value!r}")
        key, _, val = value.partition("=")
        out[key.strip()] = val.strip()
    return out


def filter_values(values: list[str] | None) -> dict[str, list[str]]:
    """
    Turn repeated ``--filter`` options into the ``filters`` parameter.

    >>> filter_values(["region=EMEA", "region=NA"])
    {'region': ['EMEA', 'NA']}
    """
    out: dict[str, list[str]] = {}
    for value in values or []:
        for key, val in pairs([value], "--filter").items():
            out.setdefault(key, []).append(val)
    return out


def row_number(text: str) -> int:
    """Read a 1-based row number of the command line."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a row number counts from 1, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"a row number counts from 1, not {value}")
    return value


def reactivation_window(value: int | None) -> int | None:
    """
    Turn the report parameter ``reactivation_window`` into the API's value (None: no window).

    >>> reactivation_window(-1), reactivation_window(None), reactivation_window(3)
    (None, None, 3)
    """
    if value is None or value == NO_WINDOW:
        return None
    if value < NO_WINDOW:
        raise ParameterError("report parameter reactivation_window must be -1 (none) or a whole number ≥ 0")
    return value


@dataclass(frozen=True)
class Cli:
    """A report parameter's command-line option; ``options`` are argparse's keyword arguments."""

    flag: str
    group: str
    options: dict = field(default_factory=dict)
    #: The parsed value -> the report parameter (None: as parsed).
    to_param: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class Param:
    """What a report parameter means beyond its type and default."""

    help: str
    choices: tuple | None = None
    empty: bool = False
    cli: Cli | None = None
    load: str | None = None
    empty_is_none: bool = False

    def allowed(self) -> tuple | None:
        """Return the values the parameter accepts (``""`` first when empty), or None for any."""
        if self.choices is None:
            return None
        return ("",) + self.choices if self.empty else self.choices


def _cli(flag: str, group: str, help: str | None = None, *, to_param=None, **options) -> Cli:  # noqa: A002
    """Declare a command-line option; ``choices=True``: the parameter's allowed values."""
    if help is not None:
        options["help"] = help
    return Cli(flag, group, options, to_param)


class ReportParameters(BaseModel):
    """The report's parameters, in the notebook's order; see the module docstring."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data: Annotated[str, Param("data file or SQLAlchemy URL; empty: the bundled sample", load="source")] = ""
    kind: Annotated[
        str,
        Param(
            "snapshots, subscriptions or stripe (Stripe objects or exports); empty: detected",
            KINDS,
            empty=True,
            load="kind",
            empty_is_none=True,
            cli=_cli("--kind", SOURCE, "input shape (default: detected)", choices=True),
        ),
    ] = ""
    preset: Annotated[
        str,
        Param(
            "a billing system's CSV export (kit.presets); empty: detected from the header",
            PRESET_NAMES,
            empty=True,
            load="preset",
            empty_is_none=True,
            cli=_cli(
                "--preset",
                SOURCE,
                "a billing system's export: its column names and rules (default: detected from the header)",
                choices=True,
            ),  # fmt: skip
        ),
    ] = ""
    table: Annotated[
        str,
        Param(
            "database table (with a URL or an SQLite file)",
            load="table",
            empty_is_none=True,
            cli=_cli("--table", SOURCE, "database table to read"),
        ),
    ] = ""
    query: Annotated[
        str,
        Param(
            "database query (instead of table)",
            load="query",
            empty_is_none=True,
            cli=_cli("--query", SOURCE, "database query to run (instead of --table)"),
        ),
    ] = ""
    sheet: Annotated[str, Param(
        "Excel sheet: a name, or else digits as a position from 0; empty: the first visible", load="sheet",
        empty_is_none=True, cli=_cli("--sheet", SOURCE, "Excel sheet: its name, or else its position counted "
                                     "from 0 (default: the first visible)"))] = ""  # fmt: skip
    header_row: Annotated[int, Param(
        "0-based row of the header in CSV or Excel", load="header_row",
        cli=_cli("--header-row", SOURCE, "row of the header, 1-based (default 1)", type=row_number, default=1,
                 metavar="N", to_param=lambda n: n - 1))] = 0  # fmt: skip
    sep: Annotated[
        str,
        Param(
            "CSV delimiter; empty: detected",
            load="sep",
            empty_is_none=True,
            cli=_cli("--sep", SOURCE, "CSV delimiter (default: detected)"),
        ),
    ] = ""
    encoding: Annotated[
        str,
        Param(
            "text encoding of a CSV file",
            load="encoding",
            cli=_cli("--encoding", SOURCE, "text encoding of a CSV file (default utf-8)", default="utf-8"),
        ),
    ] = "utf-8"
    mapping: Annotated[dict, Param(
        "source column -> kit column, e.g. {'monthly_amount': 'amount'}", load="mapping", empty_is_none=True,
        cli=_cli("--map", SOURCE, "rename a column, e.g. monthly_amount=amount", action="append",
                 metavar="THEIRS=OURS", to_param=lambda v: pairs(v, "--map")))] = {}  # fmt: skip
    defaults: Annotated[dict, Param(
        "constants for missing columns, e.g. {'billing_period': 'month'}", load="defaults", empty_is_none=True,
        cli=_cli("--default", SOURCE, "constant for a missing column, e.g. billing_period=month", action="append",
                 metavar="COLUMN=VALUE", to_param=lambda v: pairs(v, "--default")))] = {}  # fmt: skip
    date_format: Annotated[
        str,
        Param(
            "strftime pattern of non-ISO dates; empty: ISO only",
            load="date_format",
            empty_is_none=True,
            cli=_cli("--date-format", SOURCE, "strftime pattern of non-ISO dates, e.g. %%d/%%m/%%Y"),
        ),
    ] = ""
    decimal: Annotated[
        str,
        Param(
            "decimal mark of amounts",
            load="decimal",
            cli=_cli("--decimal", SOURCE, "decimal mark of amounts (default .)", default="."),
        ),
    ] = "."
    thousands: Annotated[
        str,
        Param(
            "thousands separator accepted in amounts; empty: none",
            load="thousands",
            empty_is_none=True,
            cli=_cli("--thousands", SOURCE, "thousands separator to accept in amounts"),
        ),
    ] = ""
    thousands_grouping: Annotated[str, Param(
        "groups of the thousands separator: western 1,234,567 or indian 12,34,567", THOUSANDS_GROUPINGS,
        load="thousands_grouping",
        cli=_cli("--thousands-grouping", SOURCE, "groups of --thousands: western 1,234,567 (default) or indian "
                 "12,34,567", choices=True, default="western"))] = "western"  # fmt: skip
    currency_symbols: Annotated[
        bool,
        Param(
            "accept currency symbols around amounts",
            load="currency_symbols",
            cli=_cli("--currency-symbols", SOURCE, "accept $, €, … around amounts", action="store_true"),
        ),
    ] = False
    fx: Annotated[
        str,
        Param(
            "FX table (currency, month, rate); empty: none (the sample uses its own)",
            load="fx",
            cli=_cli("--fx", SOURCE, "FX table: currency, month, rate", metavar="FILE"),
        ),
    ] = ""
    fx_mode: Annotated[str, Param(
        "constant: each currency at its last month's rate; monthly: each month at its rate", FX_MODES,
        load="fx_mode",
        cli=_cli("--fx-mode", SOURCE, "constant (default): each currency at its rate in the last month; monthly: "
                 "each month at its own rate", choices=True, default="constant"))] = "constant"  # fmt: skip
    currency: Annotated[
        str,
        Param(
            "reporting currency; empty: inferred",
            load="currency",
            empty_is_none=True,
            cli=_cli("--currency", SOURCE, "reporting currency (default: inferred)"),
        ),
    ] = ""
    as_of: Annotated[
        str,
        Param(
            "last day of the data window, YYYY-MM-DD; empty: the latest date in the data",
            load="as_of",
            empty_is_none=True,
            cli=_cli("--as-of", SOURCE, "last day of the data window (YYYY-MM-DD)", metavar="DATE"),
        ),
    ] = ""
    lenient: Annotated[bool, Param(
        "exclude invalid rows (counted in the appendix) instead of stopping", load="on_invalid",
        cli=_cli("--lenient", SOURCE, "exclude invalid rows (counted) instead of failing",
                 action="store_true"))] = False  # fmt: skip
    snapshot_dates: Annotated[str, Param(
        "several snapshot dates of one customer · product in a month: raise, or last", SNAPSHOT_DATES,
        load="snapshot_dates",
        cli=_cli("--snapshot-dates", SOURCE, "several snapshot dates of one customer · product in a month: raise "
                 "(default), or use the last", choices=True, default="raise"))] = "raise"  # fmt: skip
    period: Annotated[
        str, Param("month, quarter or year", PERIODS, cli=_cli("--period", MEASURING, choices=True, default="month"))
    ] = "month"
    netting: Annotated[
        str,
        Param(
            "customer (one movement per customer) or product (gross per product)",
            NETTINGS,
            cli=_cli("--netting", MEASURING, choices=True, default="customer"),
        ),
    ] = "customer"
    reactivation_window: Annotated[int, Param(
        "returns after more than N inactive periods count as new; -1: no limit",
        cli=_cli("--reactivation-window", MEASURING, "returns after more than N inactive periods count as new",
                 type=int, metavar="N", to_param=lambda n: NO_WINDOW if n is None else n))] = NO_WINDOW  # fmt: skip
    segment: Annotated[
        str,
        Param(
            "customer attribute for the segment breakdown; empty: the first of size, segment, plan",
            cli=_cli("--segment", REPORT, "attribute for the segment breakdown", metavar="COLUMN"),
        ),
    ] = ""
    filters: Annotated[dict, Param(
        "keep customers whose attribute has these values, e.g. {'region': ['EMEA']}",
        cli=_cli("--filter", REPORT, "keep customers with this attribute value (repeat for several values)",
                 action="append", metavar="COLUMN=VALUE", to_param=filter_values))] = {}  # fmt: skip
    start: Annotated[
        str,
        Param(
            "first period shown, e.g. 2024-01 or 2024-Q1; empty: all",
            cli=_cli("--start", REPORT, "first period shown, e.g. 2024-01 or 2024-Q1"),
        ),
    ] = ""
    end: Annotated[str, Param("last period shown; empty: all", cli=_cli("--end", REPORT, "last period shown"))] = ""
    title: Annotated[str, Param("report title", cli=_cli("--title", REPORT, "report title"))] = (
        "Expansion revenue report"
    )
    company: Annotated[
        str,
        Param("company name shown in the header", cli=_cli("--company", REPORT, "company name shown in the header")),
    ] = ""
    anonymise: Annotated[
        bool,
        Param(
            "show customer ids instead of names",
            cli=_cli("--anonymise", REPORT, "replace customer names by ids", action="store_true"),
        ),
    ] = False
    memory_limit: Annotated[
        str,
        Param(
            "read the data in chunks of customers so the work fits this size (2GiB, 512MB); empty: whole",
            cli=_cli(
                "--memory-limit",
                REPORT,
                "read the data in chunks of customers so the work fits SIZE (2GiB, 512MB); the same report",
                metavar="SIZE",
            ),
        ),
    ] = ""


@dataclass(frozen=True)
class Spec:
    """One report parameter as declared: name, type, default and its :class:`Param`."""

    name: str
    type: type
    default: object
    param: Param


def _specs() -> dict[str, Spec]:
    out = {}
    for name, info in ReportParameters.model_fields.items():
        (param,) = [m for m in info.metadata if isinstance(m, Param)]
        out[name] = Spec(name, info.annotation, info.default, param)
    return out


#: Every report parameter by name, in the declaration's order.
SPECS: dict[str, Spec] = _specs()


def default_values() -> dict[str, object]:
    """Return every report parameter's default (a fresh dict for each dict default)."""
    return {name: dict(s.default) if isinstance(s.default, dict) else s.default for name, s in SPECS.items()}


def _cli_choices(spec: Spec) -> list:
    """Return the CLI's choices: the allowed values without ``""``, the default first."""
    rest = [c for c in spec.param.choices if c != spec.default]
    return [spec.default, *rest] if spec.default in spec.param.choices else rest


def add_options(parser: argparse.ArgumentParser, groups: tuple[str, ...], *, exclude: tuple[str, ...] = ()) -> None:
    """Add the options of the report parameters in ``groups`` to ``parser``, in declaration order (not ``exclude``)."""
    made = {}
    for name, spec in SPECS.items():
        cli = spec.param.cli
        if cli is None or cli.group not in groups or name in exclude:
            continue
        if cli.group not in made:
            made[cli.group] = parser if cli.group == REPORT else parser.add_argument_group(cli.group)
        options = dict(cli.options)
        if options.get("choices"):
            options["choices"] = _cli_choices(spec)
        made[cli.group].add_argument(cli.flag, **options)


def _dest(cli: Cli) -> str:
    return cli.flag.lstrip("-").replace("-", "_")


def args_values(args, groups: tuple[str, ...]) -> dict[str, object]:
    """Return the report parameters of ``groups`` from parsed arguments (None: not given), ``data`` included."""
    values = {"data": args.data}
    for name, spec in SPECS.items():
        cli = spec.param.cli
        if cli is not None and cli.group in groups:
            value = getattr(args, _dest(cli))
            values[name] = cli.to_param(value) if cli.to_param else value
    return values


def parameters_from_args(args) -> dict:
    """Turn parsed ``python -m kit report`` arguments into report parameters, unchecked (None: not given)."""
    return args_values(args, (SOURCE, MEASURING, REPORT))


def ledger_options(values: dict, *, empty_is_none: bool = True) -> dict:
    """
    Turn parameter values into keyword arguments of :func:`kit.ledger.load_ledger`, as declared.

    ``empty_is_none``: a report parameter's ``""`` means "not given" (None); on the command
    line an option not given is None already and a given ``""`` is passed as it is.
    """
    out = {}
    for name, spec in SPECS.items():
        key, value = spec.param.load, values[name] if name in values else spec.default
        if key is None:
            continue
        if key == "on_invalid":
            value = "quarantine" if value else "raise"
        elif empty_is_none and spec.param.empty_is_none:
            value = value or None
        out[key] = value
    return out
