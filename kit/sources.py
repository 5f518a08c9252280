"""
Read files and databases into raw frames.

A *raw table* is what a source holds, before any validation: column names normalised
(case and surrounding spaces folded), every row numbered as the user sees it in the
source (a spreadsheet row for CSV and Excel, the 1-based result row for Parquet and SQL),
and text columns read as text (``00123`` stays ``00123``, ``NA`` stays ``NA``).
Structural faults (missing file, unreadable bytes, no header, no rows, duplicated
columns) raise :class:`~kit.errors.LoadError` with one sentence naming the source.

Typed sources are read exactly or refused: a damaged workbook, an Excel error value or a
formula without a saved value, a nested (list, struct, map) or ``float16`` Parquet
column, bytes that are not UTF-8 are each a LoadError naming the file and the cell or
column. Binary text (Parquet ``binary``, SQL ``BLOB``) is decoded as UTF-8 and named in
the details (``columns note``); so are a hidden sheet passed over and cells right of an
Excel header. Details whose key ends in ``note`` are printed by the CLI and shown in the
report's data-quality table. Excel workbooks are read cell by cell as stored, never
through the ``<dimension>`` they claim (see the Excel section).
"""

from __future__ import annotations

import csv
import io
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from kit.errors import LoadError, ParameterError

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
SQLITE_SUFFIXES = {".db", ".sqlite", ".sqlite3"}
_SNIFF_DELIMITERS = [",", ";", "\t", "|"]


@dataclass
class RawTable:
    """
    A source read as it is.

    Attributes
    ----------
    frame : DataFrame
        Columns with normalised names; text columns as Python strings.
    name : str
        How errors name the source (file name, or URL without password and table).
    row_numbers : ndarray or RowNumbers
        For each row of ``frame``, its row number in the source (indexed like an array).
    details : dict
        What was read: ``sheet``, ``delimiter``, ``encoding``, ``format``.
    """

    frame: pd.DataFrame
    name: str
    row_numbers: np.ndarray | RowNumbers
    details: dict = field(default_factory=dict)


class RowNumbers:
    """
    The row numbers ``first … first + n - 1`` of a source (1 … n by default), computed when indexed.

    Indexed like the array it stands for (an int, or an array of positions), without
    holding it: at tens of millions of rows that array costs memory and time for nothing.

    >>> rows = RowNumbers(5)
    >>> rows[0], rows[np.array([4, -1])].tolist(), len(rows)
    (1, [5, 5], 5)
    """

    def __init__(self, n: int, first: int = 1):
        self.n = int(n)
        self.first = int(first)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            if not -self.n <= index < self.n:
                raise IndexError(f"row {index} out of range")
            return int(index) % self.n + self.first
        return np.arange(self.first, self.first + self.n)[index] if isinstance(index, slice) else self._numbers(np.asarray(index))

    def _numbers(self, positions: np.ndarray) -> np.ndarray:
        if positions.dtype == bool:
            return np.flatnonzero(positions) + self.first
        if len(positions) and (positions.min() < -self.n or positions.max() >= self.n):
            raise IndexError("row positions out of range")
        return np.where(positions < 0, positions + self.n, positions).astype(np.int64) + self.first

    def __array__(self, dtype=None, copy=None):
        return np.arange(self.first, self.first + self.n, dtype=dtype)


def normalise_column(name: object) -> str:
    """Fold a column name to the kit's form: stripped, lower case, inner spaces as ``_``."""
    return re.sub(r"\s+", "_", str(name).strip().lower())


def is_database_url(source: object) -> bool:
    """Tell whether ``source`` is a SQLAlchemy URL (``dialect://...``)."""
    return isinstance(source, str) and re.match(r"^[a-zA-Z][a-zA-Z0-9+]*://", source) is not None


def shown_url(source: str) -> str:
    """
    A data source as it may be shown or stored: a database URL with its password hidden.

    >>> shown_url("postgresql://me:s3cret@db.example/sales"), shown_url("data/x.csv")
    ('postgresql://me:***@db.example/sales', 'data/x.csv')
    >>> shown_url("postgresql://me@db.example/sales?sslmode=require&password=s3cret")
    'postgresql://me@db.example/sales?password=***&sslmode=require'
    """
    if not is_database_url(source):
        return source
    import sqlalchemy as sa

    try:
        return _safe_url(sa.engine.make_url(source))
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: keep the scheme only
        return source.split("://", 1)[0] + "://…"


def sqlite_url_file(source: str) -> Path | None:
    """
    The file of an SQLite URL (as written: relative or absolute), or None for another URL or an in-memory database.

    >>> sqlite_url_file("sqlite:///bill.db?mode=ro"), sqlite_url_file("postgresql://h/db")
    (PosixPath('bill.db'), None)
    """
    import sqlalchemy as sa

    try:
        url = sa.engine.make_url(source)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: read_database says so
        return None
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if url.database.startswith("file:"):  # an SQLite URI (uri=true): its path up to the query
        return Path(url.database[5:].split("?", 1)[0])
    return Path(url.database)


def absolute_sqlite_url(source: str, base: Path | None = None) -> str:
    """
    An SQLite URL whose relative file is made absolute against ``base`` (default: the working folder).

    Any other URL, or one already absolute, is returned unchanged; so is everything but the
    file of an SQLite URL (driver, query). Used where the reading runs in another folder
    (the report's kernel), so that ``sqlite:///bill.db`` reads the file the caller meant.

    >>> absolute_sqlite_url("sqlite:///bill.db?timeout=5", Path("/data"))
    'sqlite:////data/bill.db?timeout=5'
    """
    import sqlalchemy as sa

    file = sqlite_url_file(source)
    if file is None or file.is_absolute():
        return source
    url = sa.engine.make_url(source)
    if url.database.startswith("file:"):
        rest = url.database[5 + len(str(file)):]
        return url.set(database=f"file:{(base or Path.cwd()) / file}{rest}").render_as_string(hide_password=False)
    return url.set(database=str((base or Path.cwd()) / file)).render_as_string(hide_password=False)


def read_source(
    source,
    *,
    table: str | None = None,
    query: str | None = None,
    sheet: str | int | None = None,
    header_row: int = 0,
    sep: str | None = None,
    encoding: str = "utf-8",
) -> RawTable:
    """
    Read a file or a database into a :class:`RawTable`.

    Parameters
    ----------
    source : str, Path or DataFrame
        A CSV, Excel or Parquet file, an SQLite file (``.db``, ``.sqlite``), a
        SQLAlchemy URL, or a DataFrame already in memory.
    table, query : str, optional
        For a database: the table to read, or a query to run (one of them).
    sheet : str or int, optional
        For Excel: the sheet (default: the first visible one). A text is the sheet of
        that name, or else, when it is digits, a position; an int is a position (both
        counted from 0, hidden sheets included).
    header_row : int
        For CSV and Excel: 0-based index of the header row (rows above it are titles).
    sep : str, optional
        For CSV: the delimiter (default: detected from the header among ``, ; tab |``).
    encoding : str
        For CSV: the text encoding (a UTF-8 byte-order mark is always accepted).

    Returns
    -------
    RawTable
    """
    if header_row < 0:
        raise ParameterError(f"header_row must be 0 or more, not {header_row} (CLI --header-row counts from 1)")
    if sep and len(sep) != 1:
        raise ParameterError(f"sep must be one character, not {sep!r}")
    if isinstance(source, pd.DataFrame):
        frame = _with_normalised_columns(source.reset_index(drop=True), "the DataFrame")
        return RawTable(frame, "the DataFrame", np.arange(1, len(frame) + 1), {"format": "DataFrame"})
    if is_database_url(source) or (table or query):
        return read_database(source, table=table, query=query)
    path = Path(source)
    check_readable(path)
    suffix = path.suffix.lower()
    if suffix in SQLITE_SUFFIXES:
        return read_database(path, table=table, query=query)
    if suffix in EXCEL_SUFFIXES:
        return read_excel(path, sheet=sheet, header_row=header_row)
    if suffix in PARQUET_SUFFIXES:
        return read_parquet(path)
    return read_csv(path, sep=sep, encoding=encoding, header_row=header_row)


#: ``user:password@`` at the start of a path or after a folder: how a URL without its scheme begins.
_USER_PASSWORD = re.compile(r"(^|/)([^/:@\s]*):([^/@\s]+)@")


def shown_path(path: Path | str) -> str:
    """
    A path as a message may show it: a ``user:password@`` in it (a database URL that lost its scheme) hidden.

    >>> shown_path("bob:S3cretPW@host/db"), shown_path("data/x.csv")
    ('bob:***@host/db', 'data/x.csv')
    """
    return _USER_PASSWORD.sub(r"\1\2:***@", str(path))


def _schemeless_url_hint(path: Path | str) -> str:
    """Advice for a missing "file" that looks like a database URL without its ``dialect://``; else empty."""
    text = str(path)
    if _USER_PASSWORD.search(text) or re.match(r"^[^/\s]*@[^/\s]+/", text):
        return ("; it looks like a database URL without its dialect:// scheme: write it as "
                "dialect://user:password@host/database (e.g. postgresql://…)")
    return ""


def check_readable(path: Path) -> None:
    """
    Raise :class:`LoadError` with one sentence unless ``path`` is a file that can be read.

    The path is shown by :func:`shown_path`: a password in it never reaches the message.
    """
    shown = shown_path(path)
    if not path.exists():
        raise LoadError(f"{shown}: file not found{_schemeless_url_hint(path)}")
    if path.is_dir():
        raise LoadError(f"{shown}: is a directory, not a file")
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise LoadError(f"{shown}: cannot be read ({exc.strerror or exc})") from None


def _with_normalised_columns(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    columns = [normalise_column(c) for c in frame.columns]
    seen: dict[str, int] = {}
    for column in columns:
        seen[column] = seen.get(column, 0) + 1
    duplicated = sorted(c for c, n in seen.items() if n > 1)
    if duplicated:
        raise LoadError(f"{name}: duplicated column names: {', '.join(duplicated)}")
    if "" in columns:
        raise LoadError(f"{name}: a column has an empty name (position {columns.index('') + 1})")
    frame = frame.copy(deep=False)  # copy-on-write: the data is shared until written
    frame.columns = columns
    return frame


# --- CSV ---------------------------------------------------------------------------
#
# The reader is pyarrow's CSV engine: multi-threaded, reading the file block by block, every
# column typed as text (no inference: ``00123`` and ``NA`` stay as written). Each text column is
# then dictionary-encoded into a categorical (each distinct string once, as for Parquet) and
# its Arrow form released before the next: the file's text is never held whole, let alone copied.
#
# Rules, all kept from the reader before (Python's csv module over the whole decoded text):
#
# * The header row (``header_row``, 0-based; rows above are titles) is read from the first
#   MiB of the file with Python's csv module; the delimiter, unless given with ``sep``, is the
#   most frequent of ``, ; tab |`` on that line (comma when none is).
# * Row numbers are the file's 1-based record numbers, header included, as a spreadsheet
#   shows them: a quoted field running over several lines is one record.
# * Blank rows (no field holds more than spaces) are skipped; they still count in the numbers.
# * A row with a different number of fields than the header is an error naming the rows (the
#   first five) and the delimiter. A quote opened and never closed is an error naming its row:
#   the field runs to the end of the file, whether the row then has too few fields or (a quote
#   opened in the last column) the right number. Quoted line breaks are otherwise legal.
# * ``encoding``: a UTF-8 byte-order mark is always accepted; any Python codec can be named
#   (``utf-16`` with its BOM, ``utf-16-le``, ``latin-1``, …); bytes that are not valid in it
#   are an error naming the byte, its line and the ``--encoding`` option. LF, CRLF and CR-only
#   (old Mac) line ends are all read.
# * Zip archives (xlsx), gzip, OLE (xls), Parquet and other binary files are refused, as is
#   text whose first 8 KiB are mostly NUL characters (UTF-16 read as UTF-8, which is named).
#   A NUL *inside* a field is passed through as text for the ledger's checks of key columns.

#: Bytes of the head read (and decoded) to find the header and the delimiter.
_HEAD_BYTES = 1 << 20
#: pyarrow's block size: each block is parsed by one thread.
_BLOCK_BYTES = 1 << 24
_BINARY_MAGIC = {b"\x1f\x8b": "a gzip file", b"\xd0\xcf\x11\xe0": "an old Excel (.xls) or other OLE file",
                 b"PAR1": "a Parquet file; it needs the .parquet suffix", b"%PDF": "a PDF document",
                 b"SQLite format 3": "an SQLite database; it needs the .db or .sqlite suffix"}  # fmt: skip


def read_csv(path: Path, *, sep: str | None = None, encoding: str = "utf-8", header_row: int = 0) -> RawTable:
    """Read a delimited text file with every field as text; see :func:`read_source` and the rules above."""
    name = path.name
    codec = _codec(encoding, name)
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
        whole = not handle.read(1)
    _reject_binary(head, name, codec)
    head_text = _decode_head(path, head, whole, name, encoding, codec)
    lines = head_text.splitlines()
    if whole and not any(line.strip() for line in lines):
        raise LoadError(f"{name}: the file is empty (no rows)")
    if header_row >= len(lines) - (0 if whole else 1):
        if whole:
            raise LoadError(f"{name}: header_row={header_row} but the file has only {len(lines)} lines")
        raise LoadError(f"{name}: header_row={header_row} is not within the first MiB of the file")
    delimiter = sep or _sniff_delimiter(lines[header_row])
    header = _header(head_text, header_row, delimiter, name)
    if not whole or any(line.strip() for line in lines[header_row + 1 :]):
        table, skipped = _read_body(path, name, encoding, codec, delimiter, header_row, len(header))
    else:
        table, skipped = None, []
    if table is None or table.num_rows == 0:
        raise LoadError(f"{name}: the file has a header but no rows")
    first = header_row + 2  # the first record after the header, 1-based
    n = table.num_rows
    columns = []
    for _ in range(len(header)):  # column by column, each Arrow column released once encoded
        columns.append(_text_categorical(table.column(0)))
        table = table.remove_column(0)
    del table
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    _check_closed_quotes(path, name, codec, header, columns, first + n - 1 + len(skipped))
    _check_swallowed_rows(name, header, columns, delimiter, first, skipped)
    blank = _blank_rows(columns)
    frame = pd.DataFrame(dict(enumerate(columns)), copy=False)
    frame.columns = header
    if skipped or blank is not None:
        numbers = np.setdiff1d(np.arange(first, first + n + len(skipped)), np.asarray(skipped, dtype=np.int64))
        if blank is not None:
            frame = frame.loc[~blank].reset_index(drop=True)
            numbers = numbers[~blank]
        if len(frame) == 0:
            raise LoadError(f"{name}: the file has a header but no rows")
    else:
        numbers = RowNumbers(n, first=first)
    frame = _with_normalised_columns(frame, name)
    details = {"format": "CSV", "delimiter": _delimiter_name(delimiter), "encoding": encoding}
    return RawTable(frame, name, numbers, details)


def _codec(encoding: str, name: str) -> str:
    """
    The Python codec of ``encoding`` (UTF-8 as ``utf-8-sig``: a byte-order mark accepted).

    Only text encodings (bytes to text) are accepted: Python also registers codecs that
    turn bytes into bytes (``base64``, ``zlib``, ``hex``) or text into text (``rot13``),
    which cannot decode a file; naming one is an error, as an unknown name is.
    """
    import codecs

    try:
        info = codecs.lookup(encoding) if isinstance(encoding, str) else None
    except LookupError:
        info = None
    if info is None:
        raise LoadError(f"{name}: unknown encoding {encoding!r} (CLI --encoding); "
                        "pass a text encoding such as utf-8, cp1252 or utf-16")  # fmt: skip
    if not getattr(info, "_is_text_encoding", True):
        raise LoadError(f"{name}: {encoding!r} is not a text encoding (it does not decode bytes to text) "
                        "(CLI --encoding); pass a text encoding such as utf-8, cp1252 or utf-16")  # fmt: skip
    return "utf-8-sig" if info.name == "utf-8" else info.name


def _reject_binary(head: bytes, name: str, codec: str) -> None:
    if head.startswith(b"PK\x03\x04"):
        raise LoadError(f"{name}: not a readable CSV file (it is a zip archive; an .xlsx file needs its own suffix)")
    for magic, what in _BINARY_MAGIC.items():
        if head.startswith(magic):
            raise LoadError(f"{name}: not a readable CSV file (it is {what})")
    sample = head[:8192]
    wide = codec.startswith(("utf-16", "utf-32"))
    if not wide and sample.count(b"\x00") * 4 > len(sample):  # text has few NULs; UTF-16 half of them
        if sample.startswith((b"\xff\xfe", b"\xfe\xff")) or sample[1::2].count(0) * 2 > len(sample[1::2]):
            raise LoadError(f"{name}: not a readable CSV file (it looks like UTF-16 text; "
                            "pass encoding='utf-16' (CLI --encoding utf-16))")  # fmt: skip
        raise LoadError(f"{name}: not a readable CSV file (binary content)")
    if not wide and b"\x00" in sample:  # a NUL in text is passed through; with other control bytes, binary
        controls = sum(sample.count(bytes([c])) for c in (*range(1, 9), *range(14, 27), *range(28, 32)))
        if controls:
            raise LoadError(f"{name}: not a readable CSV file (binary content)")


def _decode_head(path: Path, head: bytes, whole: bool, name: str, encoding: str, codec: str) -> str:
    import codecs

    try:
        return codecs.getincrementaldecoder(codec)().decode(head, final=whole)
    except UnicodeDecodeError:
        raise _decode_error(path, name, encoding, codec) from None
    except UnicodeError as exc:  # utf-16 without a byte-order mark, …
        raise LoadError(f"{name}: not valid {encoding} text ({exc}); pass the encoding that names the byte order, "
                        f"e.g. encoding='utf-16-le' (CLI --encoding utf-16-le)") from None  # fmt: skip


def _decode_error(path: Path, name: str, encoding: str, codec: str) -> LoadError:
    """The error naming the first byte of the file that is not valid in ``codec``, and its line (a streaming scan)."""
    import codecs

    decoder = codecs.getincrementaldecoder(codec)()
    lines, at = 1, 0
    with path.open("rb") as handle:
        while True:
            block = handle.read(_HEAD_BYTES)
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                # the decoder's position counts from the bytes it still held from the block before
                held = len(exc.object) - len(block)
                start = max(exc.start - held, 0)
                lines += block[:start].count(b"\n") if b"\n" in block[:start] else block[:start].count(b"\r")
                byte = exc.object[exc.start]
                return LoadError(
                    f"{name}: not valid {encoding} text (byte 0x{byte:02x} on line {lines}); "
                    "if the file uses another encoding, pass it, e.g. encoding='latin-1' (CLI --encoding latin-1)"
                )
            if not block:
                return LoadError(f"{name}: not valid {encoding} text")
            lines += block.count(b"\n") if b"\n" in block else block.count(b"\r")
            at += len(block)


def _header(head_text: str, header_row: int, delimiter: str, name: str) -> list[str]:
    """The header record (record ``header_row`` of the head, read with Python's csv module)."""
    reader = csv.reader(io.StringIO(head_text, newline=""), delimiter=delimiter)
    try:
        for number, record in enumerate(reader):
            if number == header_row:
                if not any(field.strip() for field in record):
                    raise LoadError(f"{name}: the header (row {header_row + 1}) is blank; if the header is lower, "
                                    "pass header_row= (CLI --header-row, counted from 1)")  # fmt: skip
                return record
    except csv.Error as exc:
        raise LoadError(f"{name}: not a readable CSV file ({exc})") from None
    raise LoadError(f"{name}: header_row={header_row} but the file has fewer records")


_RESYNC = object()  # the first, fast read of a CSV body met a quoted line break where it cut a block


def _read_body(path: Path, name: str, encoding: str, codec: str, delimiter: str, header_row: int, width: int):
    """
    The records after the header as an Arrow table of text, and the numbers of the blank records skipped.

    First multi-threaded; rows with another number of fields (pyarrow does not number them
    then) make a second, single-threaded pass that numbers them, skipping lines of spaces only.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [str(i) for i in range(width)]
    seen: list = []

    def threaded(row):
        seen.append(row.text)
        return "skip"

    numbered: list = []
    blank: list = []

    def single(row):
        (blank if not row.text.strip() else numbered).append((row.number, row.actual_columns, row.text))
        return "skip"

    def read(use_threads: bool, handler, newlines: bool = True):
        arrow_encoding = "utf8" if codec == "utf-8-sig" else codec
        try:
            return pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(use_threads=use_threads, block_size=_BLOCK_BYTES,
                                               skip_rows=header_row + 1, column_names=names, encoding=arrow_encoding),
                parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=newlines,
                                                 ignore_empty_lines=False, invalid_row_handler=handler),
                convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in names},
                                                     strings_can_be_null=False, quoted_strings_can_be_null=False),
            )  # fmt: skip
        except UnicodeDecodeError:
            raise _decode_error(path, name, encoding, codec) from None
        except pa.ArrowInvalid as exc:
            if not newlines and "out of sync with chunker" in str(exc):
                return _RESYNC
            if "UTF8" in str(exc) or "UTF-8" in str(exc):
                raise _decode_error(path, name, encoding, codec) from None
            if "Empty CSV file" in str(exc):
                return None
            raise LoadError(f"{name}: not a readable CSV file ({str(exc).splitlines()[0]})") from None
        except (UnicodeError, OSError) as exc:
            raise LoadError(f"{name}: not a readable CSV file ({exc})") from None

    # Blocks are first cut at any line end (three times faster); a quoted line break at a cut
    # makes Arrow report the parser out of sync with the cut, and the file is read again with
    # quote-aware cuts. Inside a block quoted line breaks are read right either way.
    table = read(True, threaded, newlines=False)
    if table is _RESYNC:
        seen.clear()
        table = read(True, threaded)
    if not seen:
        return table, []
    del table
    table = read(False, single)
    if numbered:
        raise _width_error(name, width, delimiter, numbered, header_row)
    return table, sorted(number for number, _, _ in blank)


def _width_error(name: str, width: int, delimiter: str, wrong: list, header_row: int = 0) -> LoadError:
    """
    The error for rows whose width is not the header's; when the header is much narrower than
    most of them (one field, or at most half as many: a title row above the header), it says
    how to name the header's row.
    """
    spanning = [(n, k) for n, k, text in wrong if "\n" in text or "\r" in text]
    if spanning:
        n, k = spanning[0]
        return LoadError(f"{name}: row {n}: a quote opens in this row and is not closed where it should be "
                         f"(the row runs over several lines and has {k} fields, the header {width}); "
                         f"check the quotes of row {n}")  # fmt: skip
    examples = ", ".join(f"row {n} has {k}" for n, k, _ in wrong[:5])
    return LoadError(
        f"{name}: the header has {width} field{'s' if width != 1 else ''} but {len(wrong)} {'rows do' if len(wrong) != 1 else 'row does'} "
        f"not ({examples}); "
        f"check the delimiter (read as {_delimiter_name(delimiter)}) and the header{_title_hint(width, wrong, header_row)}"
    )


def _title_hint(width: int, wrong: list, header_row: int) -> str:
    """``; if the header is not on row N, …`` when the header is far narrower than the rows that are not its width."""
    widths = sorted(k for _, k, _ in wrong)
    typical = widths[len(widths) // 2]  # the median of the wrong rows' widths
    if typical <= width or not (width == 1 or 2 * width <= typical):
        return ""
    row = "the first row" if header_row == 0 else f"row {header_row + 1}"
    return f"; if the header is not on {row}, pass header_row= (CLI --header-row, counted from 1)"


def _check_closed_quotes(path: Path, name: str, codec: str, header: list[str], columns: list, last: int) -> None:
    """
    Refuse a quote opened in the last column and never closed: the field then runs to the
    end of the file, so the last row's last field holds a line break and the file ends with
    that field's text, not a closing quote.
    """
    values = columns[-1]
    value = values.iloc[-1]
    if not isinstance(value, str) or ("\n" not in value and "\r" not in value):
        return
    raw = value.replace('"', '""')
    size = path.stat().st_size
    tail_bytes = min(size, 4 * len(raw) + 16)
    with path.open("rb") as handle:
        handle.seek(size - tail_bytes)
        tail = handle.read()
    tail_codec = codec
    if codec.startswith(("utf-16", "utf-32")):
        step = 2 if codec.startswith("utf-16") else 4
        tail = tail[len(tail) % step :]
        if codec in ("utf-16", "utf-32"):  # the byte order of the BOM
            with path.open("rb") as handle:
                bom = handle.read(4)
            little = bom.startswith(b"\xff\xfe")
            tail_codec = f"{codec}-{'le' if little else 'be'}"
    text = tail.decode(tail_codec, errors="replace")
    closed = text
    for end in ("\r\n", "\n", "\r"):  # the last record's line end, if the file has one
        if closed.endswith(end):
            closed = closed[: -len(end)]
            break
    if closed.endswith('"' + raw + '"'):  # the quote is closed: the field's own text ends in a line break
        return
    if text.endswith('"' + raw):
        spans = raw.count("\n") or raw.count("\r")
        raise LoadError(f"{name}: row {last}, column {header[-1]}: a quote opens and is never closed (the field runs "
                        f"to the end of the file, over {spans + 1} lines); close or remove the quote")  # fmt: skip


def _check_swallowed_rows(name: str, header: list[str], columns: list, delimiter: str, first: int,
                          skipped: list) -> None:  # fmt: skip
    """
    Refuse a quoted field that holds whole rows: a quote opened and closed only by a later
    row's quote swallows the rows between into one field of the right width.

    A field's line (after its first) is taken for a swallowed row (:func:`looks_like_row`)
    when it splits into as many fields as the header AND at least two of its non-blank
    fields are values that occur in their own column of the file (exact match against the
    column's values, both stripped): a swallowed row repeats the file's months, products and
    ids; a multi-line address or attendee list (``Hauptstr. 5, Hinterhaus, 3. OG, 10115
    Berlin``) does not, whatever its commas. Files of fewer than three columns are not
    checked (their rows are too alike to text). A column's values are gathered only when a
    line of the right width is met.
    """
    width = len(header)
    if width < 3:
        return
    known: dict[int, frozenset] = {}

    def values_of(column: int) -> frozenset:
        if column not in known:
            known[column] = frozenset(str(c).strip() for c in columns[column].cat.categories.tolist())
        return known[column]

    for position, values in enumerate(columns):
        categories = values.cat.categories  # Arrow strings: the search runs in Arrow
        spanning = np.flatnonzero(np.asarray(categories.str.contains("[\r\n]", regex=True), dtype=bool))
        for code in spanning.tolist():
            lines = str(categories[code]).splitlines()[1:]
            whole = sum(looks_like_row(line, delimiter, width, values_of) for line in lines)
            if not whole:
                continue
            at = int(np.flatnonzero(values.cat.codes.to_numpy() == code)[0])
            if skipped:
                at = int(np.setdiff1d(np.arange(first, first + at + 1 + len(skipped)), skipped)[at])
            else:
                at += first
            raise LoadError(f"{name}: row {at}, column {header[position]}: a quoted field holds "
                            f"{plural_rows(whole)} of {width} fields (a quote opened in this row and closed only "
                            f"by a later row's quote?); check the quotes of row {at}")  # fmt: skip


def looks_like_row(line: str, delimiter: str, width: int, values_of=None) -> bool:
    """
    Whether a line inside a quoted field looks like a whole row of the file.

    ``width`` fields, and at least two non-blank ones that occur in their own column
    (``values_of(i)``: the stripped values of column ``i``); without ``values_of``, two
    non-blank fields are enough.

    >>> looks_like_row("B,2024-01,Core,200.00", ",", 4), looks_like_row("Springfield, IL", ",", 4)
    (True, False)
    >>> looks_like_row(",,", ",", 3)
    False
    >>> file = [{"A", "B"}, {"2024-01"}, {"Core"}, {"100.00"}]
    >>> looks_like_row("B,2024-01,Core,200.00", ",", 4, file.__getitem__)
    True
    >>> looks_like_row("Hauptstr. 5, Hinterhaus, 3. OG, 10115 Berlin", ",", 4, file.__getitem__)
    False
    """
    fields = next(csv.reader([line], delimiter=delimiter), [])
    if len(fields) != width:
        return False
    filled = [(i, f.strip()) for i, f in enumerate(fields) if f.strip()]
    if values_of is None:
        return len(filled) >= 2
    matches = 0
    for i, text in filled:
        matches += text in values_of(i)
        if matches >= 2:
            return True
    return False


def plural_rows(count: int) -> str:
    """
    How many of a field's lines look like rows, in words.

    >>> plural_rows(1), plural_rows(2)
    ('1 line that looks like a row', '2 lines that look like rows')
    """
    return "1 line that looks like a row" if count == 1 else f"{count} lines that look like rows"


def _blank_rows(columns: list) -> np.ndarray | None:
    """Rows where no field holds more than spaces (a bool per row), or None when there are none."""
    candidates = None
    for series in columns:
        categories = series.cat.categories
        blank = np.asarray(categories.str.strip() == "", dtype=bool)
        codes = series.cat.codes.to_numpy()
        if candidates is None:
            rows = np.flatnonzero(np.append(blank, True)[codes])
        else:
            rows = candidates[np.append(blank, True)[codes[candidates]]]
        if not len(rows):
            return None
        candidates = rows
    out = np.zeros(len(columns[0]), dtype=bool)
    out[candidates] = True
    return out


def _sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in _SNIFF_DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _delimiter_name(delimiter: str) -> str:
    return {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(delimiter, repr(delimiter))


# --- Excel -------------------------------------------------------------------------
#
# Workbooks are read by openpyxl in read-only mode, cell by cell as the worksheet XML holds
# them: the ``<dimension>`` a file claims (``A1:XFD1048576`` in a 1.6 KB file) is never
# trusted, so memory follows the cells that exist. Rules:
#
# * the sheet read by default is the first *visible* one; hidden sheets before it are
#   named in the details (``sheet note``), and a hidden sheet named by the user is read
#   with a note;
# * a sheet asked for (``sheet=``, CLI ``--sheet``) as text is the sheet of that name;
#   a text of digits that names no sheet, or an int, is a position counted from 0 in the
#   workbook's order, hidden sheets included (``"1"`` is the second sheet unless a sheet
#   is named "1"), and the details say which sheet a position chose (``sheet note``);
#   a text naming no sheet exactly but exactly one regardless of case (``data`` for
#   ``Data``: Excel's sheet names are unique regardless of case) is that sheet, with a
#   ``sheet note`` naming it;
# * cells keep their Excel types: numbers, text, and datetimes for date-formatted cells;
# * a damaged file (not a zip, cut or invalid XML, a sheet part missing, no worksheet,
#   manifest that does not describe the parts) is one LoadError naming the file;
# * a cell holding an Excel error (``#REF!``, ``#N/A``, …) or a formula without a saved
#   value, from the header row down, is a LoadError naming the cells: such a value is not
#   data and would otherwise pass for text or an empty cell;
# * values in columns right of the last header cell are not read, and named in the details
#   (``columns note``): never dropped silently.

#: Cells named in one Excel error message.
_EXCEL_EXAMPLES = 3


def read_excel(path: Path, *, sheet: str | int | None = None, header_row: int = 0) -> RawTable:
    """Read one sheet of an Excel workbook; cells keep their Excel types (dates as datetimes)."""
    import warnings

    name = path.name
    with warnings.catch_warnings():  # openpyxl warns of styles and extensions it drops: not about data
        warnings.simplefilter("ignore")
        reader = _open_workbook(path, name)
        try:
            worksheet, details = _choose_sheet(reader, name, sheet)
            chosen = worksheet.title
            where = f"{name}, sheet {chosen!r}"
            rows = _sheet_rows(worksheet, where, header_row)
        finally:
            reader.archive.close()
    header_cells = rows.pop(header_row + 1, None) if rows else None
    from kit.narrative import plural

    if header_cells is None or not any(_filled(v) for v in header_cells.values()):
        last = max(rows, default=0)
        if last <= header_row:
            raise LoadError(f"{where}: no header at row {header_row + 1} (the sheet has {plural(last, 'row')})")
        raise LoadError(f"{where}: no header at row {header_row + 1} (the row is empty); "
                        "pass header_row= (CLI --header-row) for the row of the column names")  # fmt: skip
    width = max(c for c, v in header_cells.items() if _filled(v))
    header = ["" if not _filled(header_cells.get(c)) else str(header_cells[c]) for c in range(1, width + 1)]
    numbers, body, outside = [], [], []
    for number in sorted(r for r in rows if r > header_row + 1):
        cells = rows[number]
        if not any(_filled(v) for v in cells.values()):
            continue
        outside += [(number, c, "") for c, v in cells.items() if c > width and _filled(v)]
        numbers.append(number)
        body.append([cells.get(c, "") if _filled(cells.get(c)) else "" for c in range(1, width + 1)])
    if not body:
        raise LoadError(f"{where}: the sheet has a header but no rows")
    frame = pd.DataFrame(body, columns=header, dtype=object)
    frame = _with_normalised_columns(frame, where)
    if outside:  # a value without a column name is not read, and said so
        details["columns note"] = (f"{plural(len(outside), 'cell')} right of the header (column "
                                   f"{_column_letter(width)}) not read: {_cells_listed(outside, prefix=False)}")
    return RawTable(frame, f"{name} (sheet {chosen!r})", np.array(numbers, dtype=np.int64), details)


def _open_workbook(path: Path, name: str):
    """An openpyxl reader of the workbook (read-only, saved values), its every declared sheet present."""
    import zipfile

    import defusedxml  # noqa: F401  (openpyxl uses it against XML bombs when installed)
    from openpyxl.reader.excel import ExcelReader

    if not zipfile.is_zipfile(path):
        raise LoadError(f"{name}: not a readable Excel workbook (not a zip archive; an .xlsx file is one)")
    try:
        reader = ExcelReader(str(path), read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # noqa: BLE001 - zipfile and openpyxl raise many types for a damaged file
        raise LoadError(f"{name}: not a readable Excel workbook ({_excel_fault(exc)})") from None
    try:
        reader.read()
        for declared in reader.parser.sheets:
            rel = reader.parser.rels.get(declared.id) if declared.id else None
            if rel is None or rel.target not in reader.valid_files:
                part = f" ({rel.target} is missing)" if rel is not None else ""
                raise LoadError(f"{name}: not a readable Excel workbook (sheet {declared.name!r} has no worksheet "
                                f"part in the file{part}); the file is damaged: save it again from Excel")
    except LoadError:
        reader.archive.close()
        raise
    except Exception as exc:  # noqa: BLE001
        reader.archive.close()
        raise LoadError(f"{name}: not a readable Excel workbook ({_excel_fault(exc)})") from None
    return reader


def _excel_fault(exc: BaseException) -> str:
    """What went wrong in a damaged workbook, in one short line (the cause of openpyxl's own wrapper)."""
    cause = exc.__cause__ or exc
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    text = text if len(text) <= 160 else text[:157] + "…"
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


def _choose_sheet(reader, name: str, sheet):
    """The worksheet to read and the details naming it (see the rules above)."""
    worksheets = reader.wb.worksheets  # chart sheets hold no cells
    names = [ws.title for ws in worksheets]
    if not worksheets:
        raise LoadError(f"{name}: the workbook has no worksheet")
    hidden = [ws.title for ws in worksheets if ws.sheet_state != "visible"]
    note = None
    if sheet is None:
        visible = [ws for ws in worksheets if ws.sheet_state == "visible"]
        chosen = visible[0] if visible else worksheets[0]
        skipped = [t for t in hidden if names.index(t) < names.index(chosen.title)]
        if skipped:
            note = (f"hidden sheet{'s' if len(skipped) > 1 else ''} {', '.join(map(repr, skipped))} not read; "
                    f"the first visible sheet {chosen.title!r} was (name a sheet with sheet=, CLI --sheet)")
        elif not visible:
            note = f"every sheet is hidden; the first, {chosen.title!r}, was read"
    else:
        chosen, position = _sheet_named(worksheets, name, sheet)
        if position is None and chosen.title != sheet:  # matched regardless of case
            note = f"sheet {chosen.title!r} was read for {sheet!r} (sheet names match regardless of case)"
            if chosen.title in hidden:
                note += "; it is hidden in the workbook"
        elif position is not None:  # say which sheet a number chose: a sheet named "2024" is common
            note = f"sheet {chosen.title!r} (position {position}, counted from 0, hidden sheets included) was read"
            if isinstance(sheet, str):
                note += f": no sheet is named {sheet!r}"
            if chosen.title in hidden:
                note += "; it is hidden in the workbook"
        elif chosen.title in hidden:
            note = f"sheet {chosen.title!r} is hidden in the workbook (read because it was named)"
    details = {"format": "Excel", "sheet": chosen.title}
    if note:
        details["sheet note"] = note
    return chosen, details


def _sheet_named(worksheets: list, name: str, sheet: str | int) -> tuple[object, int | None]:
    """
    The worksheet ``sheet`` names, and its 0-based position when a number chose it (else None).

    A text that is the title of a sheet is that sheet; otherwise the one title equal to it
    regardless of case (two or more such titles: not chosen); otherwise a text of digits is
    a position, as an int is (0-based, hidden sheets included, in the workbook's order).
    """
    names = [ws.title for ws in worksheets]
    if isinstance(sheet, bool) or not isinstance(sheet, (int, str)):
        raise ParameterError(f"sheet must be a sheet name or a 0-based position, not {sheet!r}")
    if isinstance(sheet, str):
        if sheet in names:
            return worksheets[names.index(sheet)], None
        alike = [i for i, title in enumerate(names) if title.casefold() == sheet.casefold()]
        if len(alike) == 1:
            return worksheets[alike[0]], None
        if not re.fullmatch(r"[0-9]+", sheet):
            raise LoadError(f"{name}: no sheet {sheet!r}; the sheets are {', '.join(names)}")
        position = int(sheet)
    else:
        position = sheet
    if not 0 <= position < len(names):
        named = f"no sheet named {sheet!r} and " if isinstance(sheet, str) else ""
        raise LoadError(f"{name}: {named}no sheet at position {position} (counted from 0); "
                        f"the sheets are {', '.join(names)}")
    return worksheets[position], position


def _sheet_rows(worksheet, where: str, header_row: int) -> dict[int, dict[int, object]]:
    """
    The cells of a sheet, ``{row: {column: value}}`` (1-based), as the XML holds them.

    Rows above the header (titles) are kept only to find the header; from the header row
    down, error values and formulas without a saved value are refused.
    """
    from openpyxl.worksheet._reader import FORMULA_TAG, VALUE_TAG, WorkSheetParser

    workbook = worksheet.parent

    class Parser(WorkSheetParser):
        def parse_cell(self, element):
            cell = super().parse_cell(element)
            # no saved value: no <v>, or an empty one where the value is not text (``t="str"``: an empty result)
            if (cell["value"] is None and element.find(FORMULA_TAG) is not None
                    and (element.find(VALUE_TAG) is None or element.get("t", "n") not in ("str", "s", "inlineStr"))):
                cell["data_type"] = "formula without value"
                cell["value"] = "=" + (element.findtext(FORMULA_TAG) or "")
            return cell

    rows: dict[int, dict[int, object]] = {}
    errors: list[tuple[int, int, str]] = []
    formulas: list[tuple[int, int, str]] = []
    try:
        with worksheet._get_source() as source:
            parser = Parser(source, worksheet._shared_strings, data_only=True, epoch=workbook.epoch,
                            date_formats=workbook._date_formats, timedelta_formats=workbook._timedelta_formats)
            for number, cells in parser.parse():
                values = {}
                for cell in cells:
                    value = cell["value"]
                    if value is None:
                        continue
                    if number > header_row:
                        if cell["data_type"] == "e":
                            errors.append((number, cell["column"], str(value)))
                        elif cell["data_type"] == "formula without value":
                            formulas.append((number, cell["column"], str(value)))
                    values[cell["column"]] = value
                if values or number == header_row + 1:
                    rows[number] = values
    except Exception as exc:  # noqa: BLE001 - cut or invalid XML, a bad cell reference, …
        raise LoadError(f"{where}: not a readable worksheet ({_excel_fault(exc)}); "
                        "the file is damaged: save it again from Excel") from None  # fmt: skip
    if errors:
        raise LoadError(f"{where}: {_cells_listed(errors)} hold{'s' if len(errors) == 1 else ''} an Excel error "
                        "value, not data; correct the formulas (or clear the cells) in the workbook")
    if formulas:
        verb = "has a formula" if len(formulas) == 1 else "have formulas"
        raise LoadError(f"{where}: {_cells_listed(formulas)} {verb} without a saved value (the program that "
                        "wrote the file does not calculate); open and save the file in Excel or LibreOffice")
    return rows


def _cells_listed(cells: list[tuple[int, int, str]], prefix: bool = True) -> str:
    """``cells B3 (#REF!), C4 (#N/A) and 2 more``: the first few ``(row, column, value)`` by name."""
    shown = ", ".join(f"{_cell_name(c, r)}" + (f" ({v})" if v else "") for r, c, v in cells[:_EXCEL_EXAMPLES])
    more = len(cells) - _EXCEL_EXAMPLES
    listed = shown + (f" and {more} more" if more > 0 else "")
    return f"cell{'s' if len(cells) > 1 else ''} {listed}" if prefix else listed


def _filled(value) -> bool:
    return value is not None and not (isinstance(value, str) and value == "")


def _column_letter(column: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(column)


def _cell_name(column: int, row: int) -> str:
    return f"{_column_letter(column)}{row}"


# --- Parquet -----------------------------------------------------------------------


def read_parquet(path: Path) -> RawTable:
    """
    Read a Parquet file; text columns as categoricals (each distinct string hashed once).

    Text with few distinct values (products, plans) comes through the file's own
    dictionaries. Text with many (customer ids), whose dictionaries writers give up on, is
    read as plain strings and dictionary-encoded once over the whole column: decoding it
    chunk by chunk into dictionaries and unifying them costs several times more. Such a
    column is read and encoded in two halves of the row groups at once, in two threads.
    The other columns are read one at a time, each released once converted (a
    multi-threaded read of the whole table holds and touches much more memory).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    name = path.name
    try:
        parquet = pq.ParquetFile(path)
        schema = parquet.schema_arrow
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise LoadError(f"{name}: not a readable Parquet file ({exc})") from None
    _check_parquet_types(name, schema, pa)
    try:
        few = _few_distinct(path, parquet, [f.name for f in schema if _is_text(f.type)])
        reader = pq.ParquetFile(path, read_dictionary=few)
        rows = parquet.metadata.num_rows
        row_groups = parquet.metadata.num_row_groups
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise LoadError(f"{name}: not a readable Parquet file ({exc})") from None
    if rows == 0:
        raise LoadError(f"{name}: the file has columns but no rows")
    names = schema.names
    columns = {}
    decoded: list[str] = []  # binary columns read as UTF-8 text
    if len(set(names)) == len(names):
        for i, column_name in enumerate(names):
            kind = schema.field(i).type
            if _is_text(kind) and column_name not in few and rows >= PARALLEL_TEXT_ROWS and row_groups >= 2:
                sizes = [parquet.metadata.row_group(g).num_rows for g in range(row_groups)]
                middle = _balanced_cut(sizes)
                halves = [list(range(middle)), list(range(middle, row_groups))]
                columns[i] = _encoded_halves(partial(_read_row_groups, path, name, column_name), halves)
            else:
                column = _read_column(reader, name, column_name, kind, pa)
                columns[i] = _column_to_pandas(_flat_column(name, column_name, column, pa, decoded), pa)
    else:
        arrow_table = _read_columns(reader, name, None)
        while arrow_table.num_columns:  # column by column, each Arrow column released once converted
            column_name = names[len(columns)]
            column = _flat_column(name, column_name, arrow_table.column(0), pa, decoded)
            columns[len(columns)] = _column_to_pandas(column, pa)
            arrow_table = arrow_table.remove_column(0)
    # give the memory of the read (the strings, above all) back, for the steps after to reuse
    pa.default_memory_pool().release_unused()
    frame = pd.DataFrame(columns, copy=False)
    frame.columns = names
    frame = _with_normalised_columns(frame, name)
    details = {"format": "Parquet"}
    if decoded:
        details["columns note"] = f"binary columns read as UTF-8 text: {', '.join(decoded)}"
    return RawTable(frame, name, RowNumbers(len(frame)), details)


def _check_parquet_types(name: str, schema, pa) -> None:
    """
    Refuse columns the kit cannot read exactly, before any is read.

    Nested values (list, struct, map, union, a dictionary of them) are no cell the kit can
    read, and half-precision floats (``float16``, about 3 significant digits) hold no
    amount exactly: both are a LoadError naming the column and its type, whether or not
    the kit needs the column (leaving one out silently would drop data).
    """
    for field_ in schema:
        kind = field_.type
        value = kind.value_type if pa.types.is_dictionary(kind) else kind
        if pa.types.is_nested(value):
            raise LoadError(
                f"{name}: column {field_.name!r} holds nested values ({kind}), which the kit cannot read; "
                "the kit reads columns of text, numbers and dates: write the file without it, or flatten it")
        if pa.types.is_float16(value):
            raise LoadError(
                f"{name}: column {field_.name!r} is float16 (half precision, about 3 significant digits), "
                "too coarse to be read exactly; write it as float64 or decimal")


#: Integers beyond this magnitude are not exact in float64 (pandas' form of an integer column with nulls).
_FLOAT_EXACT = 2**53


def _flat_column(name: str, column_name: str, column, pa, decoded: list[str]):
    """
    A flat Arrow column in a form :func:`_column_to_pandas` keeps exact.

    Binary columns (writers that do not mark text as UTF-8) are decoded as UTF-8 text, and
    listed in ``decoded``; bytes that are not UTF-8 are a LoadError. ``uint64`` columns are
    read as ``int64`` when they fit; integers that neither ``int64`` nor (with nulls) float64
    holds exactly are read as Python integers.
    """
    import pyarrow.compute as pc

    kind = column.type
    value = kind.value_type if pa.types.is_dictionary(kind) else kind
    if pa.types.is_binary(value) or pa.types.is_large_binary(value) or pa.types.is_fixed_size_binary(value):
        text = pa.large_string() if pa.types.is_large_binary(value) else pa.string()
        try:
            if pa.types.is_dictionary(kind):
                column = column.cast(pa.dictionary(kind.index_type, text))
            else:
                column = column.cast(pa.binary() if pa.types.is_fixed_size_binary(value) else value).cast(text)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise LoadError(f"{name}: column {column_name!r} holds bytes ({kind}) that are not UTF-8 text; "
                            "the kit reads columns of text, numbers and dates") from None  # fmt: skip
        decoded.append(column_name)
        return column
    if pa.types.is_integer(kind) and len(column):
        low, high = pc.min_max(column).values()
        low, high = low.as_py(), high.as_py()
        if low is None:  # only nulls
            return column
        beyond = max(abs(low), abs(high))
        if beyond > np.iinfo(np.int64).max or (column.null_count and beyond > _FLOAT_EXACT):
            return pd.Series(column.to_pylist(), dtype=object)  # None where null (read as empty)
        if pa.types.is_uint64(kind):
            return column.cast(pa.int64())
    return column


def _balanced_cut(sizes: list[int]) -> int:
    """Where to cut a list of parts (1 … len − 1) into two runs of about equal total size."""
    totals = np.cumsum(sizes)
    return int(min(max(np.searchsorted(totals, totals[-1] / 2) + 1, 1), len(sizes) - 1))


def _read_row_groups(path: Path, name: str, column: str, row_groups: list[int]):
    """One column of some row groups, from a reader of its own (one per thread)."""
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).read_row_groups(row_groups, columns=[column]).column(0)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise LoadError(f"{name}: not a readable Parquet file ({exc})") from None


def _read_column(reader, name: str, column: str, arrow_type, pa):
    """
    One column of a Parquet file. Decimals of up to 18 digits are read batch by batch as
    ``decimal64`` (8 bytes a value, exact), not as ``decimal128`` (16 bytes).
    """
    if not (pa.types.is_decimal128(arrow_type) and arrow_type.precision <= 18):
        return _read_columns(reader, name, [column]).column(0)
    narrow = pa.decimal64(arrow_type.precision, arrow_type.scale)
    try:
        values = np.empty(reader.metadata.num_rows, dtype=np.int64)
        at = 0
        for batch in reader.iter_batches(batch_size=1 << 20, columns=[column]):
            array = batch.column(0)
            if array.null_count:  # nulls: Arrow's own cast keeps them
                parts = [b.column(0).cast(narrow) for b in reader.iter_batches(batch_size=1 << 20, columns=[column])]
                return pa.chunked_array([pa.concat_arrays(parts)], type=narrow)
            # up to 18 digits, the unscaled value is the low word of the 128-bit two's complement
            words = np.frombuffer(array.buffers()[1], dtype="<i8", count=2 * (array.offset + len(array)))
            values[at : at + len(array)] = words[2 * array.offset :: 2]
            at += len(array)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise LoadError(f"{name}: not a readable Parquet file ({exc})") from None
    return pa.chunked_array([pa.Array.from_buffers(narrow, at, [None, pa.py_buffer(values[:at])])], type=narrow)


def _read_columns(reader, name: str, columns: list[str] | None):
    try:
        return reader.read(columns=columns)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise LoadError(f"{name}: not a readable Parquet file ({exc})") from None


def _is_text(arrow_type) -> bool:
    import pyarrow as pa

    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def _few_distinct(path: Path, parquet, text_columns: list[str]) -> list[str]:
    """Text columns whose first row group holds at most one distinct value in four rows."""
    import pyarrow.parquet as pq

    if not text_columns or parquet.metadata.num_row_groups == 0:
        return text_columns
    sample = pq.ParquetFile(path, read_dictionary=text_columns).read_row_group(0, columns=text_columns)
    few = []
    for column_name in text_columns:
        column = sample.column(column_name)
        distinct = sum(len(chunk.dictionary) for chunk in column.chunks)
        if distinct * 4 <= max(sample.num_rows, 1):
            few.append(column_name)
    return few


def _column_to_pandas(column, pa) -> pd.Series:
    """
    One Arrow column as pandas: text as a categorical, decimals exact and dates (``date32``)
    as they are (Arrow dtypes, no copy; :mod:`kit.parse` reads them), times as datetime64.
    """
    if isinstance(column, pd.Series):  # already pandas (see _flat_column)
        return column
    if _is_text(column.type):
        return _text_categorical(column)
    if pa.types.is_dictionary(column.type):
        column = column.unify_dictionaries() if column.num_chunks > 1 else column
        return (column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)).to_pandas()
    if pa.types.is_decimal(column.type) or pa.types.is_date32(column.type):
        return pd.Series(pd.arrays.ArrowExtensionArray(column))
    return pa.table({"x": column}).to_pandas(date_as_object=False)["x"]


#: Text columns of at least this many rows are dictionary-encoded in two halves at once.
PARALLEL_TEXT_ROWS = 4_000_000


def _text_categorical(column) -> pd.Series:
    """
    A text column as a categorical, each string hashed once, the codes copied once.

    Arrow encodes a chunked column with one hash table and gives every chunk the same
    dictionary: the chunks' indices are codes into it. A long column is encoded in two
    halves in two threads (see :func:`_encoded_halves`).
    """
    import pyarrow as pa

    if len(column) == 0:
        return pa.chunked_array([], type=pa.dictionary(pa.int32(), column.type)).to_pandas()
    if len(column) >= PARALLEL_TEXT_ROWS and column.num_chunks >= 2:
        middle = _balanced_cut([len(chunk) for chunk in column.chunks])
        halves = [column.chunks[:middle], column.chunks[middle:]]
        return _encoded_halves(lambda chunks: pa.chunked_array(chunks, type=column.type), halves)
    return _encoded_halves(lambda whole: whole, [column])


def _encoded_halves(read, parts: list) -> pd.Series:
    """
    Read (``read(part)``) and dictionary-encode the parts of one text column in threads.

    The parts' dictionaries (each distinct string once per part) are encoded once more to
    map every part's codes onto one dictionary, in column order.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    def encode(part):
        column = read(part)
        fixed = _fixed_width(column)
        if fixed is None:
            return pc.dictionary_encode(column)
        # ids of one width (C0000001, UUIDs, …) hash faster as fixed-size binary; the dictionary back to text
        encoded = pc.dictionary_encode(fixed)
        if not _one_dictionary(encoded):
            return pc.dictionary_encode(column)
        dictionary = encoded.chunk(0).dictionary.cast(column.type)
        return pa.chunked_array([pa.DictionaryArray.from_arrays(c.indices, dictionary) for c in encoded.chunks])

    if len(parts) > 1:
        with ThreadPoolExecutor(len(parts)) as pool:
            encoded = list(pool.map(encode, parts))
    else:
        encoded = [encode(parts[0])]
    kind = encoded[0].type.value_type
    if not all(_one_dictionary(e) for e in encoded if e.num_chunks):
        whole = pa.chunked_array([c.dictionary.take(c.indices) for e in encoded for c in e.chunks], type=kind)
        return pc.dictionary_encode(whole.combine_chunks()).to_pandas()
    encoded = [e for e in encoded if e.num_chunks]
    if len(encoded) == 1:
        dictionary, mappings = encoded[0].chunk(0).dictionary, [None]
    else:
        merged = pc.dictionary_encode(pa.chunked_array([e.chunk(0).dictionary for e in encoded], type=kind))
        if not _one_dictionary(merged):
            whole = pa.chunked_array([c.dictionary.take(c.indices) for e in encoded for c in e.chunks], type=kind)
            return pc.dictionary_encode(whole.combine_chunks()).to_pandas()
        dictionary = merged.chunk(0).dictionary
        mappings = [chunk.indices.to_numpy() for chunk in merged.chunks]
        # the first part's dictionary comes first, in its order: its codes stand as they are
        mappings = [None if np.array_equal(m, np.arange(len(m))) else m for m in mappings]
    codes = np.empty(sum(len(e) for e in encoded), dtype=np.int32)
    starts = np.cumsum([0] + [len(e) for e in encoded])

    def convert(i):  # the part's codes into its stretch of ``codes``
        at = int(starts[i])
        for chunk in encoded[i].chunks:
            indices = chunk.indices
            missing = indices.null_count > 0
            index = (pc.fill_null(indices, -1) if missing else indices).to_numpy(zero_copy_only=False)
            out = codes[at : at + len(index)]
            if mappings[i] is None:
                out[:] = index
            else:
                np.take(mappings[i], index, out=out)
                if missing:
                    out[index < 0] = -1
            at += len(index)

    if len(encoded) > 1:
        with ThreadPoolExecutor(len(encoded)) as pool:
            list(pool.map(convert, range(len(encoded))))
    else:
        convert(0)
    categories = pd.Index(pd.array(dictionary, dtype="str"))
    return pd.Series(categorical_of(codes, categories), copy=False)  # a dictionary's values are distinct


def _fixed_width(column):
    """The text column as fixed-size binary (the same buffers) when all its values have one byte length, else None."""
    import pyarrow as pa

    if not pa.types.is_string(column.type) or not column.num_chunks:
        return None
    width, chunks = None, []
    for chunk in column.chunks:
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32, count=chunk.offset + len(chunk) + 1)[chunk.offset :]
        lengths = np.diff(offsets)  # every slot, nulls too, must take the width for the same buffers to serve
        if not len(lengths):
            return None
        width = int(lengths[0]) if width is None else width
        if width == 0 or not (lengths == width).all():
            return None
        data = chunk.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
        chunks.append(pa.Array.from_buffers(pa.binary(width), len(chunk), [chunk.buffers()[0], data], chunk.null_count))
    return pa.chunked_array(chunks, type=pa.binary(width))


def _one_dictionary(encoded) -> bool:
    """Whether every chunk of a dictionary-encoded column holds the very same dictionary."""
    if not encoded.num_chunks:
        return False
    first = encoded.chunk(0).dictionary
    return all(
        len(c.dictionary) == len(first)
        and all(a is b or (a is not None and b is not None and a.address == b.address)
                for a, b in zip(c.dictionary.buffers(), first.buffers()))
        for c in encoded.chunks
    )  # fmt: skip


# --- Databases -----------------------------------------------------------------------


#: Words of a query that are not a plain read: refused before the query runs. Quoted
#: names and string literals are not words here (``"update"`` is a column name). Among
#: them the transaction and session words (``commit``, ``rollback``, ``set``…): one of
#: them would end or change the read-only session the query runs in.
_WRITE_WORDS = frozenset("""
    insert update delete merge upsert replace drop create alter truncate rename comment attach detach pragma vacuum
    reindex analyze analyse grant revoke copy call exec execute do load lock unlock begin commit rollback savepoint
    release set reset into returning handler prepare deallocate notify listen unlisten discard checkpoint refresh
    cluster import export install uninstall outfile dumpfile abort end start declare backup restore dbcc shutdown
    kill waitfor bulk openrowset opendatasource openquery reconfigure
""".split())  # fmt: skip
#: Functions that write, run SQL given as text, reach another connection or the server's
#: files (PostgreSQL, MySQL, SQLite): refused as words and as quoted names too.
_WRITE_FUNCTIONS = frozenset("""
    dblink dblink_exec dblink_connect dblink_connect_u dblink_send_query dblink_open dblink_fetch dblink_disconnect
    lo_import lo_export lo_unlink lo_create lo_creat lo_from_bytea lo_put lo_truncate lo_open lo_write
    pg_terminate_backend pg_cancel_backend pg_reload_conf pg_rotate_logfile pg_switch_wal pg_create_restore_point
    pg_promote pg_read_file pg_read_binary_file pg_ls_dir pg_stat_file pg_file_write pg_advisory_lock
    pg_advisory_xact_lock pg_notify set_config nextval setval query_to_xml query_to_xmlschema query_to_xml_and_xmlschema
    cursor_to_xml table_to_xml load_extension writefile readfile edit fts3_tokenizer load_file get_lock sys_exec
    sys_eval xp_cmdshell
""".split())  # fmt: skip
#: Name prefixes of Oracle packages that write or reach out (``DBMS_…``, ``UTL_…``).
_WRITE_PREFIXES = ("dbms_", "utl_")
_QUERY_STARTS = ("select", "with", "values")


def _sql_token_pattern(*, backslash: bool, dollar: bool, mysql: bool) -> re.Pattern:
    """
    The tokenizer of one way a database may read a query.

    ``backslash``: a backslash escapes the next character in every ``'…'`` (and, for
    MySQL, ``"…"``) string. ``dollar``: PostgreSQL, i.e. dollar quotes (``$$…$$``,
    ``$tag$…$tag$``) and ``E'…'`` strings (where a backslash escapes). ``mysql``: ``#`` starts a
    comment, ``--`` does only before a space, ``"…"`` is a string, ``[`` is no quote,
    ``/*!…*/`` is code (refused).
    """
    quoted = r"'(?:[^'\\]|\\.|'')*'" if backslash else r"'(?:[^']|'')*'"
    parts = [r"(?P<space>\s+)"]
    if mysql:
        parts += [r"(?P<code>/\*!)", r"(?P<line>(?:--(?=\s|\Z)|\#)[^\n]*)"]
    else:
        parts += [r"(?P<line>--[^\n]*)"]
    parts += [r"(?P<block>/\*.*?(\*/|\Z))", r"(?P<unicode>[uU]&['\"])"]
    opening = [r"'", r"`", r'"']
    if dollar:
        parts += [r"(?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z0-9_]*)?\$.*?\$(?P=tag)\$)"]
        quoted = r"[eE]'(?:[^'\\]|\\.|'')*'|" + quoted  # PostgreSQL's E'…'
        opening += [r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$"]
    parts += [r"(?P<text>" + quoted + ")"]
    names = [r"`(?:[^`]|``)*`"]
    names += [r'"(?:[^"\\]|\\.|"")*"'] if mysql else [r'"(?:[^"]|"")*"', r"\[[^\]]*\]"]
    opening += [] if mysql else [r"\["]
    parts += [r"(?P<name>" + "|".join(names) + ")", r"(?P<open>(?:" + "|".join(opening) + r").*)",
              r"(?P<word>[A-Za-z_][A-Za-z0-9_$]*)", r"(?P<semi>;)", r"(?P<other>.)"]  # fmt: skip
    return re.compile("|".join(parts), re.S)


#: The readings a query must pass, every one (the name is how a message says it): standard
#: SQL (SQLite, Oracle, SQL Server), the same with backslash escapes, PostgreSQL (dollar
#: quotes, ``E'…'``), MySQL/MariaDB.
_SQL_READINGS = {
    "as standard SQL": _sql_token_pattern(backslash=False, dollar=False, mysql=False),
    "with backslash escapes": _sql_token_pattern(backslash=True, dollar=False, mysql=False),
    "as PostgreSQL": _sql_token_pattern(backslash=False, dollar=True, mysql=False),
    "as MySQL": _sql_token_pattern(backslash=True, dollar=False, mysql=True),
}
_ADVICE = "(only one SELECT, WITH … SELECT or VALUES statement runs)"


def check_query(query: str) -> None:
    """
    Refuse a query that is not one plain read (SELECT, WITH … SELECT, VALUES), before it runs.

    A careful tokenizer, not a parser: comments, string literals and quoted names are
    skipped; then the first word must be ``select``, ``with`` or ``values`` (after any
    opening brackets), no ``;`` may be followed by another statement, and no word of
    :data:`_WRITE_WORDS` or :data:`_WRITE_FUNCTIONS` may occur (so ``WITH … DELETE``,
    ``SELECT … INTO``, ``… FOR UPDATE``, ``… RETURNING``, ``COMMIT``, ``dblink_exec(…)``
    are refused too; a column named like one must be quoted). ``END`` is allowed only as
    the end of a ``CASE`` and ``START`` only in ``START WITH``.

    Databases read quotes differently, so the query is read in each of the ways of
    :data:`_SQL_READINGS` (with and without backslash escapes, PostgreSQL dollar quotes,
    MySQL comments) and must pass every one; a query whose words differ with and without
    backslash escapes (``'a\\' …``) is refused, as are MySQL ``/*!…*/`` comments (code)
    and ``U&"…"`` names. The database is opened read-only as well: this check gives the
    clear message.

    >>> check_query("select * from mrr -- where x; drop table mrr")
    >>> check_query("WITH t AS (SELECT 1) DELETE FROM mrr")
    Traceback (most recent call last):
    ...
    kit.errors.ParameterError: the query is not a plain read: 'DELETE' is not allowed (only one SELECT, WITH … SELECT or VALUES statement runs)
    """
    seen = {}
    for reading, pattern in _SQL_READINGS.items():
        seen[reading] = _check_reading(query, pattern, reading)
    if seen["as standard SQL"] != seen["with backslash escapes"]:
        raise ParameterError("the query reads differently depending on whether a backslash escapes a quote in a "
                             f"string; write the string without backslashes {_ADVICE}")  # fmt: skip


def _check_reading(query: str, pattern: re.Pattern, reading: str) -> list[str]:
    """Check one reading of a query (see :func:`check_query`); return its words and semicolons."""
    words, tokens, statements, pending = [], [], 0, True
    for match in pattern.finditer(query):
        kind = match.lastgroup
        if kind in ("code", "unicode"):
            what = "a /*! … */ comment (MySQL runs it)" if kind == "code" else "a U&'…' escaped name or string"
            raise ParameterError(f"the query is not a plain read: {what} is not allowed {_ADVICE}")
        if kind == "word":
            if pending:
                statements, pending = statements + 1, False
            words.append(match.group())
            tokens.append(match.group().lower())
            if len(words) == 1 and words[0].lower() not in _QUERY_STARTS:
                break
        elif kind == "semi":
            pending = True
            tokens.append(";")
        elif kind == "open":
            raise ParameterError(f"the query has a quote that is not closed when read {reading} (databases differ on "
                                 f"backslashes and $$ quotes in strings; write it without them) {_ADVICE}")
        elif kind == "name":
            bare = match.group()[1:-1].lower()
            if bare in _WRITE_FUNCTIONS or bare.startswith(_WRITE_PREFIXES):
                raise ParameterError(f"the query is not a plain read: {match.group()!r} is not allowed {_ADVICE}")
        if kind in ("text", "name", "dollar", "other") and pending:
            if not (kind == "other" and match.group() == "("):
                statements, pending = statements + 1, False
    if not words or words[0].lower() not in _QUERY_STARTS:
        first = words[0] if words else "nothing"
        raise ParameterError(f"the query is not a plain read: it starts with {first!r} {_ADVICE}")
    if statements > 1:
        raise ParameterError(f"the query holds more than one statement {_ADVICE}")
    cases = 0
    for position, word in enumerate(words):
        low = word.lower()
        if low == "case":
            cases += 1
        elif low == "end" and cases:
            cases -= 1
        elif low == "start" and position + 1 < len(words) and words[position + 1].lower() == "with":
            pass  # Oracle's CONNECT BY … START WITH
        elif low in _WRITE_WORDS or low in _WRITE_FUNCTIONS or low.startswith(_WRITE_PREFIXES):
            raise ParameterError(f"the query is not a plain read: {word!r} is not allowed {_ADVICE}")
    return tokens


def _wal_copy(path: Path, shown: str):
    """
    A private copy of a WAL-mode SQLite file, or None when the file is not in WAL mode.

    SQLite opens a WAL database (header bytes 18 and 19 are 2) by creating ``NAME-shm``
    (and ``NAME-wal``) beside it, even read-only. So the kit copies the file and its
    ``-wal`` (the rows not yet checkpointed) into a temporary folder of its own (0700,
    removed after the read) and reads the copy: nothing is written beside the user's
    file and every committed row is read. The copy costs the file's size in the temporary
    folder; a writer busy at the same moment may leave the copy a moment behind.
    """
    import shutil
    import tempfile

    try:
        with path.open("rb") as handle:
            header = handle.read(20)
    except OSError as exc:
        raise LoadError(f"{shown}: cannot be read ({exc.strerror or exc})") from None
    if len(header) < 20 or not header.startswith(b"SQLite format 3\x00") or 2 not in (header[18], header[19]):
        return None
    private = tempfile.TemporaryDirectory(prefix="kit-sqlite-")  # mkdtemp: 0700
    try:
        shutil.copyfile(path, Path(private.name) / "copy.db")
        wal = path.with_name(path.name + "-wal")
        if wal.is_file():
            shutil.copyfile(wal, Path(private.name) / "copy.db-wal")
    except OSError as exc:
        private.cleanup()
        raise LoadError(f"{shown}: cannot copy the WAL-mode file to read it without writing beside it "
                        f"({exc.strerror or exc})") from None  # fmt: skip
    return private


def _sqlite_read_only(path: str):
    """A ``creator`` for SQLAlchemy: the SQLite file opened read-only, queries only, reads only."""
    import sqlite3
    from urllib.parse import quote

    def creator():
        connection = sqlite3.connect(f"file:{quote(str(Path(path).absolute()))}?mode=ro", uri=True)
        connection.execute("PRAGMA query_only = ON")
        connection.set_authorizer(_sqlite_authorizer)
        return connection

    return creator


def _sqlite_authorizer(action, arg1, arg2, database, trigger):
    """Allow reading and the schema look-ups of SQLAlchemy; deny everything else (writes, ATTACH, PRAGMA x=y)."""
    import sqlite3

    if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE):
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION:
        return sqlite3.SQLITE_DENY if (arg2 or "").lower() in ("load_extension", "readfile", "writefile") else \
            sqlite3.SQLITE_OK  # fmt: skip
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in _READ_PRAGMAS:
        return sqlite3.SQLITE_OK  # table_info(x) and friends: how SQLAlchemy reads the schema (none writes)
    return sqlite3.SQLITE_DENY


_READ_PRAGMAS = {"table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
                 "foreign_key_list", "database_list", "read_uncommitted"}  # fmt: skip
#: Statements that make a server database's session read-only, by SQLAlchemy backend
#: name: run and committed on each new connection, before any query, so that a later
#: COMMIT or ROLLBACK cannot end the read-only mode (PostgreSQL and MySQL keep it for the
#: session; Oracle only has it per transaction, and runs one statement per call).
_READ_ONLY_SESSION = {
    "postgresql": "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
    "mysql": "SET SESSION TRANSACTION READ ONLY",
    "mariadb": "SET SESSION TRANSACTION READ ONLY",
}
#: The same for the transaction that reads, as its first statement.
_READ_ONLY_TRANSACTION = {"postgresql": "SET TRANSACTION READ ONLY", "oracle": "SET TRANSACTION READ ONLY"}
#: Backends where the kit can make the whole read read-only; elsewhere ``query=`` is refused.
QUERY_BACKENDS = ("sqlite", "postgresql", "mysql", "mariadb", "oracle")


def _read_only_on_connect(engine, statement: str) -> None:
    """Run ``statement`` and commit it on every new DBAPI connection of ``engine`` (before SQLAlchemy uses it)."""
    import sqlalchemy as sa

    @sa.event.listens_for(engine, "connect")
    def read_only(dbapi_connection, record):
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(statement)
        finally:
            cursor.close()
        dbapi_connection.commit()


def read_database(source, *, table: str | None = None, query: str | None = None) -> RawTable:
    """
    Read a table or the result of a query from a database, read-only.

    ``source`` is a SQLAlchemy URL or the path of an SQLite file. The password of a URL
    (``user:pass@`` or a ``password=`` query parameter) never appears in a message.

    Nothing is written to the database: a query must be one plain read
    (:func:`check_query`, before it runs); an SQLite file is opened read-only
    (``mode=ro``, ``PRAGMA query_only``, an authorizer that allows only reads), a
    PostgreSQL or MySQL/MariaDB session is made read-only when it connects (committed,
    so no COMMIT or ROLLBACK in a query ends it) and an Oracle one runs a read-only
    transaction. On any other server database a query is refused (the kit cannot make
    its session read-only); a table (``table=``) is read by a statement the kit builds,
    and the account's rights are the only other guard: give the kit an account that may
    only read.
    """
    import warnings

    import sqlalchemy as sa

    if (table is None) == (query is None):
        raise LoadError("a database source needs exactly one of table= or query= (CLI --table or --query)")
    if isinstance(source, Path) or not is_database_url(source):
        path = Path(source)
        check_readable(path)
        url = sa.engine.URL.create("sqlite", database=str(path))
    else:
        try:
            url = sa.engine.make_url(source)
        except Exception:
            raise LoadError("the database URL is not a valid SQLAlchemy URL") from None
        if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).is_file():
            raise LoadError(f"{_safe_url(url)}: SQLite file not found")
    shown = _safe_url(url)
    secrets = _secrets(url)
    if query is not None:
        try:
            check_query(query)
        except ParameterError as exc:
            raise ParameterError(f"{shown}: {exc}") from None
    backend = url.get_backend_name()
    if query is not None and backend not in QUERY_BACKENDS:
        raise ParameterError(f"{shown}: --query is not run on {backend}: the kit cannot open a read-only session "
                             f"there; read a table with --table (table=), or run the query in a view read by an "
                             f"account that may only read")  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:  # said as one note below, never printed raw
        warnings.simplefilter("always")
        options, private = {}, None
        if backend == "sqlite" and url.database and url.database != ":memory:":
            private = _wal_copy(Path(url.database), shown)
            options["creator"] = _sqlite_read_only(str(Path(private.name) / "copy.db") if private else url.database)
        try:
            engine = sa.create_engine(url, **options)
            if backend in _READ_ONLY_SESSION:
                _read_only_on_connect(engine, _READ_ONLY_SESSION[backend])
        except ModuleNotFoundError as exc:  # SQLAlchemy knows the dialect; its driver is not installed
            raise LoadError(f"{shown}: cannot open the database: its driver (Python module {exc.name!r}) is not "
                            "installed; install it in the kit's environment or name another driver in the URL"
                            ) from None  # fmt: skip
        except Exception as exc:
            raise LoadError(f"{shown}: cannot open the database ({type(exc).__name__}: "
                            f"{_hidden(_first_line_hidden(exc), secrets)})") from None  # fmt: skip
        try:
            with engine.connect() as connection:
                read_only = _READ_ONLY_TRANSACTION.get(backend)
                if read_only:
                    connection.exec_driver_sql(read_only)
                if table is not None:
                    inspector = sa.inspect(connection)
                    if not inspector.has_table(table):
                        known = ", ".join(sorted(inspector.get_table_names())) or "none"
                        raise LoadError(f"{shown}: table {table!r} not found (tables: {known})")
                    statement = sa.select(sa.text("*")).select_from(sa.table(table))
                else:
                    statement = sa.text(query)
                frame = pd.read_sql_query(statement, connection, dtype=object)
                connection.rollback()  # a read leaves nothing to keep
        except LoadError:
            raise
        except Exception as exc:
            detail = _hidden(_first_line_hidden(getattr(exc, "orig", None) or exc), secrets)
            what = f"table {table!r}" if table is not None else "the query"
            if "authoriz" in detail or "readonly" in detail or "read-only" in detail or "query_only" in detail:
                detail += " (the kit opens databases read-only: a query may only read)"
            raise LoadError(f"{shown}: reading {what} failed: {detail}") from None
        finally:
            engine.dispose()
            if private is not None:
                private.cleanup()
    warned = _warnings_note(caught, secrets)
    name = f"{shown} ({'table ' + table if table else 'query'})"
    if frame.empty:
        raise LoadError(f"{name}: no rows")
    frame = _with_normalised_columns(frame, name)
    frame = frame.where(frame.notna(), "")
    details = {"format": "SQL", **_bytes_as_text(frame, name)}
    if warned:
        details["database note"] = warned
    return RawTable(frame, name, np.arange(1, len(frame) + 1), details)


#: Warnings of the libraries about their own future (a deprecation), not about this read: dropped.
_LIBRARY_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)


def _warnings_note(caught: list, secrets: list[str]) -> str:
    """
    The warnings SQLAlchemy, a driver or pandas gave while reading, as one line without a secret; "" for none.

    Deprecations are dropped (they concern the libraries, not the data); any other
    warning (a URL parameter the driver ignores, a type it does not know) is kept, its
    first line only, without the library's file, line and "Background" link.
    """
    texts = []
    for item in caught:
        if issubclass(item.category, _LIBRARY_WARNINGS):
            continue
        text = _first_line_hidden(item.message)
        text = re.sub(r"\s*\(Background on this (?:warning|error) at: [^)]*\)", "", text).strip()
        text = _hidden(text, secrets)
        if text and text not in texts:
            texts.append(text)
    return ("the database library warned: " + " / ".join(texts)) if texts else ""


#: Query parameters of a database URL that hold secrets (case and ``-``/``_`` ignored).
_SECRET_KEYS = re.compile(r"(pass(word)?|passwd|pwd|secret|token|api_?key|access_?key|credentials?|auth)", re.I)


def _safe_url(url) -> str:
    """A URL as it may be shown: its password and every secret query parameter as ``***``."""
    query = {k: ("***" if _SECRET_KEYS.search(k) else v) for k, v in url.query.items()}
    return url.set(query=query).render_as_string(hide_password=True).replace("=%2A%2A%2A", "=***")


def _secrets(url) -> list[str]:
    """The secret texts of a URL (password, secret query values), to hide in any message."""
    values = [url.password] if url.password else []
    for key, value in url.query.items():
        if _SECRET_KEYS.search(key):
            values += [value] if isinstance(value, str) else list(value)
    return sorted({str(v) for v in values if v}, key=len, reverse=True)


def _hidden(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def categorical_of(codes: np.ndarray, categories: pd.Index) -> pd.Categorical:
    """A categorical of valid codes into categories known to be distinct (neither is checked again)."""
    try:  # checking a million categories for duplicates costs more than building the categorical
        dtype = pd.CategoricalDtype._from_fastpath(categories, False)
    except (AttributeError, TypeError):  # a pandas without it
        dtype = pd.CategoricalDtype(categories)
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


def _first_line_hidden(exc: BaseException) -> str:
    """The first line of an exception's message, without a URL's password."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)
    return re.sub(r"(?i)\b((?:pass(?:word)?|passwd|pwd|secret|token|api_?key)\s*[=:]\s*)('[^']*'|\"[^\"]*\"|[^\s&;,)]+)",
                  r"\1***", text)


#: Inferred types of an object column that cannot hold bytes; any other (``bytes``,
#: ``mixed``, ``mixed-integer``…) is looked at value by value.
_NO_BYTES = frozenset({"string", "empty", "integer", "floating", "decimal", "boolean", "datetime", "date", "time",
                       "timedelta", "period", "interval", "complex", "integer-na", "mixed-integer-float"})  # fmt: skip


def _bytes_as_text(frame: pd.DataFrame, name: str) -> dict:
    """
    Decode values that are bytes (SQL ``BLOB``) as UTF-8 text in place; return the details note naming the columns.

    ``b'A'`` is never read as the text ``"b'A'"``: bytes that are not UTF-8 are a LoadError
    naming the column and the row.
    """
    decoded = []
    for position, column in enumerate(frame.columns):
        values = frame.iloc[:, position]
        if values.dtype != object or pd.api.types.infer_dtype(values, skipna=True) in _NO_BYTES:
            continue  # a cheap look first: a column of only text, numbers or dates holds no bytes
        texts, changed = [], False
        for row, value in enumerate(values.tolist(), start=1):
            if isinstance(value, (bytes, bytearray, memoryview)):
                try:
                    value = bytes(value).decode("utf-8")
                except UnicodeDecodeError:
                    raise LoadError(f"{name}: column {column!r} holds bytes that are not UTF-8 text "
                                    f"(row {row}); the kit reads columns of text, numbers and dates") from None
                changed = True
            texts.append(value)
        if changed:
            frame[column] = pd.Series(texts, index=frame.index, dtype=object)
            decoded.append(column)
    return {"columns note": f"binary columns read as UTF-8 text: {', '.join(decoded)}"} if decoded else {}
