"""
Write tables for people and spreadsheets: major units, safe CSV, atomic files.

Every file the kit writes goes through :func:`write_atomic`, which holds the rules:

* Only regular files are written. A path that holds a symlink, FIFO, device, socket or
  folder is refused (:class:`~kit.errors.OutputError`) and left as it is; so is a file
  name longer than the file system takes. :func:`check_target` says so before any work.
* Nothing is half-written: the data goes to a private temporary file (``0600``, created
  with ``O_EXCL``) in the target's folder, then replaces the target in one rename. A full
  disk, a file-size limit or any other failure removes the temporary file and raises
  :class:`~kit.errors.OutputError` naming the file and the reason; the old file, if
  any, stays whole.
* A file replaced keeps its permission bits (a ``0640`` report stays ``0640``); a new
  file is ``0644`` (:data:`NEW_FILE_MODE`). Its owner is the writer's, as for any new file.
* An output is never one of the run's inputs: :func:`check_not_input` refuses an output
  path that is the same file as the data or FX file (``samefile``, or the same resolved
  path), before any work.
* Temporary files are named ``.kit-tmp-<pid>-<random><suffix>`` (short, so that a long
  target name still fits). :func:`clean_stale_temporaries` removes, in one folder, only
  such names whose process is no longer running (a kill -9 leaves them behind); a
  running process's are kept, and no other file is touched.

The check of the target and the rename are two steps: a path turned into a symlink
between them is not caught (the rename then replaces the link itself, never its target).
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
import tempfile
from pathlib import Path

import pandas as pd

from kit.errors import OutputError
from kit.metrics import COUNTS, MONEY, RATES

#: Prefix of every temporary file of the kit; the process id follows.
TEMP_PREFIX = ".kit-tmp-"
_TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r"(\d+)-[A-Za-z0-9_]+(\.[A-Za-z0-9]+)*$")

#: Permission bits of a file the kit creates (a file it replaces keeps its own).
NEW_FILE_MODE = 0o644

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cents_to_text(cents: int) -> str:
    """
    Format integer cents as major units with two decimals, exactly.

    >>> cents_to_text(16667), cents_to_text(-5), cents_to_text(0)
    ('166.67', '-0.05', '0.00')
    """
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    return f"{sign}{whole}.{part:02d}"


def rate_to_text(value: float) -> str:
    """
    Format a rate as a fraction with at least 6 significant digits; NaN as an empty cell.

    >>> rate_to_text(1.1243523316062176), rate_to_text(float("nan"))
    ('1.12435233161', '')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.12g}"


def safe_cell(value: object) -> str:
    r"""
    Neutralise text a spreadsheet would run as a formula, by a leading apostrophe.

    >>> safe_cell('=HYPERLINK("x")'), safe_cell("SMB")
    ('\'=HYPERLINK("x")', 'SMB')
    """
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def summary_csv(table: pd.DataFrame, *, money=MONEY, rates=RATES, counts=COUNTS) -> str:
    """
    Render a summary as CSV text: money in major units, rates as fractions, NaN empty.

    ``money``, ``rates`` and ``counts`` name the columns of each kind (default: the summary's; the
    cause bridge passes its own). Other columns are text, safe from formula injection.
    """
    out = pd.DataFrame(index=table.index)
    for column in table.columns:
        values = table[column]
        if column in money:
            out[column] = [cents_to_text(v) for v in values]
        elif column in rates:
            out[column] = [rate_to_text(v) for v in values]
        elif column in counts:
            out[column] = values.astype("int64").astype(str)
        else:
            out[column] = [safe_cell(v) for v in values]
    out.columns = [safe_cell(c) for c in out.columns]  # a --by column named like a formula, too
    return out.to_csv(index=False, lineterminator="\n")


def name_max(folder: Path) -> int:
    """Return the longest file name, in bytes, the file system of ``folder`` takes (255 where it does not say)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def check_name_length(path: Path | str) -> Path:
    """Refuse a file name longer than its folder's file system takes (:class:`OutputError`)."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    limit = name_max(folder) if folder.is_dir() else 255
    if len(os.fsencode(path.name)) > limit:
        raise OutputError(
            f"{path.name[:40]}…: the file name is too long ({len(os.fsencode(path.name))} bytes; "
            f"the file system takes {limit}); choose a shorter name"
        )
    return path


def check_target(path: Path | str) -> Path:
    """
    Refuse an output path that is not a regular file or absent, or whose name is too long.

    Raises
    ------
    OutputError
        Naming the path and what is there (a symlink, FIFO, device, socket or folder).
    """
    path = check_name_length(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise OutputError(f"{path}: cannot write here ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        raise OutputError(
            f"{path}: is {_kind(mode)}, not a regular file; the kit writes only regular files "
            "(remove it or choose another name)"
        )
    return path


def _kind(mode: int) -> str:
    kinds = [
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((text for test, text in kinds if test(mode)), "not a regular file")


def check_not_input(path: Path | str, inputs: dict[str, object], option: str = "--output") -> None:
    """
    Refuse an output ``path`` that is the same file as one of ``inputs`` (``{what: path or URL}``).

    A file is compared by ``os.path.samefile`` when both exist (hard links, other
    spellings), else by resolved path; an SQLite URL by its file. Raises
    :class:`~kit.errors.ParameterError` naming the input.
    """
    from kit.errors import ParameterError

    target = Path(path)
    for what, source in inputs.items():
        file = input_file(source)
        if file is None:
            continue
        try:
            same = os.path.samefile(target, file) if target.exists() and file.exists() else \
                target.resolve() == file.resolve()  # fmt: skip
        except OSError:
            same = False
        if same:
            raise ParameterError(
                f"{target}: {option} is the {what} file {file}; the kit does not write over "
                "its input: choose another name"
            )


def input_file(source: object) -> Path | None:
    """Return the local file a data or FX source reads (a path, or an SQLite URL's file), or None."""
    from kit.sources import is_database_url, sqlite_url_file

    if source is None or source == "" or not isinstance(source, (str, os.PathLike)):
        return None
    if isinstance(source, str) and is_database_url(source):
        return sqlite_url_file(source)
    return Path(source)


def private_temporary(folder: Path | str, suffix: str = ".tmp") -> Path:
    """Create an empty private (0600) temporary file of the kit in ``folder``; return its path."""
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=suffix, dir=folder)
    os.close(fd)
    return Path(tmp)


def clean_stale_temporaries(folder: Path | str) -> list[str]:
    """
    Remove the kit's temporary files in ``folder`` whose process is gone; return their names.

    Only names made by :func:`private_temporary` are looked at; one whose process id is
    running (this process, a concurrent batch) is kept. Subfolders are not entered.
    """
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = _TEMP_NAME.match(name)
        if not match or _running(int(match.group(1))):
            continue
        try:
            path = Path(folder) / name
            if stat.S_ISREG(os.lstat(path).st_mode):
                path.unlink()
                removed.append(name)
        except OSError:
            pass
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or not ours to judge: keep its files
    return True


#: Failures of the file system that are the place's, not the kit's: said as one line.
_PLACE_ERRORS = {errno.ENOSPC: "the disk is full", errno.EFBIG: "the file-size limit is reached",
                 errno.EDQUOT: "the disk quota is exhausted", errno.ENAMETOOLONG: "the name is too long",
                 errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
                 errno.EPERM: "not permitted"}  # fmt: skip


def output_error(path: Path | str, exc: OSError) -> OutputError:
    """Make the :class:`OutputError` for an OSError met while writing ``path``."""
    reason = _PLACE_ERRORS.get(exc.errno) or exc.strerror or str(exc)
    return OutputError(f"{path}: cannot write the file: {reason}; nothing was written there")


def replaced_mode(path: Path | str, default: int = NEW_FILE_MODE) -> int:
    """Return the permission bits of the regular file at ``path`` (kept when it is replaced), or ``default``."""
    try:
        status = os.lstat(path)
    except OSError:
        return default
    return stat.S_IMODE(status.st_mode) if stat.S_ISREG(status.st_mode) else default


def write_atomic(path: Path | str, data: str | bytes, *, mode: int | None = None) -> Path:
    """
    Write a file so that readers see the old file or the whole new one, never a part.

    Refuses a path that is not a regular file (see :func:`check_target`); any failure of
    the write (full disk, file-size limit) removes the temporary file and raises
    :class:`~kit.errors.OutputError`. ``mode``: the permission bits of the file; by
    default those of the file replaced, or ``0644`` for a new file.
    """
    path = check_target(path)
    tmp = None
    try:
        if mode is None:
            mode = replaced_mode(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = private_temporary(path.parent)
        payload = data if isinstance(data, bytes) else data.encode("utf-8")
        with open(tmp, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise output_error(path, exc) from None
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise
    return path
