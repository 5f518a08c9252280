"""
The raw table: a source's frame as read, with its row numbers and normalised column names.

Every reader returns a :class:`RawTable`; rows are numbered as the user sees them in the
source (:class:`RowNumbers` stands for ``1 … n`` without holding it). Column names are
folded by :func:`normalise_column`; duplicated or empty names are a LoadError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kit.errors import LoadError


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
    excluded : list of (reason, labels)
        What a billing-system reader (:mod:`kit.stripe`, :mod:`kit.presets`) left out before the
        kit's columns, by its rules: each reason with the ids or rows it concerns. Counted as
        rows read and excluded in the data-quality table.
    refused : list of (reason, labels)
        What such a reader found impossible (placeholder values): an error in strict mode,
        excluded and counted with ``on_invalid="quarantine"``.
    decimal_known : bool
        The amounts were written by the kit's own reader with ``.`` as the decimal mark (no
        thousands separator), so ``12.345`` is never ambiguous.
    """

    frame: pd.DataFrame
    name: str
    row_numbers: np.ndarray | RowNumbers
    details: dict = field(default_factory=dict)
    excluded: list = field(default_factory=list)
    refused: list = field(default_factory=list)
    decimal_known: bool = False


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
        return (
            np.arange(self.first, self.first + self.n)[index]
            if isinstance(index, slice)
            else self._numbers(np.asarray(index))
        )

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


def categorical_of(codes: np.ndarray, categories: pd.Index) -> pd.Categorical:
    """Return a categorical of valid codes into categories known to be distinct (neither is checked again)."""
    try:  # checking a million categories for duplicates costs more than building the categorical
        dtype = pd.CategoricalDtype._from_fastpath(categories, False)
    except (AttributeError, TypeError):  # a pandas without it
        dtype = pd.CategoricalDtype(categories)
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)
