"""
Periods: the grains, integer ordinals and their labels, and the periods a summary covers.

Rules (docs/definitions.md, "Movements" and "The baseline"):

- A grain is ``month``, ``quarter`` or ``year``; :data:`MONTHS_PER` says how many months
  each holds (1, 3, 12), :data:`PER_YEAR` how many of it a year holds (12, 4, 1) and
  :data:`ADJECTIVES` its adjective (``quarterly``); the grain's name is its word in sentences.
  These are the only copies: the sample generator, the ledger's month labels
  (:func:`kit.months.ordinal_to_str`, an alias of :func:`month_label`) and the report read them.
- Time is an integer: a *month ordinal* counts months since 1970-01, a *period index*
  counts periods of a grain since 1970 (``month ordinal // MONTHS_PER[grain]``: see
  :func:`period_of`). Every comparison and bucket works on these integers.
- A label (``2024-03``, ``2024-Q1``, ``2024``) is made only when formatting
  (:func:`label`, :func:`month_label`) and read back only at the edge (:func:`parse`);
  :data:`LABELS` holds the patterns, :data:`EXAMPLE_LABELS` one example of each. Labels of
  one grain sort as their ordinals do.
- The period plan of a ledger (:func:`plan_periods`): snapshots start with the window's
  first period as the baseline; subscriptions with the period before the first (zero
  MRR). A trailing period whose last month lies past the window is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kit.errors import ParameterError
from kit.rules import check_count

if TYPE_CHECKING:
    from kit.ledger import Ledger

GRAINS = ("month", "quarter", "year")
#: Months in one period of each grain.
MONTHS_PER = {"month": 1, "quarter": 3, "year": 12}
#: Periods of each grain in one year.
PER_YEAR = {grain: 12 // size for grain, size in MONTHS_PER.items()}
#: The adjective of each grain ("a quarterly report").
ADJECTIVES = {"month": "monthly", "quarter": "quarterly", "year": "yearly"}
#: The label of a period of each grain, as a regular expression.
LABELS = {"month": r"\d{4}-(0[1-9]|1[0-2])", "quarter": r"\d{4}-Q[1-4]", "year": r"\d{4}"}
#: One label of each grain, for messages.
EXAMPLE_LABELS = {"month": "2025-01", "quarter": "2025-Q1", "year": "2025"}


def check_grain(period: str) -> None:
    """
    Raise a :class:`~kit.errors.ParameterError` unless ``period`` is one of :data:`GRAINS`.

    Parameters
    ----------
    period : str
        The grain to check.

    Examples
    --------
    >>> check_grain("quarter")
    >>> check_grain("week")
    Traceback (most recent call last):
    ...
    kit.errors.ParameterError: period must be one of month, quarter, year, not 'week'
    """
    if period not in GRAINS:
        raise ParameterError(f"period must be one of {', '.join(GRAINS)}, not {period!r}")


def period_of(months, period: str):
    """
    Return the period index (periods since 1970) of month ordinals.

    Parameters
    ----------
    months : int or ndarray
        Month ordinals (months since 1970-01).
    period : {"month", "quarter", "year"}

    Returns
    -------
    int or ndarray
        ``months // MONTHS_PER[period]``.

    Examples
    --------
    >>> period_of(650, "month"), period_of(650, "quarter"), period_of(650, "year")
    (650, 216, 54)
    """
    return months // MONTHS_PER[period]


def label(index: int, period: str) -> str:
    """
    Label a period given as its index (periods since 1970).

    Parameters
    ----------
    index : int
        Periods of ``period`` since 1970 (for months: the month ordinal).
    period : {"month", "quarter", "year"}

    Returns
    -------
    str
        ``YYYY-MM``, ``YYYY-Qn`` or ``YYYY`` (the year in four digits, as :data:`LABELS` has it).

    Examples
    --------
    >>> label(650, "month"), label(216, "quarter"), label(54, "year")
    ('2024-03', '2024-Q1', '2024')
    >>> label(-11641, "month")
    '0999-12'

    """
    if period == "month":  # as NumPy writes a month (np.datetime64(index, "M")), the year in four digits
        return f"{1970 + index // 12:04d}-{index % 12 + 1:02d}"
    if period == "quarter":
        return f"{1970 + index // 4:04d}-Q{index % 4 + 1}"
    return f"{1970 + index:04d}"


def month_label(ordinal) -> str:
    """
    Label a month given as its ordinal (months since 1970-01) as ``YYYY-MM``.

    Parameters
    ----------
    ordinal : int
        Months since 1970-01.

    Returns
    -------
    str

    Examples
    --------
    >>> month_label(650), month_label(-1)
    ('2024-03', '1969-12')
    """
    return label(int(ordinal), "month")


def grain_of(text: str) -> str:
    """
    Return the grain of one period label: ``2024`` year, ``2024-Q1`` quarter, ``2024-01`` month.

    Parameters
    ----------
    text : str
        A period label.

    Returns
    -------
    str

    Examples
    --------
    >>> grain_of("2024"), grain_of("2024-Q1"), grain_of("2024-01")
    ('year', 'quarter', 'month')
    """
    return "year" if len(text) == 4 else "quarter" if "Q" in text else "month"


def is_label(text) -> bool:
    """
    Tell whether ``text`` is a period label of one of the grains.

    Parameters
    ----------
    text : object
        Anything; only a ``str`` can be a label.

    Returns
    -------
    bool

    Examples
    --------
    >>> is_label("2024-Q1"), is_label("2024-13"), is_label("2024-3"), is_label(2024)
    (True, False, False, False)
    """
    return isinstance(text, str) and re.fullmatch(LABELS[grain_of(text)], text) is not None


def parse(text: str) -> tuple[str, int]:
    """
    Read a period label back as its grain and its period index.

    Parameters
    ----------
    text : str
        ``YYYY-MM``, ``YYYY-Qn`` or ``YYYY``.

    Returns
    -------
    tuple of (str, int)
        The grain and the index (periods since 1970).

    Examples
    --------
    >>> parse("2024-03"), parse("2024-Q1"), parse("2024")
    (('month', 650), ('quarter', 216), ('year', 54))
    """
    year = int(text[:4]) - 1970
    if len(text) == 4:
        return "year", year
    if text[5] == "Q":
        return "quarter", year * 4 + int(text[6]) - 1
    return "month", year * 12 + int(text[5:7]) - 1


def start_month(text: str) -> int:
    """
    Return the month ordinal of the first month of a period label.

    Parameters
    ----------
    text : str
        A period label.

    Returns
    -------
    int

    Examples
    --------
    >>> start_month("2024-Q1"), start_month("2024"), start_month("2024-03")
    (648, 648, 650)
    """
    grain, index = parse(text)
    return index * MONTHS_PER[grain]


def end_month(text: str) -> int:
    """
    Return the month ordinal of the last month of a period label.

    Parameters
    ----------
    text : str
        A period label.

    Returns
    -------
    int

    Examples
    --------
    >>> end_month("2024-Q1"), end_month("2024"), end_month("2024-03")
    (650, 659, 650)
    """
    grain, index = parse(text)
    return (index + 1) * MONTHS_PER[grain] - 1


def start_months(labels: pd.Series) -> np.ndarray:
    """
    Return the month ordinal of the first month of each period label.

    Parameters
    ----------
    labels : Series of str
        Period labels.

    Returns
    -------
    ndarray of int64

    Examples
    --------
    >>> start_months(pd.Series(["2024-03", "2024-Q1", "2024"])).tolist()
    [650, 648, 648]
    """
    return np.array([start_month(x) for x in labels.to_numpy()], dtype=np.int64)


def end_months(labels: pd.Series) -> np.ndarray:
    """
    Return the month ordinal of the last month of each period label.

    Parameters
    ----------
    labels : Series of str
        Period labels.

    Returns
    -------
    ndarray of int64

    Examples
    --------
    >>> end_months(pd.Series(["2024-03", "2024-Q1", "2024"])).tolist()
    [650, 650, 659]
    """
    return np.array([end_month(x) for x in labels.to_numpy()], dtype=np.int64)


def sizes(labels: pd.Series) -> np.ndarray:
    """
    Return the months in the period of each label.

    Parameters
    ----------
    labels : Series of str
        Period labels.

    Returns
    -------
    ndarray of int64

    Examples
    --------
    >>> sizes(pd.Series(["2024-03", "2024-Q1", "2024"])).tolist()
    [1, 3, 12]
    """
    return np.array([MONTHS_PER[grain_of(x)] for x in labels.to_numpy()], dtype=np.int64)


def last_month_label(period: str) -> str:
    """
    Return the last month of a period label, as ``YYYY-MM``.

    Parameters
    ----------
    period : str
        A period label.

    Returns
    -------
    str

    Examples
    --------
    >>> last_month_label("2025-Q2"), last_month_label("2024"), last_month_label("2024-03")
    ('2025-06', '2024-12', '2024-03')
    """
    return month_label(end_month(period))


@dataclass(frozen=True)
class PeriodPlan:
    """
    The periods a summary covers.

    Attributes
    ----------
    period : str
        ``month``, ``quarter`` or ``year``.
    labels : list of str
        Labels of the summary rows, in order (``2024-03``, ``2024-Q1``, ``2024``).
    end_months : ndarray
        Month ordinal (months since 1970-01) of the last month of the baseline and of
        each row period: ``len(labels) + 1`` values, the baseline first.
    baseline : str
        Label of the baseline period (its end is the first ``mrr_start``).
    dropped : str or None
        A trailing period left out because its last month lies past the window.
    """

    period: str
    labels: list
    end_months: np.ndarray
    baseline: str
    dropped: str | None


def plan_periods(ledger: Ledger, period: str = "month") -> PeriodPlan:
    """
    Work out the baseline, the row periods and a dropped trailing period of a ledger.

    Snapshots: the first period of the window is the baseline. Subscriptions: the
    baseline is the period before the one holding the first month (zero MRR).

    Parameters
    ----------
    ledger : Ledger
        Only its ``kind``, ``first_month`` and ``last_month`` are read.
    period : {"month", "quarter", "year"}

    Returns
    -------
    PeriodPlan

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> window = SimpleNamespace(kind="snapshots", first_month=pd.Period("2024-01", "M"),
    ...                          last_month=pd.Period("2024-08", "M"))
    >>> plan = plan_periods(window, "quarter")
    >>> plan.baseline, plan.labels, plan.dropped, plan.end_months.tolist()
    ('2024-Q1', ['2024-Q2'], '2024-Q3', [650, 653])
    """
    check_grain(period)
    size = MONTHS_PER[period]
    first = ledger.first_month.ordinal
    last = ledger.last_month.ordinal
    p_first, p_last = period_of(first, period), period_of(last, period)
    dropped = None
    if (p_last + 1) * size - 1 > last:
        dropped = label(p_last, period)
        p_last -= 1
    baseline = p_first if ledger.kind == "snapshots" else p_first - 1
    ids = np.arange(baseline, max(p_last, baseline) + 1)
    ends = (ids + 1) * size - 1
    return PeriodPlan(period, [label(i, period) for i in ids[1:]], ends, label(baseline, period), dropped)


def plan_buckets(plan: PeriodPlan, months: np.ndarray) -> np.ndarray:
    """
    Return the plan period of each month ordinal: 0 the baseline, then the row periods.

    A month that ends no period of the plan (inside a quarter, outside the window) gets
    ``len(plan.end_months)``, a last bucket for "outside".

    Parameters
    ----------
    plan : PeriodPlan
    months : ndarray of int64
        Month ordinals (e.g. a ledger's ``month`` column as ``asi8``).

    Returns
    -------
    ndarray
        Of ``uint16`` when the plan has fewer than 65,535 periods (NumPy sorts 16-bit
        integers by radix: linear and stable), else of ``int64``.

    Examples
    --------
    >>> plan = PeriodPlan("quarter", ["2024-Q2"], np.array([650, 653]), "2024-Q1", None)
    >>> plan_buckets(plan, np.array([648, 650, 651, 653, 700])).tolist()
    [2, 0, 2, 1, 2]
    """
    small = len(plan.end_months) < 2**16 - 1
    slot = np.full(int(plan.end_months[-1] - plan.end_months[0] + 2), len(plan.end_months),
                   dtype=np.uint16 if small else np.int64)  # fmt: skip
    slot[plan.end_months - plan.end_months[0]] = np.arange(len(plan.end_months))
    offset = np.subtract(months, plan.end_months[0], dtype=np.int32 if len(slot) < 2**30 else np.int64,
                         casting="unsafe")  # fmt: skip
    np.clip(offset, -1, len(slot) - 1, out=offset)  # -1: the last entry, the bucket for "outside"
    return slot[offset]


def between(table: pd.DataFrame, start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """
    Keep the rows of a per-period table from ``start`` to ``end`` (period labels, inclusive).

    The labels are compared as months: a row is kept when its period starts no earlier
    than ``start`` starts and ends no later than ``end`` ends (for labels of one grain:
    its period lies from ``start`` to ``end``).

    Parameters
    ----------
    table : DataFrame
        A table with a ``period`` column of labels.
    start, end : str, optional
        Period labels; None: no bound.

    Returns
    -------
    DataFrame
        The rows kept, with a fresh index.

    Examples
    --------
    >>> t = pd.DataFrame({"period": ["2024-01", "2024-02", "2024-03"]})
    >>> between(t, "2024-02")["period"].tolist()
    ['2024-02', '2024-03']
    """
    keep = np.ones(len(table), dtype=bool)
    if start or end:
        labels = table["period"].astype(str)
        if start:
            keep &= start_months(labels) >= start_month(start)
        if end:
            keep &= end_months(labels) <= end_month(end)
    return table.loc[keep].reset_index(drop=True)


# --- period labels given by a user: resolved against the periods present -------------------------

_PERIOD_FREQS = {"M": "month", "Q-DEC": "quarter", "Y-DEC": "year", "A-DEC": "year"}


def as_label(value, *, name: str = "period") -> str:
    """
    Return the label of a period given as a label or a :class:`pandas.Period` (monthly, quarterly, yearly).

    Parameters
    ----------
    value : str or Period
        ``"2025-03"``, ``"2025-Q1"``, ``"2025"``, or ``pd.Period("2025-03", "M")`` and the like.
    name : str
        The argument's name, for the message.

    Returns
    -------
    str

    Raises
    ------
    ParameterError
        For anything else (a number, a daily Period, a fiscal year not ending in December).

    Examples
    --------
    >>> as_label("2025-Q4"), as_label(pd.Period("2025-09", "M")), as_label(pd.Period("2025Q4", "Q"))
    ('2025-Q4', '2025-09', '2025-Q4')
    >>> as_label(2025)
    Traceback (most recent call last):
    ...
    kit.errors.ParameterError: period must be a period label like 2025-01, 2025-Q1 or 2025 (or a list of them), not 2025
    """
    if isinstance(value, str):
        return value
    if isinstance(value, pd.Period) and value.freqstr in _PERIOD_FREQS:
        return label(int(value.ordinal), _PERIOD_FREQS[value.freqstr])
    examples = ", ".join(EXAMPLE_LABELS[g] for g in GRAINS[:-1]) + f" or {EXAMPLE_LABELS[GRAINS[-1]]}"
    raise ParameterError(f"{name} must be a period label like {examples} (or a list of them), not {value!r}")


def _near_miss(text: str, grain: str, available: list[str]) -> str:
    """Say which of the available periods a label of another grain covers or lies in."""
    first, last = start_month(text), end_month(text)
    inside = [a for a in available if start_month(a) >= first and end_month(a) <= last]
    if inside:
        shown = ", ".join(inside) if len(inside) <= 3 else f"{inside[0]} to {inside[-1]}"
        return f"; {text} holds {shown}"
    around = [a for a in available if start_month(a) <= first and end_month(a) >= last]
    if around:
        return f"; {text} lies in {around[0]}"
    return ""


def select(wanted, available, grain: str | None = None, *, name: str = "period") -> list[str]:
    """
    Resolve a period label, a Period, or a list of them against the periods present.

    Parameters
    ----------
    wanted : str, Period or list of them
        E.g. ``"2025-Q4"`` or ``["2025-03", "2025-04"]``.
    available : sequence of str
        The labels present (a summary's or the movements' periods), in order.
    grain : {"month", "quarter", "year"}, optional
        The grain of ``available``; default: that of its first label.
    name : str
        The argument's name, for messages.

    Returns
    -------
    list of str
        The labels asked for, once each, in the order of ``available``.

    Raises
    ------
    ParameterError
        For a text that is no label, a label of another grain (with the periods it holds or
        lies in) or a label outside the periods present; the message names the valid range
        and the grain.

    Examples
    --------
    >>> months = [label(m, "month") for m in range(648, 672)]  # 2024-01 to 2025-12
    >>> select("2025-03", months), select(["2025-04", pd.Period("2025-03", "M")], months)
    (['2025-03'], ['2025-03', '2025-04'])
    >>> try:
    ...     select("2025-Q4", months)
    ... except ParameterError as error:
    ...     for part in str(error).split("; "):
    ...         print(part)
    period '2025-Q4' is a quarter
    the periods here are months, 2024-01 to 2025-12
    2025-Q4 holds 2025-10, 2025-11, 2025-12
    >>> select("2026-01", months)
    Traceback (most recent call last):
    ...
    kit.errors.ParameterError: period '2026-01' is not among the periods here: months, 2024-01 to 2025-12
    """
    available = [str(a) for a in available]
    grain = grain or (grain_of(available[0]) if available else None)
    items = [wanted] if isinstance(wanted, (str, pd.Period)) or not hasattr(wanted, "__iter__") else list(wanted)
    span = f"{grain}s, {available[0]} to {available[-1]}" if available else "none"
    present = set(available)
    asked = set()
    for item in items:
        text = as_label(item, name=name)
        if not is_label(text):
            example = EXAMPLE_LABELS.get(grain or "month")
            raise ParameterError(f"{name} {text!r} is not a period label like {example}; the periods here are {span}")
        if grain is not None and grain_of(text) != grain:
            raise ParameterError(f"{name} {text!r} is a {grain_of(text)}; the periods here are {span}"
                                 f"{_near_miss(text, grain, available)}")  # fmt: skip
        if text not in present:
            raise ParameterError(f"{name} {text!r} is not among the periods here: {span}")
        asked.add(text)
    return [a for a in available if a in asked]


def window(available, *, start=None, end=None, last: int | None = None, grain: str | None = None) -> list[str]:
    """
    Return the labels from ``start`` to ``end`` (inclusive), then only the last ``last`` of them.

    Parameters
    ----------
    available : sequence of str
        The labels present, in order.
    start, end : str or Period, optional
        Labels of the grain of ``available`` (checked by :func:`select`); None: no bound.
    last : int, optional
        Keep only this many periods, the latest; a whole number ≥ 1.
    grain : {"month", "quarter", "year"}, optional
        The grain of ``available``.

    Returns
    -------
    list of str

    Examples
    --------
    >>> quarters = ["2024-Q3", "2024-Q4", "2025-Q1", "2025-Q2"]
    >>> window(quarters, last=2), window(quarters, start="2024-Q4", end="2025-Q1")
    (['2025-Q1', '2025-Q2'], ['2024-Q4', '2025-Q1'])
    """
    available = [str(a) for a in available]
    for name, bound in (("start", start), ("end", end)):
        if bound is not None and not isinstance(bound, (str, pd.Period)):
            shown = grain or (grain_of(available[0]) if available else "month")
            raise ParameterError(f"{name} takes one period label (like {EXAMPLE_LABELS[shown]}), not {bound!r}")
    lo = available.index(select(start, available, grain, name="start")[0]) if start is not None else 0
    hi = available.index(select(end, available, grain, name="end")[0]) if end is not None else len(available) - 1
    if available and lo > hi:
        raise ParameterError(f"start {available[lo]} is after end {available[hi]}")
    kept = available[lo : hi + 1]
    if last is not None:
        kept = kept[-check_count(last, "last", "periods") :]
    return kept


def labels_of(column: pd.Series) -> list[str]:
    """
    Return the period labels of a ``period`` column, in order: a categorical's categories, else the sorted values.

    Parameters
    ----------
    column : Series
        A ``period`` column (movements: an ordered categorical of the plan's labels; a summary: text).

    Returns
    -------
    list of str

    Examples
    --------
    >>> labels_of(pd.Series(["2024-02", "2024-01", "2024-02"]))
    ['2024-01', '2024-02']
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        return [str(p) for p in column.cat.categories]
    return sorted({str(p) for p in pd.unique(column)}, key=lambda text: (grain_of(text), start_month(text)))


def keep(table: pd.DataFrame, *, start=None, end=None, last: int | None = None, grain: str | None = None):
    """
    Keep the rows of a per-period table from ``start`` to ``end``, then those of its last ``last`` periods.

    Unlike :func:`between`, the labels are checked (:func:`select`): one of another grain, or
    outside the table's periods, is a :class:`~kit.errors.ParameterError` naming the range.

    Parameters
    ----------
    table : DataFrame
        A table with a ``period`` column of labels (a summary, by segment or not).
    start, end : str or Period, optional
    last : int, optional
        A whole number ≥ 1 of periods (not rows: a summary by segment keeps every segment).
    grain : {"month", "quarter", "year"}, optional
        The table's grain, for messages when it has no row.

    Returns
    -------
    DataFrame
        The rows kept, with a fresh index; the table itself when no bound is given.

    Examples
    --------
    >>> t = pd.DataFrame({"period": ["2024-01", "2024-01", "2024-02", "2024-03"], "x": [1, 2, 3, 4]})
    >>> keep(t, last=1)["x"].tolist(), keep(t, end="2024-02", last=2)["x"].tolist()
    ([4], [1, 2, 3])
    """
    if start is None and end is None and last is None:
        return table
    labels = table["period"].astype(str)
    kept = window(list(pd.unique(labels)), start=start, end=end, last=last, grain=grain)
    return table.loc[labels.isin(kept).to_numpy()].reset_index(drop=True)
