"""
What a batch config may hold, as pydantic models; read and checked by :mod:`kit.batch.config`.

The config is TOML (``.toml``) or YAML (``.yaml``, ``.yml``) with the same keys::

    output_dir = "../reports/batch"     # optional; relative to the config file;
                                        # --output-dir wins; default reports/<config name>
    [defaults]                          # report parameters shared by every report
    data = "../data/sample_subscriptions.csv"   # data and fx paths: relative to the config file
    period = "quarter"

    [[reports]]                         # one report each
    name = "all-customers"              # optional: file name without suffix
    title = "All customers"             # any parameter of kit.params.ReportParameters

    [[matrix]]                          # one report per combination of its axes
    name = "size-{value}"               # optional template (placeholders below)
    title = "Expansion of {value} customers, {range}"
    segment_values = { column = "size", values = ["SMB", ["Mid-Market", "Enterprise"]] }
    periods = ["2025-Q3", { start = "2025-Q1", end = "2025-Q4" }]

The models say the same: :class:`BatchConfig` (the top level), :class:`Defaults`,
:class:`ReportEntry`, :class:`MatrixBlock` with :class:`SegmentValues` and its periods.

* ``defaults``, each ``reports`` entry and each ``matrix`` block take the report
  parameters of :class:`kit.params.ReportParameters`: their names, types and allowed
  values are derived from that declaration (never listed here), and each table is also
  checked whole by :func:`kit.report.validate_parameters`. Later levels win: defaults,
  then the entry or block, then the matrix axes. Dict parameters (``filters``,
  ``mapping``, ``defaults``) map text to text (``filters``: to text or a list of text)
  and are merged key by key; the merged parameters of each report are checked again.
* ``segment_values`` sets ``filters[column]`` to each value in turn; a value that is a
  list keeps several values in one report. ``periods`` sets ``start`` and ``end``: a
  label (``"2025-Q1"``, shown alone) or a table with ``start`` and/or ``end``. Labels
  must match the ``period`` grain (``2025-01``, ``2025-Q1``, ``2025``). A block needs at
  least one axis; with both, it makes every combination.
* In a matrix block, ``name`` and ``title`` may hold ``{column}``, ``{value}`` (values
  joined by ``+``), ``{start}``, ``{end}`` and ``{range}`` (``2025-Q1``, or
  ``2025-Q1 to 2025-Q4``); in names they are made file-safe. Write ``{{`` for a brace.
* Without ``name``, a report is named from its parameters
  (:func:`kit.report.default_name`). Names are letters, digits,
  ``-``, ``_``, ``.``, unique ignoring case; ``index`` and ``*.failed`` are reserved.

Each table is a model: strict types (TOML and YAML values are not converted: ``"1"`` is
no number, ``yes`` no text), unknown keys refused with the allowed ones, and the checks
of its values where it is, so that an error can name its place (:mod:`kit.batch.config`
writes the messages).
"""

from __future__ import annotations

import difflib
import re
import string
from datetime import date
from itertools import product
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from kit.errors import ParameterError
from kit.params import SPECS
from kit.report import validate_parameters
from kit.sources import is_database_url

AXES = ("segment_values", "periods")
PLACEHOLDERS = ("column", "value", "start", "end", "range")
#: The report parameters that name files, read from the config file's folder when relative.
PATHS = ("data", "fx")


# --- small checks the models use -----------------------------------------------------------------
def shown(value) -> str:
    """
    Show a value in a message as the config wrote it: a date as 2025-12-31, anything else as its repr.

    >>> shown(date(2025, 12, 31)), shown("x")
    ('2025-12-31', "'x'")
    """
    return value.isoformat() if isinstance(value, date) else repr(value)


def _near(word, choices) -> str:
    """
    Suggest the choice nearest to a misspelt word, if one is near.

    >>> _near("peroid", ["period", "netting"]), _near("colour", ["period"])
    (" (did you mean 'period'?)", '')
    """
    near = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.7)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _one_of(allowed: tuple):
    """Make the check of a parameter's declared allowed values (``""``: shown as ``(empty)``)."""

    def check(value):
        if value is not None and value not in allowed:
            listed = ", ".join(a or "(empty)" for a in allowed)
            raise ValueError(f"must be one of {listed}, not {shown(value)}{_near(value, allowed)}")
        return value

    return check


def _text_map(value: dict | None) -> dict | None:
    """Check a dict parameter given in a config: text keys, text values (TOML and YAML can give others)."""
    for key, text in (value or {}).items():
        if not isinstance(key, str) or not isinstance(text, str):
            raise ValueError(f"must map column names to text, not {shown(key)}: {shown(text)}")
    return value


def _filter_map(value: dict | None) -> dict | None:
    """Check ``filters`` given in a config: a column name -> a text value or a non-empty list of them."""
    for column, wanted in (value or {}).items():
        items = wanted if isinstance(wanted, list) else [wanted]
        if not isinstance(column, str) or not items or not all(isinstance(v, str) for v in items):
            raise ValueError("must map a column to a text value or a list of text values, not "
                             f"{shown(column)}: {shown(wanted)}")  # fmt: skip
    return value


def _list_of(what: str, *, non_empty: bool = False):
    """Make the check that a value is a list (before its items are checked); ``what`` says of what."""

    def check(value):
        if not isinstance(value, list) or (non_empty and not value):
            raise ValueError(f"must be a {'non-empty ' if non_empty else ''}list of {what}, not {shown(value)}")
        return value

    return check


def _parameter_fields() -> dict[str, Any]:
    """
    Derive the config's report-parameter fields from :data:`kit.params.SPECS`.

    Each is optional (None or absent: not given at this level) and strict in its declared
    type; a declared set of allowed values is checked, and dict parameters hold text.
    """
    fields = {}
    for name, spec in SPECS.items():
        checks = []
        if spec.param.allowed() is not None:
            checks.append(AfterValidator(_one_of(spec.param.allowed())))
        if spec.type is dict:
            checks.append(AfterValidator(_filter_map if name == "filters" else _text_map))
        fields[name] = (Annotated[spec.type | None, *checks, Field(description=spec.param.help)], None)
    return fields


def _merge(*levels: dict) -> dict:
    """
    Merge parameter levels: later ones win; dicts are merged key by key.

    >>> _merge({"period": "month", "filters": {"a": ["1"]}}, {"period": "year", "filters": {"b": ["2"]}})
    {'period': 'year', 'filters': {'a': ['1'], 'b': ['2']}}
    """
    out: dict = {}
    for level in levels:
        for key, value in level.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = {**out[key], **value}
            else:
                out[key] = value
    return out


def _slug(text: str) -> str:
    """
    Make text safe in a file name.

    >>> _slug("Mid market+Enterprise"), _slug("2025-Q1 to 2025-Q4")
    ('Mid-market-Enterprise', '2025-Q1-to-2025-Q4')
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")


def _origin(where: str, holders: dict) -> str:
    """
    Say where a report of a matrix block came from.

    >>> _origin("matrix.1", {"column": "size", "value": "SMB", "range": "2025-Q1"})
    'matrix.1 (size=SMB, 2025-Q1)'
    """
    label = ", ".join(([f"{holders['column']}={holders['value']}"] if "column" in holders else [])
                      + ([holders["range"]] if "range" in holders else []))  # fmt: skip
    return f"{where} ({label})" if label else where


# --- the models ------------------------------------------------------------------------------------
class _Table(BaseModel):
    """A table of the config: strict types, no unknown keys (named with the allowed ones)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data):
        if not isinstance(data, dict):
            raise ValueError(f"must be a table of keys, not {type(data).__name__} {shown(data)}")
        unknown = [key for key in data if key not in cls.model_fields]
        if unknown:
            keys = f"key{'s' if len(unknown) > 1 else ''} {', '.join(map(shown, unknown))}"
            raise ValueError(
                f"unknown {keys}{_near(unknown[0], cls.model_fields)}; allowed: {', '.join(cls.model_fields)}"
            )
        return data


class _Parameters(_Table):
    """A table holding report parameters (the fields :func:`_parameter_fields` derives)."""

    #: Its keys that are not report parameters.
    OWN: ClassVar[tuple[str, ...]] = ()

    @field_validator(*PATHS, check_fields=False)
    @classmethod
    def _find_file(cls, value, info: ValidationInfo):
        """Read a relative data or fx path from the config's folder (``context["base"]``); it must exist."""
        base = (info.context or {}).get("base")
        if base is None or not value or is_database_url(value):
            return value
        file = (base / value).resolve()
        if not file.exists():
            raise ValueError(f"file {value} not found (read from {base.name}/, the config's folder)")
        return str(file)

    @model_validator(mode="after")
    def _check_whole(self):
        self._check_level()
        return self

    def _check_level(self) -> None:
        """Check the table's parameters together, as one report's would be (start and end labels, …)."""
        try:
            validate_parameters(self.parameters())
        except ParameterError as exc:
            raise ValueError(str(exc)) from None

    def parameters(self) -> dict:
        """Return the report parameters given in this table (an explicit None included: "the default")."""
        return {k: v for k, v in self.model_dump(exclude_unset=True).items() if k not in self.OWN}


Defaults = create_model("Defaults", __base__=_Parameters, __module__=__name__,
                        __doc__="The ``[defaults]`` table: report parameters every report starts from.",
                        **_parameter_fields())  # fmt: skip


class _ReportEntry(_Parameters):
    OWN = ("name",)

    name: str | None = None


ReportEntry = create_model("ReportEntry", __base__=_ReportEntry, __module__=__name__,
                           __doc__="One ``[[reports]]`` entry: an optional ``name`` and report parameters.",
                           **_parameter_fields())  # fmt: skip


#: One value of a matrix axis: (its placeholders, the report parameters it sets).
AxisValue = tuple[dict, dict]


def _segment_value(value) -> list[str]:
    """Check one of ``segment_values.values``: text, or a non-empty list of text; return it as a list."""
    group = value if isinstance(value, list) else [value]
    if not group or not all(isinstance(v, str) and v for v in group):
        raise ValueError(f"must be text or a non-empty list of text, not {shown(value)}")
    return list(group)


def _period_span(item) -> tuple[str, str]:
    """
    Check one of ``periods``: a label, or a table with start and/or end; return (start, end).

    >>> _period_span("2025-Q1"), _period_span({"end": "2025-06"})
    (('2025-Q1', '2025-Q1'), ('', '2025-06'))
    """
    if isinstance(item, str) and item:
        return item, item
    if isinstance(item, dict) and item and set(item) <= {"start", "end"} and all(
            isinstance(v, str) for v in item.values()):  # fmt: skip
        return item.get("start", ""), item.get("end", "")
    raise ValueError(f"must be a label like 2025-Q1 or a table with start and/or end, not {shown(item)}")


class SegmentValues(_Table):
    """A matrix block's ``segment_values``: a customer attribute and its values, one report each."""

    column: str
    values: Annotated[list[Annotated[Any, AfterValidator(_segment_value)]],
                      BeforeValidator(_list_of("values (text, or lists of text)", non_empty=True))]  # fmt: skip

    @field_validator("column")
    @classmethod
    def _column_named(cls, column: str) -> str:
        if not column:
            raise ValueError(f"must be the name of a customer attribute, not {column!r}")
        return column

    def axis(self) -> list[AxisValue]:
        """Return one axis value per value: ``{column}`` and ``{value}``, and the ``filters`` it sets."""
        return [({"column": self.column, "value": "+".join(group)}, {"filters": {self.column: list(group)}})
                for group in self.values]  # fmt: skip


def _period_axis(spans: list[tuple[str, str]]) -> list[AxisValue]:
    """
    Return one axis value per (start, end) of ``periods``: ``{start}``, ``{end}``, ``{range}`` and what it sets.

    >>> _period_axis([("2025-Q1", "2025-Q1"), ("", "2025-Q4")])[1][0]
    {'start': '', 'end': '2025-Q4', 'range': 'first to 2025-Q4'}
    """
    return [({"start": start, "end": end, "range": start if start == end else f"{start or 'first'} to {end or 'last'}"},
             {"start": start, "end": end}) for start, end in spans]  # fmt: skip


def _check_template(template: str, axes: set[str]) -> None:
    """Check a name or title template: known placeholders, each of an axis in ``axes``, a format text takes."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ValueError(f"{exc} in {template!r} (write {{{{ for a brace)") from None
    for field in dict.fromkeys(fields):  # in the template's order, once each
        if field not in PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {{{field}}}{_near(field, PLACEHOLDERS)}; known: "
                             f"{', '.join(PLACEHOLDERS)}")  # fmt: skip
        axis = "segment_values" if field in ("column", "value") else "periods"
        if axis not in axes:
            raise ValueError(f"placeholder {{{field}}} needs the {axis} axis")
    try:  # the values are text: a format that takes text now takes every value
        template.format_map(dict.fromkeys(PLACEHOLDERS, "x"))
    except (ValueError, KeyError, IndexError, AttributeError) as exc:
        raise ValueError(f"cannot fill {template!r}: {exc}") from None


class _MatrixBlock(_Parameters):
    """The axes and name template of a ``[[matrix]]`` block; its parameters are added by create_model."""

    OWN = ("segment_values", "periods", "name")

    segment_values: SegmentValues | None = None
    periods: Annotated[list[Annotated[Any, AfterValidator(_period_span)]] | None,
                       BeforeValidator(_list_of("labels or {start, end} tables", non_empty=True))] = None  # fmt: skip
    name: str | None = None

    @field_validator("name", "title", check_fields=False)
    @classmethod
    def _template(cls, template: str | None, info: ValidationInfo) -> str | None:
        """Check a name or title template against the block's axes (:func:`_check_template`)."""
        if template is None or not all(axis in info.data for axis in AXES):  # an axis failed: said there
            return template
        given = {axis for axis in AXES if info.data[axis] is not None}
        if given:  # no axis: the block's own error says it
            _check_template(template, given)
        return template

    def _check_level(self) -> None:
        """Check that the block has an axis, then its parameters together."""
        if self.segment_values is None and self.periods is None:
            raise ValueError("a matrix block needs segment_values or periods (or both); use [[reports]] for one report")
        super()._check_level()

    def expand(self, defaults: dict, where: str) -> list[tuple[str | None, dict, str]]:
        """Return (name or None, merged parameters, origin) per combination of the block's axes."""
        seg_axis = [({}, {})] if self.segment_values is None else self.segment_values.axis()
        per_axis = [({}, {})] if self.periods is None else _period_axis(self.periods)
        block, out = self.parameters(), []
        for (seg_holders, seg_params), (per_holders, per_params) in product(seg_axis, per_axis):
            holders = {**seg_holders, **per_holders}
            params = _merge(defaults, block, seg_params, per_params)
            if self.title is not None:
                params["title"] = self.title.format_map(holders)
            name = None if self.name is None else self.name.format_map({k: _slug(v) for k, v in holders.items()})
            out.append((name, params, _origin(where, holders)))
        return out


MatrixBlock = create_model("MatrixBlock", __base__=_MatrixBlock, __module__=__name__,
                           __doc__="One ``[[matrix]]`` block: axes, a name template and report parameters.",
                           **_parameter_fields())  # fmt: skip


def _output_dir(value):
    """Check ``output_dir``: a folder name (text, not blank)."""
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ValueError(f"must be a folder name, not {value!r}")
    return value


class BatchConfig(_Table):
    """A whole batch config: where the reports go, the defaults, the single reports and the matrix blocks."""

    output_dir: Annotated[str | None, BeforeValidator(_output_dir)] = None
    defaults: Defaults = Field(default_factory=Defaults)
    reports: Annotated[list[ReportEntry], BeforeValidator(_list_of(
        "tables ([[reports]] in TOML, a '- ' list in YAML)"))] = []  # fmt: skip
    matrix: Annotated[list[MatrixBlock], BeforeValidator(_list_of(
        "tables ([[matrix]] in TOML, a '- ' list in YAML)"))] = []  # fmt: skip

    def reports_to_make(self) -> list[tuple[str | None, dict, str]]:
        """Return (name or None, merged parameters, where) of every report, in the config's order."""
        defaults = self.defaults.parameters()
        out = [(entry.name, _merge(defaults, entry.parameters()), f"reports.{i}")
               for i, entry in enumerate(self.reports, 1)]  # fmt: skip
        for i, block in enumerate(self.matrix, 1):
            out += block.expand(defaults, f"matrix.{i}")
        return out
