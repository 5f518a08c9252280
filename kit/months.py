"""
Month ordinals of the ledger: months since 1970-01, from days and back to ``YYYY-MM`` labels.

The parsed rows carry their month as an integer in the column :data:`MONTH_ORDINAL` (a name
with a space, never that of a normalised source column); labels are made only to be shown,
by :func:`kit.periods.month_label` (``ordinal_to_str`` here, its old name).
"""

from __future__ import annotations

import numpy as np

from kit import parse
from kit.periods import month_label

#: The parsed rows' column of months since 1970-01 (a space: never the name of a normalised source column).
MONTH_ORDINAL = "month ordinal"


def month_ordinals(days) -> np.ndarray:
    """Months since 1970-01 of datetime64 days (NaT: the smallest int64)."""
    values = np.asarray(days)
    if len(values) >= 10_000 and values.dtype.kind == "M":
        # many dates over a short range: convert each day of the range once, then look them up
        # (NumPy converts days to months element by element through calendar code)
        day = parse.as_days(values).view(np.int64)
        missing = day == np.iinfo(np.int64).min
        known = day[~missing] if missing.any() else day
        first, last = (int(known.min()), int(known.max())) if len(known) else (0, 0)
        if last - first < 1_000_000:
            table = np.arange(first, last + 1).astype("datetime64[D]").astype("datetime64[M]").astype("int64")
            months = table[np.where(missing, 0, day - first)]
            months[missing] = np.iinfo(np.int64).min
            return months
    return np.asarray(values, dtype="datetime64[M]").astype("int64")


#: The ``YYYY-MM`` label of a month ordinal: :func:`kit.periods.month_label`, under the ledger's old name.
ordinal_to_str = month_label
