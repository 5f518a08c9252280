"""
Read CSV files into raw tables, every column as text.

The reader is pyarrow's CSV engine: multi-threaded, reading the file block by block, every
column typed as text (no inference: ``00123`` and ``NA`` stay as written). Each text column is
then dictionary-encoded into a categorical (each distinct string once, as for Parquet) and
its Arrow form released before the next: the file's text is never held whole, let alone copied.

Rules, all kept from the reader before (Python's csv module over the whole decoded text):

* The header row (``header_row``, 0-based; rows above are titles) is read from the first
  MiB of the file with Python's csv module; the delimiter, unless given with ``sep``, is the
  most frequent of ``, ; tab |`` on that line (comma when none is).
* Row numbers are the file's 1-based record numbers, header included, as a spreadsheet
  shows them: a quoted field running over several lines is one record.
* Blank rows (no field holds more than spaces) are skipped; they still count in the numbers.
* A row with a different number of fields than the header is an error naming the rows (the
  first five) and the delimiter. A quote opened and never closed is an error naming its row:
  the field runs to the end of the file, whether the row then has too few fields or (a quote
  opened in the last column) the right number. Quoted line breaks are otherwise legal.
* ``encoding``: a UTF-8 byte-order mark is always accepted; any Python codec can be named
  (``utf-16`` with its BOM, ``utf-16-le``, ``latin-1``, …); bytes that are not valid in it
  are an error naming the byte, its line and the ``--encoding`` option. LF, CRLF and CR-only
  (old Mac) line ends are all read.
* Zip archives (xlsx), gzip, OLE (xls), Parquet and other binary files are refused, as is
  text whose first 8 KiB are mostly NUL characters (UTF-16 read as UTF-8, which is named).
  A NUL *inside* a field is passed through as text for the ledger's checks of key columns.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from kit._fast import arrow
from kit.errors import LoadError
from kit.sources.table import RawTable, RowNumbers, _with_normalised_columns

_SNIFF_DELIMITERS = [",", ";", "\t", "|"]


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
        columns.append(arrow.text_categorical(table.column(0)))
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
    Return the Python codec of ``encoding`` (UTF-8 as ``utf-8-sig``: a byte-order mark accepted).

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
    """
    Return the error naming the first byte of the file that is not valid in ``codec``, and its line.

    A streaming scan.
    """
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
    """Return the header record (record ``header_row`` of the head, read with Python's csv module)."""
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
    Return the records after the header as an Arrow table of text, and the numbers of the blank records skipped.

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
    Return the error for rows whose width is not the header's.

    When the header is much narrower than most of them (one field, or at most half as many: a
    title row above the header), it says how to name the header's row.
    """
    spanning = [(n, k) for n, k, text in wrong if "\n" in text or "\r" in text]
    if spanning:
        n, k = spanning[0]
        return LoadError(f"{name}: row {n}: a quote opens in this row and is not closed where it should be "
                         f"(the row runs over several lines and has {k} fields, the header {width}); "
                         f"check the quotes of row {n}")  # fmt: skip
    examples = ", ".join(f"row {n} has {k}" for n, k, _ in wrong[:5])
    return LoadError(
        f"{name}: the header has {width} field{'s' if width != 1 else ''} "
        f"but {len(wrong)} {'rows do' if len(wrong) != 1 else 'row does'} "
        f"not ({examples}); "
        f"check the delimiter (read as {_delimiter_name(delimiter)}) "
        f"and the header{_title_hint(width, wrong, header_row)}"
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
    Refuse a quote opened in the last column and never closed.

    The field then runs to the end of the file, so the last row's last field holds a line
    break and the file ends with that field's text, not a closing quote.
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
    Refuse a quoted field that holds whole rows.

    A quote opened and closed only by a later row's quote swallows the rows between into one
    field of the right width.

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
