"""
Parse whole counts (``quantity``, ``billing_interval_count``), whatever type they arrive in.

Counts above :data:`MAX_COUNT` are row errors; an empty cell is the default count.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd

from kit.parse.distinct import _by_distinct, _text_of

#: Largest accepted ``quantity`` or ``billing_interval_count``; larger ones are row errors.
MAX_COUNT = 10**9


def parse_count(series: pd.Series, *, default: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """
    Parse whole numbers (``quantity``, ``billing_interval_count``); an empty cell is ``default``.

    Returns int64 values and per-row reasons (``None`` where valid). Range checks
    (negative, zero) belong to the schema, not here.
    """

    def one(value):
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return (int(value), None) if abs(int(value)) <= MAX_COUNT else (default, "implausibly large")
        text = _text_of(value)
        if text == "":
            return default, None
        try:
            number = Decimal(text)
        except InvalidOperation:
            return default, "not a whole number"
        if not number.is_finite() or number != number.to_integral_value():
            return default, "not a whole number"
        if abs(number) > MAX_COUNT:
            return default, "implausibly large"
        return int(number), None

    values, reasons, codes = _by_distinct(series, one)
    values[codes < 0] = default
    return values.astype(np.int64), reasons
