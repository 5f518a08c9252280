"""Write tables for people and spreadsheets: major units, safe CSV, atomic files."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import pandas as pd

from kit.metrics import COUNTS, MONEY, RATES

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
    """
    Neutralise text a spreadsheet would run as a formula, by a leading apostrophe.

    >>> safe_cell('=HYPERLINK("x")'), safe_cell("SMB")
    ('\\'=HYPERLINK("x")', 'SMB')
    """
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def summary_csv(table: pd.DataFrame) -> str:
    """Render a summary as CSV text: money in major units, rates as fractions, NaN empty."""
    out = pd.DataFrame(index=table.index)
    for column in table.columns:
        values = table[column]
        if column in MONEY:
            out[column] = [cents_to_text(v) for v in values]
        elif column in RATES:
            out[column] = [rate_to_text(v) for v in values]
        elif column in COUNTS:
            out[column] = values.astype("int64").astype(str)
        else:
            out[column] = [safe_cell(v) for v in values]
    out.columns = [safe_cell(c) for c in out.columns]  # a --by column named like a formula, too
    return out.to_csv(index=False, lineterminator="\n")


def write_atomic(path: Path | str, data: str | bytes) -> Path:
    """Write a file so that readers see the old file or the whole new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if mode == "wb" else {"encoding": "utf-8", "newline": ""})) as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
