"""
Read Excel workbooks into raw tables, cell by cell as stored.

Workbooks are read by openpyxl in read-only mode, cell by cell as the worksheet XML holds
them: the ``<dimension>`` a file claims (``A1:XFD1048576`` in a 1.6 KB file) is never
trusted, so memory follows the cells that exist. Rules:

* the sheet read by default is the first *visible* one; hidden sheets before it are
  named in the details (``sheet note``), and a hidden sheet named by the user is read
  with a note;
* a sheet asked for (``sheet=``, CLI ``--sheet``) as text is the sheet of that name;
  a text of digits that names no sheet, or an int, is a position counted from 0 in the
  workbook's order, hidden sheets included (``"1"`` is the second sheet unless a sheet
  is named "1"), and the details say which sheet a position chose (``sheet note``);
  a text naming no sheet exactly but exactly one regardless of case (``data`` for
  ``Data``: Excel's sheet names are unique regardless of case) is that sheet, with a
  ``sheet note`` naming it;
* cells keep their Excel types: numbers, text, and datetimes for date-formatted cells;
* a damaged file (not a zip, cut or invalid XML, a sheet part missing, no worksheet,
  manifest that does not describe the parts) is one LoadError naming the file;
* a cell holding an Excel error (``#REF!``, ``#N/A``, …) or a formula without a saved
  value, from the header row down, is a LoadError naming the cells: such a value is not
  data and would otherwise pass for text or an empty cell;
* values in columns right of the last header cell are not read, and named in the details
  (``columns note``): never dropped silently.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from kit.errors import LoadError, ParameterError
from kit.sources.table import RawTable, _with_normalised_columns

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
        details["columns note"] = (
            f"{plural(len(outside), 'cell')} right of the header (column "
            f"{_column_letter(width)}) not read: {_cells_listed(outside, prefix=False)}"
        )
    return RawTable(frame, f"{name} (sheet {chosen!r})", np.array(numbers, dtype=np.int64), details)


def _open_workbook(path: Path, name: str):
    """Return an openpyxl reader of the workbook (read-only, saved values), its every declared sheet present."""
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
                raise LoadError(
                    f"{name}: not a readable Excel workbook (sheet {declared.name!r} has no worksheet "
                    f"part in the file{part}); the file is damaged: save it again from Excel"
                )
    except LoadError:
        reader.archive.close()
        raise
    except Exception as exc:  # noqa: BLE001
        reader.archive.close()
        raise LoadError(f"{name}: not a readable Excel workbook ({_excel_fault(exc)})") from None
    return reader


def _excel_fault(exc: BaseException) -> str:
    """Return what went wrong in a damaged workbook, in one short line (the cause of openpyxl's own wrapper)."""
    cause = exc.__cause__ or exc
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    text = text if len(text) <= 160 else text[:157] + "…"
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


def _choose_sheet(reader, name: str, sheet):
    """Return the worksheet to read and the details naming it (see the rules above)."""
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
            note = (
                f"hidden sheet{'s' if len(skipped) > 1 else ''} {', '.join(map(repr, skipped))} not read; "
                f"the first visible sheet {chosen.title!r} was (name a sheet with sheet=, CLI --sheet)"
            )
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
    Return the worksheet ``sheet`` names, and its 0-based position when a number chose it (else None).

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
        raise LoadError(
            f"{name}: {named}no sheet at position {position} (counted from 0); the sheets are {', '.join(names)}"
        )
    return worksheets[position], position


def _sheet_rows(worksheet, where: str, header_row: int) -> dict[int, dict[int, object]]:
    """
    Return the cells of a sheet, ``{row: {column: value}}`` (1-based), as the XML holds them.

    Rows above the header (titles) are kept only to find the header; from the header row
    down, error values and formulas without a saved value are refused.
    """
    from openpyxl.worksheet._reader import FORMULA_TAG, VALUE_TAG, WorkSheetParser

    workbook = worksheet.parent

    class Parser(WorkSheetParser):
        def parse_cell(self, element):
            cell = super().parse_cell(element)
            # no saved value: no <v>, or an empty one where the value is not text (``t="str"``: an empty result)
            if (
                cell["value"] is None
                and element.find(FORMULA_TAG) is not None
                and (element.find(VALUE_TAG) is None or element.get("t", "n") not in ("str", "s", "inlineStr"))
            ):
                cell["data_type"] = "formula without value"
                cell["value"] = "=" + (element.findtext(FORMULA_TAG) or "")
            return cell

    rows: dict[int, dict[int, object]] = {}
    errors: list[tuple[int, int, str]] = []
    formulas: list[tuple[int, int, str]] = []
    try:
        with worksheet._get_source() as source:
            parser = Parser(
                source,
                worksheet._shared_strings,
                data_only=True,
                epoch=workbook.epoch,
                date_formats=workbook._date_formats,
                timedelta_formats=workbook._timedelta_formats,
            )
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
        raise LoadError(
            f"{where}: {_cells_listed(errors)} hold{'s' if len(errors) == 1 else ''} an Excel error "
            "value, not data; correct the formulas (or clear the cells) in the workbook"
        )
    if formulas:
        verb = "has a formula" if len(formulas) == 1 else "have formulas"
        raise LoadError(
            f"{where}: {_cells_listed(formulas)} {verb} without a saved value (the program that "
            "wrote the file does not calculate); open and save the file in Excel or LibreOffice"
        )
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
