"""
Parse raw columns into typed values, row by row, without ever guessing.

Each parser takes a column as read (text, or native types from Parquet, Excel or SQL)
and returns the typed values together with a *reason* per row: ``None`` where the value
parsed, otherwise a short sentence naming the problem. Text is parsed once per distinct
value, so a column of 20 million rows with a few thousand distinct values costs little.

One module a kind of value: :mod:`kit.parse.money` (amounts to cents, the decimal-mark
check), :mod:`kit.parse.counts` (whole counts), :mod:`kit.parse.dates` (dates to days),
all built on :mod:`kit.parse.distinct` (each distinct value once). This module re-exports
their public names: ``kit.parse.parse_money`` and the rest stay where they were.
"""

from __future__ import annotations

from kit.parse.counts import MAX_COUNT, parse_count
from kit.parse.dates import (
    FIRST_DAY,
    LAST_DAY,
    MixedDateFormats,
    as_days,
    days_to_ns,
    parse_dates,
    parse_dates_problems,
)
from kit.parse.distinct import clean_text, factorize
from kit.parse.money import (
    CENT,
    MAX_AMOUNT,
    SPACES,
    THOUSANDS_GROUPINGS,
    TOO_LARGE_CENTS,
    AmbiguousDecimalMark,
    check_decimal_mark,
    parse_money,
    parse_money_problems,
    rounded_positions,
)

__all__ = [
    "AmbiguousDecimalMark",
    "CENT",
    "FIRST_DAY",
    "LAST_DAY",
    "MAX_AMOUNT",
    "MAX_COUNT",
    "MixedDateFormats",
    "SPACES",
    "THOUSANDS_GROUPINGS",
    "TOO_LARGE_CENTS",
    "as_days",
    "check_decimal_mark",
    "clean_text",
    "days_to_ns",
    "factorize",
    "parse_count",
    "parse_dates",
    "parse_dates_problems",
    "parse_money",
    "parse_money_problems",
    "rounded_positions",
]
