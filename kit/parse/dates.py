"""
Parse dates into days, text, Excel serials and typed dates alike, never guessing a format.

Text dates are ISO (``2024-03``, ``2024-03-15``, an ISO datetime) or, with ``date_format``,
that format; a column mixing formats raises :class:`MixedDateFormats`. Dates before
:data:`FIRST_DAY` are row errors; dates after :data:`LAST_DAY` are read as the last day.
"""

from __future__ import annotations

import re
from datetime import date, datetime

import numpy as np
import pandas as pd

from kit.parse.distinct import _pandas_factorize

_ISO_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$")
_OTHER_DATE_FORMATS = ["%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y", "%m-%d-%Y", "%Y%m%d"]
_EXCEL_ORIGIN = np.datetime64("1899-12-30", "D")
#: The days ``datetime64[ns]`` can hold. A later date (``9999-12-31`` for "no end") lies past any
#: window and is read as the last of them; an earlier one is a row error. Never wrapped around.
FIRST_DAY, LAST_DAY = np.datetime64("1677-09-22", "D"), np.datetime64("2262-04-10", "D")


class MixedDateFormats(ValueError):
    """A date column holds values in several formats, or in a format that needs ``date_format``."""


def parse_dates(
    series: pd.Series,
    *,
    what: str,
    date_format: str | None = None,
    allow_empty: bool = False,
    serial_dates: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """
    Parse dates or months into ``datetime64[ns]`` days.

    Accepted without a format: ``YYYY-MM`` (the first of the month), ``YYYY-MM-DD``, ISO
    date-times with or without a time zone (normalised to the date in UTC), and native
    dates from Parquet, Excel or SQL (time-zone-aware ones normalised to the date in UTC
    too). Any other form needs ``date_format`` (a ``strftime`` pattern): ``03/04/2024`` is
    never guessed as March or April.

    Numbers are dates only where a source stores dates as numbers: with ``serial_dates``
    (Excel cells), whole numbers are Excel serial days counted from 1899-12-30 (45292 is
    2024-01-01). Anywhere else (Parquet, SQL, a DataFrame) a number in a date column is
    not taken for a date: ``202401`` would be a serial of the year 2454, ``1`` of 1899.
    With ``date_format`` a whole number is read as the text of its digits, so
    ``date_format="%Y%m"`` reads months stored as the integer ``202401`` explicitly.
    Without it, :class:`MixedDateFormats` names the numbers and the forms accepted; so it
    does in Excel for whole numbers shaped like ``YYYYMM`` or ``YYYYMMDD`` (serials of
    years after 2170, never meant as such).

    Returns
    -------
    days : ndarray of datetime64[ns]
        NaT where invalid or empty.
    reasons : ndarray of object
        ``None`` where valid (or empty and ``allow_empty``), otherwise the problem.

    Raises
    ------
    MixedDateFormats
        When the column mixes ISO and other formats, or uses a non-ISO format
        without ``date_format``.
    """
    days, positions, reasons = parse_dates_problems(series, what=what, date_format=date_format, allow_empty=allow_empty,
                                                    serial_dates=serial_dates)  # fmt: skip
    dense = np.full(len(days), None, dtype=object)
    dense[positions] = reasons
    return days_to_ns(days), dense


def parse_dates_problems(
    series: pd.Series,
    *,
    what: str,
    date_format: str | None = None,
    allow_empty: bool = False,
    serial_dates: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """
    Parse like :func:`parse_dates`, returning ``datetime64[D]`` days and only the problems.

    Returns ``days, positions, reasons``: ``positions`` are the rows that failed and
    ``reasons`` why (see :func:`parse_money_problems`).
    """
    arrow_days = _arrow_date32_days(series)
    if arrow_days is not None or pd.api.types.is_datetime64_any_dtype(series.dtype):
        days, early = _bounded(arrow_days if arrow_days is not None else _utc_days(series))
        bad = early if allow_empty else early | np.isnat(days)
        positions = np.flatnonzero(bad)
        reasons = np.where(early[positions], f"date before {FIRST_DAY} (out of range)", f"missing {what}")
        return days, positions, reasons.astype(object)

    codes, uniques = _pandas_factorize(series)
    parsed, reasons_u = _parse_distinct_dates(list(uniques), what, date_format, serial_dates)
    parsed, early = _bounded(parsed)
    reasons_u = [
        f"date before {FIRST_DAY} (out of range)" if e and r is None else r
        for r, e in zip(reasons_u, early, strict=True)
    ]
    parsed = np.append(parsed, np.datetime64("NaT", "D"))
    empty_reason = None if allow_empty else f"missing {what}"
    reasons_u = np.array([empty_reason if r == "empty" else r for r in reasons_u] + [empty_reason], dtype=object)
    positions = np.flatnonzero(pd.notna(reasons_u)[codes])  # codes -1 (empty) read the last entry
    return parsed[codes], positions, reasons_u[codes[positions]]


def _arrow_date32_days(series: pd.Series):
    """``datetime64[D]`` of an Arrow ``date32`` column (days since 1970 as int32), read from its buffers; else None."""
    dtype = series.dtype
    if not isinstance(dtype, pd.ArrowDtype):
        return None
    import pyarrow as pa

    if not pa.types.is_date32(dtype.pyarrow_dtype):
        return None
    days = np.empty(len(series), dtype=np.int64)
    at = 0
    for chunk in pa.chunked_array(series.array._pa_array).chunks:
        size = len(chunk)
        values = np.frombuffer(chunk.buffers()[1], dtype="<i4", count=chunk.offset + size)[chunk.offset :]
        days[at : at + size] = values
        if chunk.null_count:
            days[at : at + size][chunk.is_null().to_numpy(zero_copy_only=False)] = _NAT
        at += size
    return days.view("datetime64[D]")


def _utc_days(series: pd.Series) -> pd.Series:
    values = pd.Series(series)
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return as_days(values.to_numpy())


#: Ticks in one day, by datetime64 unit.
_PER_DAY = {"D": 1, "h": 24, "m": 1440, "s": 86_400, "ms": 86_400_000, "us": 86_400 * 10**6, "ns": 86_400 * 10**9}
_NAT = np.iinfo(np.int64).min


def as_days(values: np.ndarray) -> np.ndarray:
    """
    Floor datetime64 values of any unit to ``datetime64[D]`` (NaT stays NaT).

    Integer arithmetic on the ticks: NumPy's own unit casts go element by element through
    calendar code and cost tens of times more at millions of rows.

    >>> as_days(np.array(["1969-12-31T23", "2024-03-05T10", "NaT"], dtype="datetime64[h]")).tolist()
    [datetime.date(1969, 12, 31), datetime.date(2024, 3, 5), None]
    """
    values = np.asarray(values)
    per_day = _PER_DAY.get(np.datetime_data(values.dtype)[0]) if values.dtype.kind == "M" else None
    if per_day is None or np.datetime_data(values.dtype)[1] != 1:
        return values.astype("datetime64[D]")
    if per_day == 1:
        return values
    ticks = values.view(np.int64)
    days = ticks // per_day  # floor division: before 1970 too
    nat = ticks == _NAT
    if nat.any():
        days[nat] = _NAT
    return days.view("datetime64[D]")


def days_to_ns(days: np.ndarray) -> np.ndarray:
    """``datetime64[D]`` days (within ``datetime64[ns]``'s range) as ``datetime64[ns]``, by integer arithmetic."""
    ticks = np.asarray(days, dtype="datetime64[D]").view(np.int64)
    out = ticks * _PER_DAY["ns"]
    nat = ticks == _NAT
    if nat.any():
        out[nat] = _NAT
    return out.view("datetime64[ns]")


def _bounded(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days of any datetime64 unit as ``datetime64[D]`` within FIRST_DAY..LAST_DAY (see there), and the early ones."""
    days = as_days(days)  # coarser unit: never overflows
    early = days < FIRST_DAY  # NaT compares False
    late = days > LAST_DAY
    if late.any():
        days = np.where(late, LAST_DAY, days)
    if early.any():
        days = np.where(early, np.datetime64("NaT", "D"), days)
    return days, early


def _parse_distinct_dates(uniques: list, what: str, date_format: str | None, serial_dates: bool = False):
    """Parse the distinct values of a date column, each once: ``(days, reasons)``; raise on mixed formats."""
    n = len(uniques)
    out = np.full(n, np.datetime64("NaT", "D"), dtype="datetime64[D]")  # days: no overflow before bounding
    reasons: list = [None] * n
    texts, numbers = _sort_date_values(uniques, out, reasons, date_format, serial_dates)
    if numbers:
        raise MixedDateFormats(_numbers_are_not_dates(numbers, serial_dates))
    if date_format:
        _parse_formatted_texts(texts, date_format, out, reasons)
        return out, reasons
    other = _parse_iso_texts(texts, out, reasons)
    if other:
        raise _mixed_formats(uniques, out, other)
    return out, reasons


def _sort_date_values(uniques: list, out: np.ndarray, reasons: list, date_format: str | None, serial_dates: bool):
    """
    Read the typed dates and numbers of ``uniques`` into ``out`` and ``reasons``; return what is left.

    Returns the texts still to parse (``{position: text}``, numbers read as digits for a
    ``date_format`` among them) and the numbers that are no dates (a column error).
    """
    texts: dict[int, str] = {}
    numbers: list = []
    for i, value in enumerate(uniques):
        if isinstance(value, (pd.Timestamp, datetime, date)):
            out[i] = _typed_day(value)
        elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
            kind, result = _read_number(value, date_format, serial_dates)
            if kind == "day":
                out[i] = result
            elif kind == "text":
                texts[i] = result
            elif kind == "reason":
                reasons[i] = result
            else:
                numbers.append(result)
        else:
            text = str(value).strip()
            if text == "":
                reasons[i] = "empty"
            else:
                texts[i] = text
    return texts, numbers


def _typed_day(value) -> np.datetime64:
    """Return the day of a typed date or datetime (an aware one in UTC)."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.normalize().to_datetime64()


def _read_number(value, date_format: str | None, serial_dates: bool) -> tuple[str, object]:
    """
    Read one number of a date column as ``(kind, result)``.

    ``("day", day)`` for an Excel serial date, ``("text", digits)`` for a whole number a
    ``date_format`` reads, ``("reason", why)`` for a row error, ``("number", value)`` for a
    number that is no date at all.
    """
    if np.isnan(value):
        return "reason", "empty"
    if date_format:  # the digits of a whole number are the text the format reads
        if float(value).is_integer():
            return "text", str(int(value))
        return "reason", f"a number with decimals ({value}), not a date in the format {date_format!r}"
    if serial_dates and not _looks_like_digits_date(value):
        if 1 <= value < 2958466:  # Excel serial dates (1900-01-01 .. 9999-12-31)
            return "day", _EXCEL_ORIGIN + int(value)
        return "reason", "not a date"
    return "number", value


def _parse_formatted_texts(texts: dict[int, str], date_format: str, out: np.ndarray, reasons: list) -> None:
    """Parse the texts in ``date_format`` into ``out``; a text that does not match gets its reason."""
    for i, text in texts.items():
        stamp = pd.to_datetime(text, format=date_format, errors="coerce", utc=True)
        if pd.isna(stamp):
            reasons[i] = f"does not match the date format {date_format!r}"
        else:
            out[i] = stamp.tz_localize(None).normalize().to_datetime64()


def _parse_iso_texts(texts: dict[int, str], out: np.ndarray, reasons: list) -> dict[int, str]:
    """Parse the ISO texts into ``out``; return the texts in another known format (never guessed)."""
    other = {}
    for i, text in texts.items():
        stamp, ok = _parse_iso(text)
        if ok:
            out[i] = stamp
        elif stamp is None and _fits_other_format(text):
            other[i] = text
        else:
            reasons[i] = "not a valid date (expected YYYY-MM-DD or YYYY-MM)"
    return other


def _mixed_formats(uniques: list, out: np.ndarray, other: dict[int, str]) -> MixedDateFormats:
    """Return the error for dates in a format other than ISO, naming an ISO one beside it if there is one."""
    iso_example = next((uniques[i] for i in range(len(uniques)) if not pd.isna(out[i])), None)
    sample = next(iter(other.values()))
    if iso_example is not None:
        return MixedDateFormats(
            f"mixed date formats ({str(iso_example)[:10]!r} and {sample!r}); pass date_format= (CLI --date-format)"
        )
    return MixedDateFormats(
        f"dates like {sample!r} are not ISO (YYYY-MM-DD) and are never guessed; "
        "pass date_format=, e.g. '%d/%m/%Y' (CLI --date-format)"
    )


def _looks_like_digits_date(value) -> bool:
    """Whether a number is a whole ``YYYYMM`` or ``YYYYMMDD`` of a year 1900 … 2999 (no plausible Excel serial)."""
    if not float(value).is_integer():
        return False
    digits = str(int(value))
    if len(digits) not in (6, 8) or not "1900" <= digits[:4] <= "2999":
        return False
    try:
        date(int(digits[:4]), int(digits[4:6]), int(digits[6:] or 1))
    except ValueError:
        return False
    return True


def _numbers_are_not_dates(numbers: list, serial_dates: bool) -> str:
    """Return the message for numbers in a date column that are not read as dates (see :func:`parse_dates`)."""
    example = sorted(numbers)[0]
    shown = str(int(example)) if float(example).is_integer() else str(example)
    if serial_dates:
        return (
            f"holds numbers like {shown}, which look like dates written as digits (YYYYMM or YYYYMMDD), "
            "not Excel dates; pass date_format=, e.g. '%Y%m' (CLI --date-format %Y%m)"
        )
    return (
        f"holds numbers (e.g. {shown}), which are not read as dates outside Excel (an Excel serial day "
        "would be a guess); store dates, or text YYYY-MM or YYYY-MM-DD, or, for months written as "
        "digits like 202401, pass date_format='%Y%m' (CLI --date-format %Y%m)"
    )


def _parse_iso(text: str):
    """Return (datetime64 or None, ok). ``None, False`` means not ISO-shaped at all."""
    try:
        match = _ISO_MONTH.match(text) or _ISO_DATE.match(text)
        if match:
            year, month, day = (int(g) for g in (match.groups() + ("1",))[:3])
            return np.datetime64(date(year, month, day), "D"), True
        if _ISO_DATETIME.match(text):
            stamp = pd.to_datetime(text, utc=True, format="ISO8601")
            return stamp.tz_localize(None).normalize().to_datetime64().astype("datetime64[D]"), True
    except (ValueError, OverflowError):  # ISO-shaped but impossible: 2024-13, 2024-02-30
        return np.datetime64("NaT", "D"), False
    return None, False


def _fits_other_format(text: str) -> bool:
    return any(not pd.isna(pd.to_datetime(text, format=f, errors="coerce")) for f in _OTHER_DATE_FORMATS)
