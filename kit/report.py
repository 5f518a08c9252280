"""
Run the report notebook, check that it completed, export HTML, publish atomically.

A report is published only when papermill finished without error, every code cell ran,
and the last cell printed :data:`COMPLETE_MARKER`. Otherwise no HTML is written: the
executed notebook is kept as ``NAME.failed.ipynb`` beside where the report would have
been, and :class:`~kit.errors.ReportError` names the failing cell and its error.

Writing: the report's files (``NAME.html``, ``NAME.ipynb``, ``NAME.failed.ipynb``) must
be regular files or absent, and the name at most :data:`MAX_NAME` characters (a default
name longer than that is cut and ends with a digest of the whole, so it stays distinct
and the same run to run); both are checked before a kernel starts, as is that none of
them is the data or FX file. Relative files (a path, or the file of an ``sqlite:///``
URL) are made absolute against the caller's working folder before the kernel starts
(it runs in the notebook's folder), and a missing one is a LoadError without a kernel. The notebook runs in
a private (0600) temporary file of the kit (:func:`kit.export.private_temporary`),
published by a rename only when complete; stale temporaries of killed runs are removed
from the output folder when a report starts. A full disk or a file-size limit is an
:class:`~kit.errors.OutputError` (exit status 2) and leaves no part of a report.

Secrets: a database URL's password never reaches the notebook. Every text parameter
that is a database URL with a secret (``data``, ``fx``, any other) is given to papermill
with its secrets hidden (:func:`kit.sources.shown_url`); the real URL reaches the kernel
in an environment variable (:func:`url_env`: :data:`DATA_URL_ENV` for ``data``), which
:func:`load_options` reads back when the hidden form matches. Before a notebook is kept
(``NAME.ipynb``, ``NAME.failed.ipynb``) every string in it is searched for those URLs and
their passwords (of 4 characters or more; a shorter one could be any text), which are
replaced by the hidden form or ``***``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from kit import config
from kit.errors import LoadError, ParameterError, ReportError, ReportInputError
from kit.export import (
    check_not_input,
    check_target,
    clean_stale_temporaries,
    output_error,
    private_temporary,
    replaced_mode,
    write_atomic,
)
from kit.params import SPECS, default_values, ledger_options
from kit.params import reactivation_window as api_reactivation_window
from kit.periods import EXAMPLE_LABELS, LABELS  # period labels by grain, as start and end must be written
from kit.sections import SECTIONS, section  # noqa: F401 - the notebook's one call per section
from kit.sources import _secrets as url_secrets
from kit.sources import absolute_sqlite_url, check_readable, is_database_url, shown_url, sqlite_url_file

COMPLETE_MARKER = "report complete"
#: Longest report name: room for ``.failed.ipynb`` within the 255 bytes of a file name, and to spare.
MAX_NAME = 200
#: Environment variable that carries a database URL with its password to the report's kernel.
DATA_URL_ENV = "EXPANSION_KIT_DATA_URL"


def url_env(key: str) -> str:
    """
    Return the environment variable that carries report parameter ``key``'s real URL to the kernel.

    >>> url_env("data"), url_env("fx")
    ('EXPANSION_KIT_DATA_URL', 'EXPANSION_KIT_FX_URL')
    """
    return DATA_URL_ENV if key == "data" else f"EXPANSION_KIT_{key.upper()}_URL"


def secret_parameters(params: dict) -> dict[str, str]:
    """Return the text parameters that are database URLs holding a secret: name -> the real URL."""
    return {key: value for key, value in params.items()
            if isinstance(value, str) and is_database_url(value) and shown_url(value) != value}  # fmt: skip


def _with_secret(params: dict, key: str) -> str:
    """Parameter ``key`` as given, or the real URL from the environment when papermill was given it hidden."""
    value = params[key]
    secret = os.environ.get(url_env(key), "")
    if secret and value and is_database_url(value) and shown_url(secret) == value:
        return secret
    return value


#: Longest a notebook cell may run, in seconds (a hung database query must not hang a batch).
CELL_TIMEOUT = 1800
#: The MIME type of the headline numbers the notebook's last (hidden) cell displays.
HEADLINE_MIME = "application/vnd.expansion-kit.headline+json"
#: Tells the report's kernel where to write the workbook (``render_report(xlsx=True)``).
WORKBOOK_ENV = "EXPANSION_KIT_WORKBOOK"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

#: The report's parameters: name -> (type, default, meaning), a read-only view of :mod:`kit.params`.
#: The notebook's ``parameters`` cell holds the same names and defaults (a test keeps them equal).
PARAMETERS: Mapping[str, tuple[type, object, str]] = MappingProxyType(
    {name: (spec.type, spec.default, spec.param.help) for name, spec in SPECS.items()})  # fmt: skip


def validate_parameters(values: dict) -> dict:
    """
    Check report parameters by name and type; return them with defaults filled in.

    Parameters
    ----------
    values : dict
        Report parameters by name (see :data:`PARAMETERS`); a missing one, or None, takes
        its default.

    Returns
    -------
    dict
        Every report parameter, in the declared order, of its declared type.

    Raises
    ------
    ParameterError
        Naming an unknown parameter or one of the wrong type (``007`` for a number,
        ``"yes"`` for a flag) and the expected type; a value outside a parameter's allowed
        ones; a ``start`` or ``end`` that is not a label of the period (or a start after
        the end); an ``as_of`` that is no date or lies after today; a reactivation window
        below -1.

    Examples
    --------
    >>> params = validate_parameters({"period": "quarter", "start": "2025-Q1"})
    >>> params["period"], params["start"], params["netting"]
    ('quarter', '2025-Q1', 'customer')
    >>> validate_parameters({"periods": "month"})
    Traceback (most recent call last):
    ...
    kit.errors.ParameterError: unknown report parameter periods; known: data, kind, preset, table, query, sheet, \
header_row, sep, encoding, mapping, defaults, date_format, decimal, thousands, thousands_grouping, \
currency_symbols, fx, fx_mode, currency, as_of, lenient, snapshot_dates, period, netting, reactivation_window, \
segment, filters, start, end, title, company, anonymise, memory_limit
    """
    unknown = sorted(set(values) - set(SPECS))
    if unknown:
        raise ParameterError(f"unknown report parameter {', '.join(unknown)}; known: {', '.join(SPECS)}")
    out = _typed(values)
    _check_choices(out)
    for key in ("start", "end"):
        if out[key] and not re.fullmatch(LABELS[out["period"]], out[key]):
            raise ParameterError(f"report parameter {key} {out[key]!r} is not a {out['period']} label like "
                                 f"{EXAMPLE_LABELS[out['period']]}")  # fmt: skip
    if out["start"] and out["end"] and out["start"] > out["end"]:
        raise ParameterError(f"report parameter start {out['start']} is after end {out['end']}")
    if out["as_of"]:  # the form, and not after today, before a kernel starts (the load says it again)
        from datetime import date

        from kit.ledger import parse_as_of

        parse_as_of(out["as_of"], today=date.today())
    api_reactivation_window(out["reactivation_window"])  # the check: -1 (none) or a whole number ≥ 0
    if out["memory_limit"]:
        from kit.chunks import chunk_count

        chunk_count(1, out["memory_limit"])  # the check: a size such as 2GiB, enough for one process, before a kernel
    return out


def _typed(values: dict) -> dict:
    """Return every declared parameter, given (None: not given) or its default; refuse a value of another type."""
    out = default_values()
    for name, spec in SPECS.items():
        value = values.get(name)
        value = out[name] if value is None else value
        if spec.type is int and isinstance(value, bool) or not isinstance(value, spec.type):
            raise ParameterError(f"report parameter {name} must be {spec.type.__name__}, not {value!r}")
        out[name] = value
    return out


def _check_choices(params: dict) -> None:
    """Refuse a value outside a parameter's declared allowed values."""
    for name, spec in SPECS.items():
        allowed = spec.param.allowed()
        if allowed is not None and params[name] not in allowed:
            raise ParameterError(f"report parameter {name} must be one of {', '.join(a or '(empty)' for a in allowed)}")


def load_options(values: dict) -> dict:
    """
    Turn report parameters into keyword arguments of :func:`kit.ledger.load_ledger` (see :mod:`kit.params`).

    Parameters
    ----------
    values : dict
        Validated report parameters (:func:`validate_parameters`).

    Returns
    -------
    dict
        ``source`` (the data: the bundled sample when ``data`` is empty, the real URL when
        papermill was given it with its password hidden), ``fx`` (the bundled FX table for
        the sample) and the loading options.

    Examples
    --------
    >>> options = load_options(validate_parameters({"fx_mode": "monthly", "lenient": True}))
    >>> Path(options["source"]).name, Path(options["fx"]).name, options["fx_mode"], options["on_invalid"]
    ('sample_subscriptions.csv', 'fx_rates.csv', 'monthly', 'quarantine')
    """
    data = _with_secret(values, "data") or str(config.SAMPLE_SUBSCRIPTIONS)  # the URL papermill was given hidden
    fx = _with_secret(values, "fx") or (str(config.SAMPLE_FX) if not values["data"] else None)
    return {**ledger_options(values), "source": data, "fx": fx}


def fx_reference_ledger(ledger, params: dict):
    """
    Return the data in the other FX mode when it holds several currencies, else None.

    A ledger loaded with ``load_ledger(..., fx_reference=True)`` (as the report notebook
    loads it) carries it already: the rows were read and parsed once. For a ledger loaded
    without it, the data is loaded again in the other mode. The report compares the two to
    show how much of the figures is exchange-rate movement.
    """
    from kit.currency import data_currencies
    from kit.ledger import load_ledger
    from kit.narrative import other_fx_mode

    if ledger.fx_reference is not None or len(data_currencies(ledger)) < 2:
        return ledger.fx_reference
    return load_ledger(**{**load_options(params), "fx_mode": other_fx_mode(params["fx_mode"])})


def safe_name(name: str) -> str:
    """Check a report file name: letters, digits, ``-``, ``_`` and ``.``; no folders."""
    if not name or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name) or ".." in name:
        raise ParameterError(f"report name {name!r} must be letters, digits, '-', '_' or '.', with no folders")
    if len(name) > MAX_NAME:
        raise ParameterError(f"report name {name[:40]}… is too long ({len(name)} characters, at most {MAX_NAME}: "
                             "the file system must hold NAME.failed.ipynb)")  # fmt: skip
    return name


def check_output_dir(path: Path) -> Path:
    """Create the output folder if needed and check it is writable, before any work."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError(f"{path}: cannot create the output folder ({exc.strerror})") from None
    if not os.access(path, os.W_OK):
        raise ParameterError(f"{path}: the output folder is not writable")
    return path


# Errors of the kit that mean the data or a parameter is wrong, not the report (exit status 2).
INPUT_ERRORS = ("LoadError", "ValidationError", "ParameterError")


def render_report(params: dict, *, output_dir: Path | None = None, name: str | None = None,
                  notebook: Path = config.REPORT_NOTEBOOK, xlsx: bool = False) -> Path:  # fmt: skip
    """
    Execute the report notebook with ``params`` and publish ``NAME.html`` and ``NAME.ipynb``.

    With ``xlsx=True`` the notebook also writes ``NAME.xlsx`` (every table of the run, its
    parameters and data quality: :func:`kit.workbook.to_excel`) from the tables it computed,
    so the data is read once for both.

    Parameters
    ----------
    params : dict
        Report parameters by name (checked by :func:`validate_parameters`).
    output_dir : Path, optional
        Where the report is written (created if needed); default :data:`kit.config.REPORTS_DIR`.
    name : str, optional
        The report's file name without suffix; default :func:`default_name` of the parameters.
    notebook : Path
        The report notebook; its ``parameters`` cell must declare every report parameter.
    xlsx : bool
        Also write ``NAME.xlsx`` beside the HTML (``kit report --xlsx``).

    Returns
    -------
    Path
        The HTML file.

    Raises
    ------
    ParameterError
        A wrong parameter, name or output folder, before any work.
    LoadError
        The data or FX file (or an SQLite URL's file) is missing or unreadable, before a kernel starts.
    ReportInputError
        The notebook stopped on the data or a parameter (exit status 2 in the CLI).
    ReportError
        The notebook failed or did not complete; the failed notebook is kept as ``NAME.failed.ipynb``.
    OutputError
        The report could not be written (a full disk, a file-size limit); no part of it is left.

    Examples
    --------
    >>> render_report({"period": "quarter"}, output_dir=Path("reports"))  # doctest: +SKIP
    PosixPath('reports/expansion-sample-quarter.html')
    """
    import papermill as pm

    params = validate_parameters(params)
    files, sqlite_files = _absolute_inputs(params)
    output_dir = check_output_dir(Path(output_dir or config.REPORTS_DIR))
    name = safe_name(name or default_name(params))
    html_path, executed_path = output_dir / f"{name}.html", output_dir / f"{name}.ipynb"
    failed_path = output_dir / f"{name}.failed.ipynb"
    workbook_path = output_dir / f"{name}.xlsx"
    targets = (html_path, executed_path, failed_path, *([workbook_path] if xlsx else []))
    for path in targets:  # only regular files are replaced, never an input
        check_target(path)
        check_not_input(path, {"data": params["data"], "FX": params["fx"]}, "the report's output")
    clean_stale_temporaries(output_dir)  # notebooks of runs that were killed
    _check_declared(pm, notebook, params)
    try:  # a missing file is said before a kernel starts
        _check_inputs_found(params, files, sqlite_files)
    except LoadError:
        for stale in targets:  # as in fail() below: no stale report (or workbook) survives
            stale.unlink(missing_ok=True)
        raise
    secrets = secret_parameters(params)
    params = {**params, **{key: shown_url(value) for key, value in secrets.items()}}
    try:
        tmp = str(private_temporary(output_dir, ".ipynb"))  # private until published
        workbook_tmp = str(private_temporary(output_dir, ".xlsx")) if xlsx else None  # published after the HTML
    except OSError as exc:
        raise output_error(executed_path, exc) from None

    def fail(message: str, kind: type[ReportError] = ReportError) -> ReportError:
        # No report under this name may survive a failed run: a stale one would be read as current.
        html_path.unlink(missing_ok=True)
        executed_path.unlink(missing_ok=True)
        if xlsx:
            workbook_path.unlink(missing_ok=True)
        if Path(tmp).stat().st_size:  # papermill saves after every cell: keep what ran, with its error
            _publish(tmp, failed_path, secrets)
            message += f" (the failed notebook is kept as {failed_path})"
        return kind(message)

    # what the kernel inherits: the secret URLs (never in a file) and where write_workbook(run) writes
    kernel_env = {url_env(key): value for key, value in secrets.items()}
    kernel_env[WORKBOOK_ENV] = workbook_tmp if xlsx else None  # None: unset, a stale one never reaches the kernel
    saved = _set_environment(kernel_env)
    try:
        try:
            _execute(pm, str(notebook), tmp, parameters=params, kernel_name="python3", progress_bar=False,
                     cwd=str(notebook.parent), log_output=False, execution_timeout=CELL_TIMEOUT,
                     # the kernel's own log (TCP warning, shutdown interrupt) is noise here
                     extra_arguments=["--IPKernelApp.log_level=CRITICAL"])  # fmt: skip
        except pm.PapermillExecutionError as exc:
            if exc.ename in INPUT_ERRORS:  # the data or a parameter: every problem, as `kit summary` says them
                raise fail(f"report {name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue.strip()}",
                           ReportInputError) from None  # fmt: skip
            raise fail(
                f"report {name} failed in cell {exc.exec_count}: {exc.ename}: {_first_line(exc.evalue)}"
            ) from None
        except OSError as exc:  # the notebook could not be saved: a full disk, a size limit
            html_path.unlink(missing_ok=True)
            executed_path.unlink(missing_ok=True)
            if xlsx:
                workbook_path.unlink(missing_ok=True)
            raise output_error(executed_path, exc) from None
        except Exception as exc:  # the kernel died, timed out or did not start
            raise fail(f"report {name} could not be executed: {type(exc).__name__}: {_first_line(str(exc))}") from None
        import nbformat

        _hide_secrets(tmp, secrets)  # before the HTML is made from it
        executed = nbformat.read(tmp, as_version=4)
        problem = completion_problem(executed)
        if not problem and xlsx and not Path(workbook_tmp).stat().st_size:
            problem = f"the notebook wrote no workbook {workbook_path.name} (its write_workbook cell did not run)"
        if problem:
            raise fail(f"report {name} did not complete: {problem}")
        write_atomic(html_path, export_html(executed, title=params["title"]))
        _publish(tmp, executed_path, secrets)
        if xlsx:
            try:
                os.chmod(workbook_tmp, replaced_mode(workbook_path))  # as a notebook: 0644 new, kept when replaced
                os.replace(workbook_tmp, workbook_path)
            except OSError as exc:
                raise output_error(workbook_path, exc) from None
        failed_path.unlink(missing_ok=True)
    finally:
        Path(tmp).unlink(missing_ok=True)
        if workbook_tmp:
            Path(workbook_tmp).unlink(missing_ok=True)
        _set_environment(saved)
    return html_path


def write_workbook(run) -> Path | None:
    """
    Write the run's workbook where :func:`render_report` asked for one (``xlsx=True``); else nothing.

    The report notebook's last cell calls it with the run it computed, so the workbook holds
    the numbers the report shows, from one read of the data. Returns the path written, or None.
    """
    target = os.environ.get(WORKBOOK_ENV)
    if not target:  # a notebook opened by hand, or a run without xlsx
        return None
    from kit.workbook import to_excel

    return to_excel(target, run)


def _check_declared(pm, notebook: Path, params: dict) -> None:
    """Refuse a notebook whose ``parameters`` cell does not declare every report parameter."""
    declared = pm.inspect_notebook(str(notebook))
    missing = sorted(set(params) - set(declared))
    if missing:
        raise ParameterError(f"the notebook {notebook.name} does not declare {', '.join(missing)}")


def _absolute_inputs(params: dict) -> tuple[list[str], dict[str, Path]]:
    """
    Make the data and FX files absolute, in ``params``, against the caller's working folder.

    The kernel runs in the notebook's folder. Returns the parameters that are files, and
    the SQLite files of the parameters that are ``sqlite:///`` URLs (made absolute too).
    """
    files = [key for key in ("data", "fx") if params[key] and not is_database_url(params[key])]
    for key in files:  # relative to where the caller is, not to the notebook's folder
        params[key] = str(Path(params[key]).resolve())
    sqlite_files = {}  # an SQLite URL's relative file, too: the kernel runs in the notebook's folder
    for key in ("data", "fx"):
        if params[key] and is_database_url(params[key]) and sqlite_url_file(params[key]) is not None:
            params[key] = absolute_sqlite_url(params[key])
            sqlite_files[key] = sqlite_url_file(params[key])
    return files, sqlite_files


def _check_inputs_found(params: dict, files: list[str], sqlite_files: dict[str, Path]) -> None:
    """Raise a LoadError for a data or FX file (or an SQLite URL's file) that is missing or unreadable."""
    for key in files:
        check_readable(Path(params[key]))
    for key, file in sqlite_files.items():
        if not file.is_file():
            raise LoadError(f"{shown_url(params[key])}: SQLite file not found")


def _set_environment(values: dict[str, str | None]) -> dict[str, str | None]:
    """Set (None: unset) environment variables; return their earlier values, to set back the same way."""
    saved = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
    return saved


def _publish(tmp: str, path: Path, secrets: dict[str, str]) -> None:
    """Publish an executed notebook: any secret hidden, readable by others, renamed into place."""
    _hide_secrets(tmp, secrets)
    try:
        os.chmod(tmp, replaced_mode(path))  # a notebook replaced keeps its permission bits; a new one is 0644
        os.replace(tmp, path)
    except OSError as exc:
        raise output_error(path, exc) from None


def _execute(pm, *args, **kwargs) -> None:
    """Run papermill; start the kernel once more when its start collided on a port (ZMQError)."""
    try:
        pm.execute_notebook(*args, **kwargs)
    except Exception as exc:
        if isinstance(exc, pm.PapermillExecutionError) or not kernel_start_failed(exc):
            raise
        pm.execute_notebook(*args, **kwargs)


def kernel_start_failed(exc: BaseException) -> bool:
    """
    Tell whether an error is a kernel that could not start, e.g. two kernels on one port.

    >>> kernel_start_failed(RuntimeError("Kernel died before replying to kernel_info"))
    True
    >>> kernel_start_failed(ValueError("bad value"))
    False
    """
    text = f"{type(exc).__name__}: {exc}"
    signs = ("Address already in use", "before replying to kernel_info", "Kernel didn't respond in")
    return type(exc).__name__ == "ZMQError" or any(sign in text for sign in signs)


#: Shortest password hidden wherever it occurs in a kept notebook (a shorter one could be any text).
MIN_HIDDEN_PASSWORD = 4


def _replacements(secrets: dict[str, str]) -> list[tuple[str, str]]:
    """Return what to hide in a notebook: each secret URL (and its password, percent-decoded too) -> its hidden form."""
    from urllib.parse import unquote

    from sqlalchemy.engine import make_url

    pairs = []
    for url in secrets.values():
        pairs.append((url, shown_url(url)))
        try:
            parsed = make_url(url)
        except Exception:  # noqa: BLE001 - shown_url keeps only the scheme of such a URL: hide it whole
            continue
        words = url_secrets(parsed)  # the password and every secret query value
        for word in map(str, words):
            pairs += [(w, "***") for w in {word, unquote(word)} if len(w) >= MIN_HIDDEN_PASSWORD]
    return sorted(set(pairs), key=lambda pair: len(pair[0]), reverse=True)


def _hide_secrets(path: Path | str, secrets: dict[str, str]) -> None:
    """
    Hide the secret URLs of a run (:func:`secret_parameters`) in a notebook file before it is kept or published.

    Papermill writes the parameters into the notebook (its metadata and the injected
    cell), and an output or traceback may quote a URL: every string of the notebook is
    searched, so a URL escaped in JSON is found too.
    """
    for key in ("data", "fx"):  # a URL the kernel was given by an outer run (batch) is hidden too
        outer = os.environ.get(url_env(key), "")
        if outer and is_database_url(outer) and shown_url(outer) != outer:
            secrets = {**secrets, f"outer {key}": outer}
    if not secrets:
        return
    pairs = _replacements(secrets)

    def hidden(value):
        if isinstance(value, str):
            for secret, shown in pairs:
                value = value.replace(secret, shown)
            return value
        if isinstance(value, list):
            return [hidden(v) for v in value]
        if isinstance(value, dict):
            return {hidden(k): hidden(v) for k, v in value.items()}
        return value

    path = Path(path)
    text = path.read_text(encoding="utf-8")
    notebook = json.loads(text)
    new = hidden(notebook)
    if new != notebook:
        write_atomic(path, json.dumps(new, indent=1, sort_keys=True, ensure_ascii=False) + "\n", mode=0o600)


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def default_name(params: dict) -> str:
    """
    Name a report from the parameters that change what it shows, so different runs do not overwrite each other.

    ``expansion-<data>[-<table>][-query-<digest>][-sheet-<sheet>]-<period>``, then the
    filters, the range shown (start and end), and any non-default reporting currency, FX
    file, netting, reactivation window, FX mode, as_of, segment, leniency and anonymising.
    Values that differ only in characters a file name cannot hold (``North America``,
    ``North-America``) give one name; choose names then.

    Parameters
    ----------
    params : dict
        Validated report parameters (:func:`validate_parameters`).

    Returns
    -------
    str
        A safe file name (letters, digits, ``-``, ``_``, ``.``) of at most :data:`MAX_NAME` characters.

    Examples
    --------
    >>> p = validate_parameters({"period": "quarter", "filters": {"size": ["SMB"]}, "start": "2025-Q1"})
    >>> default_name(p), default_name({**p, "end": "2025-Q1"}), default_name({**p, "end": "2025-Q4"})
    ('expansion-sample-quarter-size-SMB-2025-Q1-last', 'expansion-sample-quarter-size-SMB-2025-Q1', \
'expansion-sample-quarter-size-SMB-2025-Q1-2025-Q4')
    >>> default_name(validate_parameters({"netting": "product", "reactivation_window": 3, "fx_mode": "monthly"}))
    'expansion-sample-month-product-netting-window-3-fx-monthly'
    >>> default_name(validate_parameters({"data": "b.db", "table": "mrr", "currency": "EUR", "lenient": True}))
    'expansion-b-mrr-month-in-EUR-lenient'
    >>> default_name(validate_parameters({"data": "sqlite:///b.db", "query": "select * from mrr"}))
    'expansion-query-d7fb4cd4-month'
    >>> default_name(validate_parameters({"data": "my..data.xlsx", "sheet": "2025"}))
    'expansion-my.data-sheet-2025-month'

    A name longer than :data:`MAX_NAME` is cut and ends with a digest of the whole:

    >>> long = default_name(validate_parameters({"filters": {"region": ["x" * 300]}}))
    >>> len(long), long[:30], long[-9:]
    (200, 'expansion-sample-month-region-', '-79e0abd0')
    """
    parts = ["expansion", _name_stem(params)]
    if params["sheet"]:
        parts.append(f"sheet-{params['sheet']}")
    parts.append(params["period"])
    for key, value in sorted(params["filters"].items()):
        parts.append(f"{key}-{'+'.join(map(str, value)) if isinstance(value, list) else value}")
    if params["start"] or params["end"]:
        parts.append(params["start"] or "first")
        if params["end"] != params["start"]:
            parts.append(params["end"] or "last")
    defaults = default_values()
    options = {  # the parameters that change the numbers or the content, when not at their default
        "currency": f"in-{params['currency']}",
        "fx": f"fx-{Path(shown_url(params['fx'])).stem}",  # a URL's password reaches no file name
        "netting": f"{params['netting']}-netting",
        "reactivation_window": f"window-{params['reactivation_window']}",
        "fx_mode": f"fx-{params['fx_mode']}",
        "as_of": f"as-of-{params['as_of']}",
        "segment": f"by-{params['segment']}",
        "lenient": "lenient",
        "snapshot_dates": "last-snapshot",
        "anonymise": "anonymised",
    }
    parts += [text for name, text in options.items() if params[name] != defaults[name]]
    name = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(parts))).strip("-.")
    if len(name) > MAX_NAME:  # long filter values: cut, and a digest of the whole keeps names apart
        name = name[: MAX_NAME - 9].rstrip("-.") + "-" + hashlib.sha1(name.encode()).hexdigest()[:8]
    return name


def _name_stem(params: dict) -> str:
    """Name the data of a report: the file's stem (and table), a database's table, a query's digest, or sample."""
    data = params["data"]
    if not data:
        stem = "sample"
    elif is_database_url(data):  # a database: name it by its table, or as a query, never as the sample
        stem = params["table"] or ""
    else:
        stem = "-".join(filter(None, [Path(data).stem, params["table"]]))  # an SQLite file: its table too
    if params["query"]:  # queries differ in ways no short name tells: a digest of the text
        stem = "-".join(filter(None, [stem, "query", hashlib.sha1(params["query"].encode()).hexdigest()[:8]]))
    return stem or "data"


def completion_problem(nb) -> str | None:
    """Return why an executed notebook is not a complete report, or None."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    for cell in code:
        if cell.get("execution_count") is None and cell.source.strip():
            return "a code cell did not run"
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"a cell raised {output.get('ename')}"
    last = code[-1] if code else None
    texts = "".join(o.get("text", "") for o in (last.get("outputs", []) if last else []) if o.get("name") == "stdout")
    if COMPLETE_MARKER not in texts:
        return f"the last cell did not print {COMPLETE_MARKER!r}"
    return None


def read_headline(executed: Path | str) -> dict | None:
    """Return the headline numbers an executed report notebook displayed (see ``Analysis.headline``), or None."""
    import nbformat

    nb = nbformat.read(str(executed), as_version=4)
    for cell in reversed(nb.cells):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if HEADLINE_MIME in data:
                value = data[HEADLINE_MIME]
                return json.loads(value) if isinstance(value, str) else dict(value)
    return None


def export_html(nb, *, title: str = "Expansion revenue report") -> str:
    """Export an executed notebook to self-contained HTML with no code, prompts, run markers or stderr."""
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    conf = Config()
    conf.TagRemovePreprocessor.remove_cell_tags = {"remove-cell"}
    conf.TagRemovePreprocessor.enabled = True
    exporter = HTMLExporter(config=conf, template_name="report", extra_template_basedirs=[str(TEMPLATE_DIR)])
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    nb = copy.deepcopy(nb)
    for cell in nb.cells:  # warnings and logs (local paths among them) stay in the kept notebook, not the page
        if "outputs" in cell:
            cell.outputs = [o for o in cell.outputs if (o.get("output_type"), o.get("name")) != ("stream", "stderr")]
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})  # the page's <title>
    return body
