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

The readers live one to a module: :mod:`kit.sources.csv`, :mod:`kit.sources.excel`,
:mod:`kit.sources.parquet` and :mod:`kit.sources.database`; :mod:`kit.sources.table`
holds the raw table and :mod:`kit.sources.paths` the paths and URLs as they are shown.
This module chooses the reader (:func:`read_source`) and re-exports their public names.
The Arrow buffer work of the CSV and Parquet readers is a speed-up apart: :mod:`kit._fast.arrow`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

# private names (``_x as _x``) are re-exported for the modules and tests that import them from here
from kit._fast.arrow import PARALLEL_TEXT_ROWS
from kit._fast.arrow import fixed_width as _fixed_width  # noqa: F401 - kit.sources._fixed_width, as before
from kit.errors import ParameterError
from kit.sources.csv import looks_like_row, plural_rows, read_csv
from kit.sources.database import _READ_ONLY_SESSION as _READ_ONLY_SESSION
from kit.sources.database import QUERY_BACKENDS, check_query, read_database
from kit.sources.excel import _sheet_named as _sheet_named
from kit.sources.excel import read_excel
from kit.sources.parquet import _check_parquet_types as _check_parquet_types
from kit.sources.parquet import read_parquet
from kit.sources.paths import _secrets as _secrets
from kit.sources.paths import (
    absolute_sqlite_url,
    check_readable,
    is_database_url,
    shown_path,
    shown_url,
    sqlite_url_file,
)
from kit.sources.table import RawTable, RowNumbers, _with_normalised_columns, categorical_of, normalise_column

__all__ = [
    "CSV_SUFFIXES",
    "EXCEL_SUFFIXES",
    "JSON_SUFFIXES",
    "PARALLEL_TEXT_ROWS",
    "PARQUET_SUFFIXES",
    "QUERY_BACKENDS",
    "SQLITE_SUFFIXES",
    "RawTable",
    "RowNumbers",
    "absolute_sqlite_url",
    "categorical_of",
    "check_query",
    "check_readable",
    "is_database_url",
    "looks_like_row",
    "normalise_column",
    "plural_rows",
    "read_csv",
    "read_database",
    "read_excel",
    "read_parquet",
    "read_source",
    "shown_path",
    "shown_url",
    "sqlite_url_file",
]

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
SQLITE_SUFFIXES = {".db", ".sqlite", ".sqlite3"}
JSON_SUFFIXES = {".json", ".jsonl", ".ndjson"}  # files of Stripe objects (kit.stripe)


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
    source : str, Path, DataFrame or RawTable
        A CSV, Excel or Parquet file, an SQLite file (``.db``, ``.sqlite``), a file of
        Stripe objects (``.json``, ``.jsonl``, ``.ndjson``: :mod:`kit.stripe`), a
        SQLAlchemy URL, a DataFrame already in memory, or a raw table already read (returned as it is).
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
    if isinstance(source, RawTable):  # already read (a chunk of customers: kit.chunks)
        return source
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
    if suffix in JSON_SUFFIXES:
        from kit.stripe import read_stripe  # Stripe objects are the JSON the kit reads

        return read_stripe(path)
    return read_csv(path, sep=sep, encoding=encoding, header_row=header_row)
