r"""
Every table of a report or an exploration into one Excel workbook: :func:`to_excel`.

One sheet per table, then a ``parameters`` sheet (the run's settings) and a ``data quality`` sheet (the
report's data-quality table, then the excluded rows by reason, the notes and the problems found). The cells
are numbers a spreadsheet can add up, shown as people read them; the number formats are set through the
writer (XlsxWriter), not through a pandas Styler:

* money (integer cents in the frame) as a number in major units (``1234.5``) with the currency's format
  (``"$"#,##0.00``), rates as fractions with a percentage format (``0.0%``), counts ``#,##0``, the quick
  ratio ``0.00``; an empty value (NaN) is an empty cell. Column kinds are the notebook's
  (:func:`kit.display.column_kind`).
* Text is written as text: a value from the data that starts with ``=``, ``+``, ``-`` or ``@`` stays the
  string it is (a string cell with Excel's quote prefix), never a formula.
* Sheet names are made safe (at most 31 characters, none of ``[]:*?/\``, unique).
* The file is written atomically (:func:`kit.export.write_atomic`): readers see the old file or the new one.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from kit.display import column_kind, currency_of, meta
from kit.errors import ParameterError
from kit.export import write_atomic

#: Excel's longest sheet name, and the characters it refuses in one.
SHEET_NAME_MAX = 31
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
#: Rows of one sheet Excel holds (the header included).
EXCEL_ROWS = 1_048_576
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
FORMATS = {"rate": "0.0%", "ratio": "0.00", "count": "#,##0"}


def money_format(currency: str | None) -> str:
    """
    Return the Excel number format of money in ``currency`` (negative amounts with a leading minus).

    >>> money_format("USD"), money_format("CHF"), money_format(None)
    ('"$"#,##0.00;-"$"#,##0.00', '#,##0.00 "CHF";-#,##0.00 "CHF"', '#,##0.00;-#,##0.00')
    """
    symbol = _SYMBOLS.get((currency or "").upper())
    if symbol:
        return f'"{symbol}"#,##0.00;-"{symbol}"#,##0.00'
    if currency:
        code = re.sub(r"[^A-Za-z]", "", currency)[:8]
        return f'#,##0.00 "{code}";-#,##0.00 "{code}"'
    return "#,##0.00;-#,##0.00"


def sheet_name(name: str, taken: set[str] | None = None) -> str:
    r"""
    Make ``name`` a valid, unused Excel sheet name: at most 31 characters, none of ``[]:*?/\``.

    Names are compared as Excel does, ignoring case; a taken name gets `` (2)``, `` (3)``, ….

    >>> sheet_name("segments: by [size]?"), sheet_name("x" * 40), sheet_name("Summary", {"summary"})
    ('segments_ by _size__', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'Summary (2)')
    >>> sheet_name("'history'"), sheet_name("")
    ('history', 'sheet')
    """
    taken = taken if taken is not None else set()
    base = _SHEET_BAD.sub("_", str(name)).strip().strip("'").strip() or "sheet"
    candidate, n = base[:SHEET_NAME_MAX], 1
    while candidate.lower() in {t.lower() for t in taken}:
        n += 1
        suffix = f" ({n})"
        candidate = base[: SHEET_NAME_MAX - len(suffix)] + suffix
    taken.add(candidate)
    return candidate


def _tables_of(run) -> dict[str, pd.DataFrame]:
    """Return the tables of a report run (:class:`kit.analysis.Analysis`), by sheet name."""
    tables = {"summary": run.summary}
    if len(run.shown) != len(run.summary):  # start or end cut the periods shown
        tables["periods shown"] = run.shown
    if getattr(run, "segments", None) is not None and run.segment:
        tables[f"by {run.segment}"] = run.segments
    tables.update(
        {
            "cohorts": run.cohorts,
            "cross-sell matrix": run.cross_sell,
            "plan changes": run.upgrades,
            "top expanders": run.top,
            "concentration": run.concentration,
            "trailing NRR": run.trailing,
        }
    )
    if getattr(run, "movements", None) is not None:  # a report in chunks (memory_limit) holds none
        tables["movements"] = run.movements
    if len(getattr(run, "cross_sell_pairs", ())):  # the pairs with the MRR the added product brought
        tables["cross-sell pairs"] = run.cross_sell_pairs
    if getattr(run, "fx_reference", None) is not None:
        tables["summary, other FX mode"] = run.fx_reference
    if getattr(run, "params", {}).get("anonymise"):  # as the report: no customer name in any sheet
        from kit.analysis import NAME_COLUMNS

        tables = {name: t.drop(columns=[c for c in NAME_COLUMNS if c in t.columns]) for name, t in tables.items()}
    return tables


def _shown_parameters(params: Mapping) -> list[tuple[str, object]]:
    """Return the parameters as (name, text) rows, a database URL's password hidden."""
    from kit.sources import is_database_url, shown_url

    rows = []
    for key, value in params.items():
        if isinstance(value, str) and is_database_url(value):
            value = shown_url(value)
        elif isinstance(value, Mapping):
            value = "; ".join(f"{k} = {', '.join(map(str, v)) if isinstance(v, list) else v}"
                              for k, v in value.items())  # fmt: skip
        elif isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value))
        rows.append((str(key), "" if value is None else value))
    return rows


#: The most left-out ids the data-quality sheet lists (a sheet holds 1,048,576 rows).
LEFT_OUT_ROWS = 100_000


def to_excel(path, tables, *, parameters: Mapping | None = None, quality=None, currency: str | None = None) -> Path:
    """
    Write tables into one xlsx workbook, one sheet per table, money formatted as currency.

    Parameters
    ----------
    path : str or Path
        The workbook to write (``.xlsx``); replaced atomically, never half-written.
    tables : dict of str to DataFrame, list of DataFrame, or Analysis
        Sheet name → table (money in integer cents, as the kit returns it); a list of the kit's tables, each
        named by its tag (``summary``, ``cohorts``, …; :func:`kit.display.tag`); or a report run
        (:func:`kit.analyse`), whose every table is written and whose parameters and data quality are taken
        when ``parameters`` and ``quality`` are not given.
    parameters : mapping, optional
        The run's settings, written as a ``parameters`` sheet (a database URL's password hidden).
    quality : DataQuality or Ledger, optional
        The data-quality record (or a ledger's), written as a ``data quality`` sheet.
    currency : str, optional
        The currency of the money columns; default: each table's tag (:func:`kit.display.tag`), else the run's.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile, openpyxl
    >>> frame = pd.DataFrame({"period": ["2025-Q4"], "expansion": [123450], "nrr": [1.05]})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     book = openpyxl.load_workbook(to_excel(f"{folder}/x.xlsx", {"summary": frame}, currency="USD"))
    >>> cell = book["summary"]["B2"]
    >>> cell.value, cell.number_format, book["summary"]["C2"].number_format
    (1234.5, '"$"#,##0.00;-"$"#,##0.00', '0.0%')
    """
    import xlsxwriter

    if Path(path).suffix.lower() != ".xlsx":
        raise ParameterError(f"to_excel writes an .xlsx workbook, not {Path(path).name!r}: name the file NAME.xlsx")
    if isinstance(tables, pd.DataFrame):
        tables = [tables]
    elif not isinstance(tables, (list, tuple, Mapping)) and not hasattr(tables, "ledger"):
        raise ParameterError(
            f"to_excel takes a table, a list or dict of tables, or a report run, not {type(tables).__name__}"
        )
    if isinstance(tables, (list, tuple)):  # the kit's tables, named by their tags (two summaries: two sheets)
        pairs = [(meta(t).get("table") or f"table {i + 1}", t) for i, t in enumerate(tables)]
    elif isinstance(tables, Mapping):
        pairs = list(tables.items())
    else:  # a report run
        run = tables
        pairs = list(_tables_of(run).items())
        parameters = run.params if parameters is None else parameters
        quality = run.ledger if quality is None else quality
        currency = currency or run.currency
    if hasattr(quality, "quality") and not hasattr(quality, "rows_read"):  # a ledger
        currency = currency or getattr(quality, "currency", None)
        quality = quality.quality
    buffer = io.BytesIO()
    # Strings stay strings: no formula, number or link is read into a text.
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
                                        "strings_to_urls": False})  # fmt: skip
    writer = _Writer(book)
    taken: set[str] = set()
    for name, frame in pairs:
        if frame is None:
            continue
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"table {name!r} is a {type(frame).__name__}, not a DataFrame")
        writer.table(sheet_name(name, taken), frame, currency_of(frame) or currency)
    if parameters is not None:
        rows = pd.DataFrame(_shown_parameters(parameters), columns=["parameter", "value"])
        writer.table(sheet_name("parameters", taken), rows, None, text=True)
    if quality is not None:
        writer.quality(sheet_name("data quality", taken), quality)
    book.close()
    from kit.export import check_not_input, check_target

    check_target(path)  # a regular file or absent: never a symlink, folder or device
    if hasattr(tables, "params"):  # a report run: never over its own input (an Excel data file)
        check_not_input(path, {"data": tables.params.get("data"), "FX": tables.params.get("fx")}, "the workbook")
    return write_atomic(path, buffer.getvalue())


def _as_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the frame with a named index (a matrix's rows) as its first columns."""
    if all(name is None for name in frame.index.names):
        return frame
    return frame.reset_index()


def _values(values: pd.Series, kind: str) -> list:
    """Return a column's cell values: money in major units, NaN as None, text as text, numbers as numbers."""
    if kind == "money" and pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan) / 100
        return [None if np.isnan(v) else float(v) for v in numbers]
    return [_value(v) for v in values.tolist()]


def _value(value):
    """Return one cell's value: None for an empty one, a number as a number, anything else as its text."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = value.item() if isinstance(value, np.generic) else value
        return None if isinstance(number, float) and (np.isnan(number) or np.isinf(number)) else number
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


class _Writer:
    """The sheets of one workbook, with one cell format per number format."""

    def __init__(self, book):
        self.book = book
        self.formats: dict = {}
        self.bold = book.add_format({"bold": True})
        self.text = book.add_format({"quote_prefix": True})

    def format(self, number_format: str | None):
        if number_format is None:
            return None
        if number_format not in self.formats:
            self.formats[number_format] = self.book.add_format({"num_format": number_format})
        return self.formats[number_format]

    def cells(self, sheet, row: int, column: int, values: list, fmt) -> None:
        """Write values down a column: text as text (a leading = + - @ quoted), numbers formatted."""
        for offset, value in enumerate(values):
            if value is None:
                continue
            if isinstance(value, str):
                quoted = value[:1] in ("=", "+", "-", "@")
                sheet.write_string(row + offset, column, value, self.text if quoted else None)
            elif isinstance(value, bool):
                sheet.write_boolean(row + offset, column, value)
            else:
                sheet.write_number(row + offset, column, value, fmt)

    def table(self, name: str, frame: pd.DataFrame, currency: str | None, *, text: bool = False) -> None:
        tagged = meta(frame).get("kinds")  # before the index becomes columns (a matrix, a history by month)
        frame = _as_rows(frame)
        sheet = self.book.add_worksheet(name)
        limit = EXCEL_ROWS - 2
        for i, column in enumerate(frame.columns):
            header = " · ".join(map(str, column)) if isinstance(column, tuple) else str(column)
            kind = "text" if text else column_kind(column, tagged)
            fmt = self.format(money_format(currency) if kind == "money" else FORMATS.get(kind))
            sheet.set_column(i, i, min(max(len(header) + 2, 12), 40))
            self.cells(sheet, 0, i, [header], None)
            sheet.set_row(0, None, self.bold)
            self.cells(sheet, 1, i, _values(frame.iloc[:limit, i], kind), fmt)
        if len(frame) > limit:
            self.cells(sheet, limit + 1, 0, [f"… {len(frame) - limit:,} more rows: Excel holds {EXCEL_ROWS:,} a sheet"],
                       None)  # fmt: skip
        sheet.freeze_panes(1, 0)

    def quality(self, name: str, quality) -> None:
        sheet = self.book.add_worksheet(name)
        sheet.set_column(0, 0, 40)
        sheet.set_column(1, 2, 24)
        sections = [("Data quality", quality.table(), {}),
                    ("Excluded rows by reason", quality.excluded, {"rows": "count"}),
                    ("Notes (valid rows worth a look)", quality.notes, {"count": "count"}),
                    ("Problems found", quality.problems, {"row": "count"})]  # fmt: skip
        left_out = getattr(quality, "left_out", None)
        if left_out is not None and len(left_out):  # a billing system's objects or lines left out, each with its id
            title = "Left out by the billing system's rules (every id)"
            if len(left_out) > LEFT_OUT_ROWS:
                title = f"Left out by the billing system's rules (the first {LEFT_OUT_ROWS:,} of {len(left_out):,} ids)"
            sections.append((title, left_out.head(LEFT_OUT_ROWS), {}))
        row = 0
        for title, frame, kinds in sections:
            if title != "Data quality" and not len(frame):
                continue
            sheet.write_string(row, 0, title, self.bold)
            for i, column in enumerate(frame.columns):
                sheet.write_string(row + 1, i, str(column), self.bold)
                kind = kinds.get(column, "text")
                self.cells(sheet, row + 2, i, _values(frame.iloc[:, i], kind), self.format(FORMATS.get(kind)))
            row += len(frame) + 3
