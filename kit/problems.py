"""
Keep the problem log of one load: invalid rows, exclusions and notes, and the data-quality record.

Every input row is accounted for: rows read = rows used + rows excluded. A row with a problem
is invalid: strict loads (``on_invalid="raise"``) stop with an error listing every problem
(the first three examples per reason), lenient ones (``"quarantine"``) exclude it and count it
under its first reason. Rows outside the data window are excluded, not invalid. Notes count
valid but noteworthy rows, with the first five row numbers as examples.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kit.errors import LoadError, ValidationError
from kit.sources import RawTable


@dataclass
class DataQuality:
    """
    What happened to every input row, and what in the data deserves a second look.

    Attributes
    ----------
    source : str
        The source as errors name it.
    details : dict
        Format, sheet, delimiter, encoding, kind, parameters that shaped the ledger.
    rows_read, rows_used : int
        Input rows, and those that entered the ledger (``read = used + excluded``).
    excluded : DataFrame
        ``reason, rows, examples``: rows left out, one reason per row.
    problems : DataFrame
        ``row, column, value, reason``: every problem found (a row may have several).
    notes : DataFrame
        ``note, count, examples``: valid but noteworthy rows (duplicates, overlaps, …).
    facts : dict
        The window, customers, products and currencies as the data-quality table shows them.
    left_out : DataFrame, optional
        ``id, reason``: every object, line or row a billing system's rules left out before the
        kit's columns (:mod:`kit.stripe`, :mod:`kit.presets`), each with its id.
    currencies : tuple of str
        The currencies of the data's rows, sorted (empty when it has no currency column):
        the list sentences join, never ``facts["currencies"]`` split again.
    """

    source: str
    details: dict
    rows_read: int
    rows_used: int
    excluded: pd.DataFrame
    problems: pd.DataFrame
    notes: pd.DataFrame
    facts: dict = field(default_factory=dict)
    currencies: tuple[str, ...] = ()
    left_out: pd.DataFrame | None = None

    @property
    def rows_excluded(self) -> int:
        """Rows left out of the ledger."""
        return int(self.excluded["rows"].sum()) if len(self.excluded) else 0

    def table(self) -> pd.DataFrame:
        """Return the data-quality table: one ``item, value`` row per fact, exclusion and note."""
        items = [("source", self.source)]
        items += [(k, str(v)) for k, v in self.details.items() if v is not None]
        items += [("rows read", f"{self.rows_read:,}"), ("rows used", f"{self.rows_used:,}")]
        items += [("rows excluded", f"{self.rows_excluded:,}")]
        items += [(f"excluded: {r.reason}", f"{r.rows:,}") for r in self.excluded.itertuples()]
        items += [(k, str(v)) for k, v in self.facts.items()]
        items += [(f"note: {n.note}", f"{n.count:,}") for n in self.notes.itertuples()]
        return pd.DataFrame(items, columns=["item", "value"])

    def __repr__(self) -> str:
        """Say the record in one line: rows read = used + excluded, problems and notes."""
        from kit.display import quality_text

        return quality_text(self)

    def _repr_html_(self) -> str:
        """Show the record in a notebook as a card (:func:`kit.display.quality_html`)."""
        from kit.display import quality_html

        return quality_html(self)


class ProblemLog:
    """
    The problems, exclusions and notes of one load, by position in the source frame.

    ``valid`` marks the rows still used; :meth:`settle` and :meth:`refuse_late` raise in
    strict mode or exclude in quarantine mode; :meth:`quality` makes the data-quality record.
    """

    def __init__(self, raw: RawTable, frame: pd.DataFrame, on_invalid: str):
        self.raw = raw
        self.frame = frame
        self.on_invalid = on_invalid
        self.n = len(frame)
        self.valid = pd.Series(True, index=frame.index)
        self.problem_parts: list[pd.DataFrame] = []
        self.window_excluded: dict[str, np.ndarray] = {}
        self.notes: list[tuple[str, int, str]] = []

    # problems -------------------------------------------------------------------
    def add_reasons(self, column: str, reasons: np.ndarray) -> None:
        """Record per-row parse reasons (None = fine) for ``column``."""
        bad = np.flatnonzero(pd.notna(reasons))
        if len(bad):
            self._add(bad, column, reasons[bad])

    def add_problems(self, column: str, positions: np.ndarray, reasons: np.ndarray) -> None:
        """Record the rows at ``positions`` as invalid in ``column`` for ``reasons``."""
        if len(positions):
            self._add(np.asarray(positions), column, np.asarray(reasons, dtype=object))

    def add_reason_where(self, column: str, mask: np.ndarray, reason: str) -> None:
        """Record ``reason`` for ``column`` on the rows where ``mask`` is true."""
        bad = np.flatnonzero(mask)
        if len(bad):
            self._add(bad, column, np.full(len(bad), reason, dtype=object))

    def _add(self, positions: np.ndarray, column: str | None, reasons) -> None:
        values = self._raw_values(positions, column)
        self.problem_parts.append(
            pd.DataFrame(
                {
                    "position": positions,
                    "row": self.raw.row_numbers[positions],
                    "column": column or "",
                    "value": values,
                    "reason": reasons,
                }
            )
        )

    def _raw_values(self, positions: np.ndarray, column: str | None) -> list[str]:
        if column is None or column not in self.frame.columns:
            return [""] * len(positions)
        return [_shown(v) for v in self.frame[column].to_numpy()[positions]]

    @property
    def problems(self) -> pd.DataFrame:
        """The problems recorded so far: ``row, column, value, reason``, by row and column."""
        if not self.problem_parts:
            return pd.DataFrame({"row": [], "column": [], "value": [], "reason": []}).astype(
                {"row": "int64", "column": object, "value": object, "reason": object}
            )
        problems = pd.concat(self.problem_parts, ignore_index=True)
        problems = problems.sort_values(["row", "column"], kind="stable")
        return problems.drop(columns="position").reset_index(drop=True)

    def settle(self) -> None:
        """Raise on invalid rows (strict), or mark them excluded (quarantine)."""
        if not self.problem_parts:
            return
        problems = pd.concat(self.problem_parts, ignore_index=True)
        if self.on_invalid == "raise":
            raise ValidationError(self._error_message(problems), self.problems)
        self.valid.iloc[problems["position"].unique()] = False

    def _error_message(self, problems: pd.DataFrame) -> str:
        rows = problems["position"].nunique()
        lines = [f"{self.raw.name}: {rows:,} invalid row{'s' if rows != 1 else ''}; nothing was loaded."]
        for reason, group in problems.groupby("reason", sort=False):
            examples = "; ".join(
                f"row {r.row}, column {r.column}: {r.value!r}" if r.column else f"row {r.row}"
                for r in group.head(3).itertuples()
            )
            count = group["position"].nunique()
            lines.append(f"  {reason}: {count:,} row{'s' if count != 1 else ''}, e.g. {examples}")
        lines.append(
            "Fix these rows, or pass on_invalid='quarantine' (CLI --lenient) to exclude them and count them "
            "in the data-quality table."
        )
        return "\n".join(lines)

    def refuse_late(self, column: str, positions: np.ndarray, reasons) -> pd.Index:
        """
        Record problems found after validation (conversions, sums) on the rows at ``positions``.

        Strict: raise as :meth:`settle` does. Quarantine: exclude those rows and return their
        labels, for the caller to drop what it built from them.
        """
        positions = np.asarray(positions)
        reasons = np.broadcast_to(np.asarray(reasons, dtype=object), positions.shape).copy()
        positions, first = np.unique(positions, return_index=True)
        self._add(positions, column, reasons[first])
        if self.on_invalid == "raise":
            raise ValidationError(self._error_message(pd.concat(self.problem_parts, ignore_index=True)), self.problems)
        self.valid.iloc[positions] = False
        return self.frame.index[positions]

    def no_valid_rows(self) -> LoadError:
        """Return the error of a load whose rows are all invalid."""
        return LoadError(f"{self.raw.name}: no valid rows ({self.n:,} read, all excluded as invalid)")

    def exclude_window(self, reason: str, positions: np.ndarray) -> None:
        """Exclude valid rows that fall outside the data window (not invalid, but not used)."""
        if len(positions):
            self.window_excluded[reason] = positions
            self.valid.iloc[positions] = False

    # notes ----------------------------------------------------------------------
    def note(self, text: str, positions: np.ndarray) -> None:
        """Count valid but noteworthy rows, with the first few row numbers as examples."""
        if len(positions):
            rows = self.raw.row_numbers[np.sort(positions)[:5]]
            self.notes.append((text, int(len(positions)), ", ".join(f"row {r}" for r in rows)))

    def fork(self):
        """Return a copy whose later problems, exclusions and notes do not reach this log (the other FX mode)."""
        other = copy.copy(self)
        other.valid = self.valid.copy()
        other.problem_parts = list(self.problem_parts)
        other.window_excluded = dict(self.window_excluded)
        other.notes = list(self.notes)
        return other

    def quality(self, details: dict, facts: dict) -> DataQuality:
        """Return the data-quality record of the load: rows read and used, exclusions, problems and notes."""
        problems = self.problems
        excluded_rows = []
        if self.problem_parts:
            first = pd.concat(self.problem_parts, ignore_index=True).drop_duplicates("position")
            for reason, group in first.groupby("reason", sort=False):
                excluded_rows.append((reason, len(group), _examples(group["row"])))
        for reason, positions in self.window_excluded.items():
            excluded_rows.append((reason, len(positions), _examples(self.raw.row_numbers[positions])))
        before = sum(len(labels) for _, labels in self.raw.excluded)  # left out by a billing system's rules
        for reason, labels in self.raw.excluded:
            excluded_rows.append((reason, len(labels), label_examples(labels)))
        excluded = pd.DataFrame(excluded_rows, columns=["reason", "rows", "examples"])
        notes = pd.DataFrame(self.notes, columns=["note", "count", "examples"])
        used = int(self.valid.sum())
        left_out = pd.DataFrame([(label, reason) for reason, labels in self.raw.excluded for label in labels],
                                columns=["id", "reason"])  # fmt: skip
        return DataQuality(self.raw.name, details, self.n + before, used, excluded, problems, notes, facts,
                           left_out=left_out)  # fmt: skip


def _shown(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def label_examples(labels: list[str]) -> str:
    """
    Return the first five ids (or labels) of a list as its examples, ``…`` when there are more.

    >>> label_examples(["a", "b"]), label_examples([str(i) for i in range(7)])
    ('a, b', '0, 1, 2, 3, 4, …')
    """
    return ", ".join(labels[:5]) + (", …" if len(labels) > 5 else "")


def _examples(rows) -> str:
    rows = np.sort(np.asarray(rows))[:5]
    return ", ".join(f"row {r}" for r in rows)
