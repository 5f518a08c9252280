"""
Read a batch config (TOML or YAML), check all of it before any report runs, and say each problem.

:func:`load_batch` reads the file (:func:`read_config`), validates it with
:class:`kit.batch.models.BatchConfig` (the schema, documented there), merges each
report's parameters and checks them again, names every report and checks the names, and
last creates the output folder and checks every file the batch will write in it: each
must be a regular file or absent (a symlink, FIFO or device at ``NAME.html``,
``NAME.ipynb``, ``NAME.json``, ``NAME.failed.ipynb`` or ``index.html`` is refused here),
and names are at most :data:`kit.report.MAX_NAME` characters.

Every problem is one :class:`~kit.errors.ParameterError` (exit status 2) on one line: the
file, the dotted place in it, entries counted from 1 as a reader counts them (pydantic
counts from 0; :func:`dotted` adds one), and what is wrong, with the allowed keys or
values and a near miss when there is one::

    batch.toml: matrix.1.segment_values: unknown key 'value' (did you mean 'values'?); allowed: column, values
    batch.toml: reports.2: duplicate report name 'a', also made by reports.1; names must be unique (ignoring case)
    batch.toml: matrix.1 (size=SMB, 2025-01 to 2025-06): report parameter start '2025-01' is not a quarter label …

A report made by a matrix block is placed by its block and axis values (its
:attr:`Job.origin`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pydantic import ValidationError

from kit import config
from kit.batch.models import BatchConfig, shown
from kit.errors import ParameterError
from kit.export import check_target
from kit.report import check_output_dir, default_name, safe_name, validate_parameters

SUFFIXES = (".toml", ".yaml", ".yml")
TOP_KEYS = tuple(BatchConfig.model_fields)
INDEX = "index.html"
QUOTE_HINT = " (quote text values: a date, number, yes/no or on/off is read as another type)"


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


class Problem(Exception):
    """A problem found after the models' checks (a merged report, a name): where it is and what."""

    def __init__(self, where: str, text: str):
        super().__init__(f"{where}: {text}")
        self.where, self.text = where, text


# --- turning the models' errors into messages -------------------------------------------------------
TYPE_WORDS = {"string_type": "text", "int_type": "a whole number", "bool_type": "true or false",
              "dict_type": "a table of keys", "list_type": "a list"}  # fmt: skip


def dotted(loc: tuple) -> str:
    """
    Write a model error's location as the config's dotted place, entries counted from 1.

    >>> dotted(("matrix", 0, "segment_values", "values", 1)), dotted(())
    ('matrix.1.segment_values.values.2', 'the top level')
    """
    return ".".join(str(p + 1) if isinstance(p, int) else str(p) for p in loc) or "the top level"


def problem(error: dict) -> tuple[str, str]:
    """Turn one pydantic error into (where, what): readable, without pydantic's type names or URL."""
    loc, kind, value = tuple(error["loc"]), error["type"], error.get("input")
    if kind == "value_error":
        return dotted(loc), str(error["ctx"]["error"])
    if kind == "missing":
        return dotted(loc[:-1]), f"{loc[-1]} is missing"
    if kind in TYPE_WORDS:
        hint = QUOTE_HINT if kind == "string_type" and isinstance(value, bool | int | float | date) else ""
        return dotted(loc), f"must be {TYPE_WORDS[kind]}, not {shown(value)}{hint}"
    return dotted(loc), f"{error['msg']}, not {shown(value)}"


def config_error(path: Path, exc: ValidationError) -> ParameterError:
    """
    Make one :class:`ParameterError` of a model's errors: the first problem, and where the others are.

    Its ``problems`` attribute holds every problem as ``"where: what"``.
    """
    found = [problem(e) for e in exc.errors(include_url=False)]
    first, rest = found[0], found[1:]
    more = f" (and {len(rest)} more: {', '.join(w for w, _ in rest)})" if rest else ""
    error = ParameterError(f"{path.name}: {first[0]}: {first[1]}{more}")
    error.problems = [f"{w}: {t}" for w, t in found]
    return error


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
    r"""
    Read and check a batch config; return its reports, before any work.

    The config is checked by :class:`BatchConfig` (every table: known keys, types, allowed
    values, files found), then each report's merged parameters, then the names; the
    output folder is created and checked for writing last, with every file the batch
    will write in it.

    Parameters
    ----------
    path : Path or str
        The config: ``.toml``, ``.yaml`` or ``.yml``. Its relative ``data`` and ``fx``
        paths and its ``output_dir`` are read from its folder.
    output_dir : Path or str, optional
        The output folder (``--output-dir``); wins over the config's ``output_dir``, whose
        default is ``reports/<config name>``.

    Returns
    -------
    Batch
        The config's path, the output folder, and one :class:`Job` per report (name,
        validated parameters, origin), in the config's order.

    Raises
    ------
    ParameterError
        One line: the file, the dotted place in it (entries counted from 1:
        ``reports.2``, ``matrix.1.segment_values``, ``matrix.1 (size=SMB)``) and the
        problem: an unknown key (with the allowed ones), a wrong type or value (the value
        given), a duplicate or unsafe name, a missing data file, an output folder that
        cannot be written. When the models found several problems, the message names
        the places of the others and ``problems`` lists them all.
    OutputError
        A file of the batch exists and is not a regular file (a symlink, FIFO, …).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as out:
    ...     batch = load_batch(config.ROOT / "examples" / "batch.toml", output_dir=out)
    >>> [job.name for job in batch.jobs][:2], batch.jobs[0].origin, batch.jobs[0].params["filters"]
    (['size-SMB', 'size-Mid-Market'], 'matrix.1 (size=SMB)', {'size': ['SMB']})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     bad = Path(folder) / "batch.toml"
    ...     _ = bad.write_text('[[reports]]\nlenient = "yes"\n')
    ...     load_batch(bad)
    Traceback (most recent call last):
    kit.errors.ParameterError: batch.toml: reports.1.lenient: must be true or false, not 'yes'
    """
    path = Path(path)
    data = read_config(path)
    try:
        checked = BatchConfig.model_validate(data, context={"base": path.resolve().parent})
        jobs = _named_jobs(checked.reports_to_make())
    except ValidationError as exc:
        raise config_error(path, exc) from None
    except Problem as exc:
        raise ParameterError(f"{path.name}: {exc}") from None
    if output_dir is None:
        output_dir = (
            path.resolve().parent / checked.output_dir if checked.output_dir else config.REPORTS_DIR / path.stem
        )
    folder = check_output_dir(Path(output_dir))
    check_target(folder / INDEX)  # every file the batch will write: regular or absent, before any work
    for job in jobs:
        for suffix in (".html", ".ipynb", ".json", ".failed.ipynb"):
            check_target(folder / f"{job.name}{suffix}")
    return Batch(path, folder, tuple(jobs))


def _named_jobs(reports: list[tuple[str | None, dict, str]]) -> list[Job]:
    """Check each report's merged parameters and its name (a default one when none is given): safe, unique."""
    if not reports:
        raise Problem("no reports", "add [[reports]] or [[matrix]] entries (reports: or matrix: in YAML)")
    jobs, seen = [], {}
    for name, params, origin in reports:
        try:
            params = validate_parameters(params)
            name = name if name is not None else default_name(params)
            safe_name(name)
        except ParameterError as exc:
            raise Problem(origin, str(exc)) from None
        if name.lower() == "index" or name.lower().endswith(".failed"):
            raise Problem(origin, f"the report name {name!r} is reserved (index.html, NAME.failed.ipynb)")
        if name.lower() in seen:
            raise Problem(origin, f"duplicate report name {name!r}, also made by {seen[name.lower()]}; names must be "
                                  "unique (ignoring case)")  # fmt: skip
        seen[name.lower()] = origin
        jobs.append(Job(name, params, origin))
    return jobs
