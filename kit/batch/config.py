"""
Many reports in one command: ``python -m kit batch CONFIG [--output-dir DIR] [--jobs N] [--resume]``.

The config is TOML (``.toml``) or YAML (``.yaml``, ``.yml``) with the same keys; every key
is checked before any report runs, and any problem is one error (exit status 2)::

    output_dir = "../reports/batch"     # optional; relative to the config file;
                                        # --output-dir wins; default reports/<config name>
    [defaults]                          # report parameters shared by every report
    data = "../data/sample_subscriptions.csv"   # data and fx paths: relative to the config file
    period = "quarter"

    [[reports]]                         # one report each
    name = "all-customers"              # optional: file name without suffix
    title = "All customers"             # any parameter of kit.report.PARAMETERS

    [[matrix]]                          # one report per combination of its axes
    name = "size-{value}"               # optional template (placeholders below)
    title = "Expansion of {value} customers, {range}"
    segment_values = { column = "size", values = ["SMB", ["Mid-Market", "Enterprise"]] }
    periods = ["2025-Q3", { start = "2025-Q1", end = "2025-Q4" }]

* ``defaults``, each ``reports`` entry and each ``matrix`` block take the report
  parameters of :data:`kit.report.PARAMETERS` (checked by
  :func:`kit.report.validate_parameters`). Later levels win: defaults, then the entry or
  block, then the matrix axes. Dict parameters (``filters``, ``mapping``, ``defaults``)
  are merged key by key.
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

Reports run in parallel (``--jobs``, default and at most the number of cores), each
published atomically by :func:`kit.report.render_report`. Per report ``NAME`` the output
folder gets ``NAME.html`` and ``NAME.ipynb``, or on failure ``NAME.failed.ipynb`` (when
the notebook ran) and no HTML; and always ``NAME.json``: status, parameters (database
passwords hidden), the headline numbers of the latest period shown, or the error.
``index.html`` links every report with its headline numbers and lists the failures.
Exit status 1 when a report failed, else 0.

Re-running a batch renders every report again. With ``--resume``, a report whose
``NAME.html`` exists and whose ``NAME.json`` records a success with the same
parameters is kept as is (a change of the data file's contents or of the kit is not
detected: run without ``--resume`` then).

Writing: every file of the batch must be a regular file or absent (a symlink, FIFO or
device at ``NAME.html``, ``NAME.ipynb``, ``NAME.json``, ``NAME.failed.ipynb`` or
``index.html`` is refused when the config is checked, before any report runs), and
names are at most :data:`kit.report.MAX_NAME` characters. A run, resumed or not, first
removes the kit's temporary files that killed runs left in the output folder (only
those whose process is gone: a concurrent batch's are kept). Workers end when the batch
process dies (Linux: ``PR_SET_PDEATHSIG``; elsewhere a thread that watches the parent
process id), and a worker whose parent is gone publishes nothing. A full disk is an
:class:`~kit.errors.OutputError` (exit status 2) when the index cannot be written.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import date
from itertools import product
from pathlib import Path

from kit import config
from kit.errors import ParameterError
from kit.export import check_target
from kit.params import SPECS
from kit.report import check_output_dir, default_name, safe_name, validate_parameters
from kit.sources import is_database_url

SUFFIXES = (".toml", ".yaml", ".yml")
TOP_KEYS = ("output_dir", "defaults", "reports", "matrix")
AXES = ("segment_values", "periods")
PLACEHOLDERS = ("column", "value", "start", "end", "range")
INDEX = "index.html"


@dataclass(frozen=True)
class Job:
    """One report of a batch: its file name, validated parameters and where the config made it."""

    name: str
    params: dict
    origin: str


@dataclass(frozen=True)
class Batch:
    """A checked batch config: the reports to make and the folder they go to."""

    source: Path
    output_dir: Path
    jobs: tuple[Job, ...]


# --- reading and checking the config ------------------------------------------------------------
def read_config(path: Path | str) -> dict:
    """Read a TOML or YAML batch config into a dict (no checks of its keys yet)."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise ParameterError(f"{path}: a batch config is .toml, .yaml or .yml, not {path.suffix or 'without suffix'}")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ParameterError(f"{path}: no such batch config") from None
    except OSError as exc:
        raise ParameterError(f"{path}: cannot read the batch config ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ParameterError(f"{path}: the batch config is not UTF-8 text (byte {exc.start})") from None
    if path.suffix.lower() == ".toml":
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ParameterError(f"{path}: not valid TOML: {exc}") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise ParameterError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ParameterError(f"{path}: the batch config must be a table of {', '.join(TOP_KEYS)}, "
                             f"not a {type(data).__name__}")  # fmt: skip
    return data


def load_batch(path: Path | str, *, output_dir: Path | str | None = None) -> Batch:
    """
    Read and check a batch config; return its reports, before any work.

    Relative ``data`` and ``fx`` paths and the config's ``output_dir`` are read from the
    config file's folder; ``output_dir`` given here (``--output-dir``) wins over the
    config's. The output folder is created and checked for writing last.

    Raises
    ------
    ParameterError
        Naming the file, the place in it (``reports[2]``, ``matrix[1] (size=SMB)``) and
        the problem: an unknown key, a wrong type or value, a duplicate or unsafe name, a
        missing data file, an output folder that cannot be written.
    """
    path = Path(path)
    data = read_config(path)
    base = path.resolve().parent

    def fail(message: str):
        raise ParameterError(f"{path.name}: {message}")

    _check_keys(data, TOP_KEYS, "the top level", fail)
    defaults = _table(data.get("defaults", {}), "defaults", fail)
    _check_parameters(defaults, "defaults", fail)
    reports = _array(data.get("reports", []), "reports", fail)
    blocks = _array(data.get("matrix", []), "matrix", fail)

    jobs: list[tuple[str | None, dict, str]] = []
    for i, entry in enumerate(reports, 1):
        where = f"reports[{i}]"
        entry = dict(_table(entry, where, fail))
        name = entry.pop("name", None)
        if name is not None and not isinstance(name, str):
            fail(f"{where}: name must be text, not {name!r}")
        _check_parameters(entry, where, fail)
        jobs.append((name, _merge(defaults, entry), where))
    for i, block in enumerate(blocks, 1):
        jobs.extend(_expand(dict(_table(block, f"matrix[{i}]", fail)), defaults, f"matrix[{i}]", fail))
    if not jobs:
        fail("no reports: add [[reports]] or [[matrix]] entries (reports: or matrix: in YAML)")

    checked = _named_jobs(jobs, base, fail)
    folder = check_output_dir(_output_folder(data, output_dir, path, fail))
    check_target(folder / INDEX)  # every file the batch will write: regular or absent, before any work
    for job in checked:
        for suffix in (".html", ".ipynb", ".json", ".failed.ipynb"):
            check_target(folder / f"{job.name}{suffix}")
    return Batch(path, folder, tuple(checked))


def _named_jobs(jobs: list[tuple[str | None, dict, str]], base: Path, fail) -> list[Job]:
    """Check each job's parameters and name (a default one when none is given): safe, not reserved, unique."""
    checked, seen = [], {}
    for name, params, where in jobs:
        params = _resolve_paths(params, base, where, fail)
        params = _check_parameters(params, where, fail)
        name = name if name is not None else default_name(params)
        try:
            safe_name(name)
        except ParameterError as exc:
            fail(f"{where}: {exc}")
        if name.lower() == "index" or name.lower().endswith(".failed"):
            fail(f"{where}: the report name {name!r} is reserved (index.html, NAME.failed.ipynb)")
        if name.lower() in seen:
            fail(f"{where}: duplicate report name {name!r}, also made by {seen[name.lower()]}; names must be "
                 "unique (ignoring case)")  # fmt: skip
        seen[name.lower()] = where
        checked.append(Job(name, params, where))
    return checked


def _output_folder(data: dict, output_dir: Path | str | None, path: Path, fail) -> Path:
    """Return the batch's output folder: ``output_dir`` given, else the config's (from its folder), else the default."""
    if "output_dir" in data and (not isinstance(data["output_dir"], str) or not data["output_dir"].strip()):
        fail(f"output_dir must be a folder name, not {data['output_dir']!r}")
    if output_dir is not None:
        return Path(output_dir)
    if "output_dir" in data:
        return path.resolve().parent / data["output_dir"]
    return config.REPORTS_DIR / path.stem


def _slug(text: str) -> str:
    """
    Make text safe in a file name.

    >>> _slug("Mid market+Enterprise"), _slug("2025-Q1 to 2025-Q4")
    ('Mid-market-Enterprise', '2025-Q1-to-2025-Q4')
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")


def _check_keys(table: dict, allowed, where: str, fail) -> None:
    unknown = [k for k in table if k not in allowed]
    if unknown:
        fail(f"{where}: unknown key {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}")


def _table(value, where: str, fail) -> dict:
    if not isinstance(value, dict):
        fail(f"{where} must be a table of keys, not {type(value).__name__} {value!r}")
    return value


def _array(value, where: str, fail) -> list:
    if not isinstance(value, list):
        fail(f"{where} must be a list of tables ([[{where}]] in TOML, a '- ' list in YAML), not {value!r}")
    return value


def _check_parameters(values: dict, where: str, fail) -> dict:
    """Check report parameters with validate_parameters; add where they are and a hint for quoted text."""
    try:
        params = validate_parameters(values)
    except ParameterError as exc:
        hint = ""
        bad = [k for k, v in values.items() if k in SPECS and SPECS[k].type is str
               and isinstance(v, bool | int | float | date)]  # fmt: skip
        if bad:
            hint = " (quote text values: a date, number, yes/no or on/off is read as another type)"
        fail(f"{where}: {exc}{hint}")
    _check_text_maps(params, where, fail)
    return params


def _check_text_maps(params: dict, where: str, fail) -> None:
    """Check that filters, mapping and defaults hold text (TOML and YAML can give numbers or lists)."""
    for column, wanted in params["filters"].items():
        items = wanted if isinstance(wanted, list) else [wanted]
        if not isinstance(column, str) or not items or not all(isinstance(v, str) for v in items):
            fail(f"{where}: filters must map a column to a text value or a list of text values, not "
                 f"{column!r}: {wanted!r}")  # fmt: skip
    for key in ("mapping", "defaults"):
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in params[key].items()):
            fail(f"{where}: {key} must map column names to text, not {params[key]!r}")


def _merge(*levels: dict) -> dict:
    """Merge parameter levels: later ones win; dicts are merged key by key."""
    out: dict = {}
    for level in levels:
        for key, value in level.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = {**out[key], **value}
            else:
                out[key] = value
    return out


def _resolve_paths(params: dict, base: Path, where: str, fail) -> dict:
    """Read relative data and fx paths from the config's folder; check that the files exist."""
    out = dict(params)
    for key in ("data", "fx"):
        value = out.get(key)
        if not isinstance(value, str) or not value or is_database_url(value):
            continue
        file = (base / value).resolve()
        if not file.exists():
            fail(f"{where}: {key} file {value} not found (read from {base.name}/, the config's folder)")
        out[key] = str(file)
    return out


def _expand(block: dict, defaults: dict, where: str, fail) -> list[tuple[str, dict, str]]:
    """Turn one matrix block into (name, parameters, origin) per combination of its axes."""
    template = block.pop("name", None)
    if template is not None and not isinstance(template, str):
        fail(f"{where}: name must be a text template, not {template!r}")
    segments = block.pop("segment_values", None)
    periods = block.pop("periods", None)
    if segments is None and periods is None:
        fail(f"{where}: a matrix block needs segment_values or periods (or both); use [[reports]] for one report")
    _check_parameters(block, where, fail)
    seg_axis = [({}, {})] if segments is None else _segment_axis(segments, f"{where}.segment_values", fail)
    per_axis = [({}, {})] if periods is None else _period_axis(periods, where, fail)
    out = []
    for (seg_holders, seg_params), (per_holders, per_params) in product(seg_axis, per_axis):
        holders = {**seg_holders, **per_holders}
        params = _merge(defaults, block, seg_params, per_params)
        if "title" in block:
            params["title"] = _fill(block["title"], holders, f"{where}.title", fail)
        name = None
        if template is not None:
            name = _fill(template, {k: _slug(v) for k, v in holders.items()}, f"{where}.name", fail)
        out.append((name, params, _origin(where, holders)))
    return out


#: One value of a matrix axis: (its placeholders, the report parameters it sets).
AxisValue = tuple[dict, dict]


def _segment_axis(segments, where: str, fail) -> list[AxisValue]:
    """Check a block's ``segment_values``; return one axis value per value (a list: several in one report)."""
    _table(segments, where, fail)
    _check_keys(segments, ("column", "values"), where, fail)
    column, values = segments.get("column"), segments.get("values")
    if not isinstance(column, str) or not column:
        fail(f"{where}: column must be the name of a customer attribute, not {column!r}")
    if not isinstance(values, list) or not values:
        fail(f"{where}: values must be a non-empty list, not {values!r}")
    axis = []
    for value in values:
        group = value if isinstance(value, list) else [value]
        if not group or not all(isinstance(v, str) and v for v in group):
            fail(f"{where}: each value must be text or a list of text, not {value!r}")
        axis.append(({"column": column, "value": "+".join(group)}, {"filters": {column: list(group)}}))
    return axis


def _period_axis(periods, where: str, fail) -> list[AxisValue]:
    """Check a block's ``periods``; return one axis value per label or ``{start, end}`` table."""
    if not isinstance(periods, list) or not periods:
        fail(f"{where}: periods must be a non-empty list of labels or {{start, end}} tables, not {periods!r}")
    axis = []
    for item in periods:
        start, end = _period_span(item, where, fail)
        span = start if start == end else f"{start or 'first'} to {end or 'last'}"
        axis.append(({"start": start, "end": end, "range": span}, {"start": start, "end": end}))
    return axis


def _period_span(item, where: str, fail) -> tuple[str, str]:
    """Return (start, end) of one item of ``periods``: a label, or a table with start and/or end."""
    if isinstance(item, str) and item:
        return item, item
    if isinstance(item, dict) and item and set(item) <= {"start", "end"} and all(
            isinstance(v, str) for v in item.values()):  # fmt: skip
        return item.get("start", ""), item.get("end", "")
    fail(f"{where}: each of periods must be a label like 2025-Q1 or a table with start and/or end, not {item!r}")


def _origin(where: str, holders: dict) -> str:
    """
    Say where a report of a matrix block came from.

    >>> _origin("matrix[1]", {"column": "size", "value": "SMB", "range": "2025-Q1"})
    'matrix[1] (size=SMB, 2025-Q1)'
    """
    label = ", ".join(([f"{holders['column']}={holders['value']}"] if "column" in holders else [])
                      + ([holders["range"]] if "range" in holders else []))  # fmt: skip
    return f"{where} ({label})" if label else where


def _fill(template: str, holders: dict, where: str, fail) -> str:
    """Fill ``{placeholder}`` fields; name any unknown or unavailable one."""
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        fail(f"{where}: {exc} in {template!r} (write {{{{ for a brace)")
    for field in fields:
        if field not in PLACEHOLDERS:
            fail(f"{where}: unknown placeholder {{{field}}}; known: {', '.join(PLACEHOLDERS)}")
        if field not in holders:
            fail(f"{where}: placeholder {{{field}}} needs the "
                 f"{'segment_values' if field in ('column', 'value') else 'periods'} axis")  # fmt: skip
    try:
        return template.format_map(holders)
    except (ValueError, KeyError, IndexError, AttributeError) as exc:
        fail(f"{where}: cannot fill {template!r}: {exc}")
