"""
From movements (or straight from the ledger) to the summary: one row per period (and segment).

The summary has one row per period with the columns of docs/definitions.md ("Summary"), in this order (money in
integer cents in the frame; the CLI writes major units):

``period, mrr_start, new, reactivation, upsell, cross_sell, expansion, contraction, churn,
mrr_end, customers_start, customers_end, customers_new, customers_reactivated,
customers_expanded, customers_contracted, customers_churned, customer_expansion_rate,
expansion_mrr_rate, upsell_rate, cross_sell_rate, nrr, grr, quick_ratio``

A rate whose denominator is zero is NaN, never 0 or inf.

The tables around the summary (cohorts, cross-sell matrix, upgrade paths, top expanders,
concentration, trailing NRR) live in :mod:`kit.tables`; they are re-exported here, their
old home, so ``kit.metrics.cohorts`` and the rest keep working.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kit._fast.periods import period_sums
from kit._fast.summary import in_chunks
from kit.display import tag
from kit.ledger import Ledger
from kit.movements import AMOUNTS, CLASSES, walk
from kit.periods import (  # noqa: F401  (re-exported: the old home)
    between,
    end_months,
    grain_of,
    is_label,
    last_month_label,
    month_label,
    parse,
    period_of,
    plan_periods,
    sizes,
    start_months,
)
from kit.periods import keep as keep_periods
from kit.periods import label as period_label  # noqa: F401  (re-exported: the old name)
from kit.rules import ratio  # noqa: F401  (re-exported: its old home)
from kit.tables import (  # noqa: F401  (re-exported: the tables' old home)
    cohorts,
    concentration,
    cross_sell_matrix,
    top_expanders,
    trailing_nrr,
    upgrade_paths,
)

MONEY = ["mrr_start", "new", "reactivation", "upsell", "cross_sell", "expansion", "contraction", "churn", "mrr_end"]
COUNTS = ["customers_start", "customers_end", "customers_new", "customers_reactivated", "customers_expanded",
          "customers_contracted", "customers_churned"]  # fmt: skip
RATES = ["customer_expansion_rate", "expansion_mrr_rate", "upsell_rate", "cross_sell_rate", "nrr", "grr", "quick_ratio"]
SUMMARY_COLUMNS = ["period", *MONEY, *COUNTS, *RATES]
_COUNT_CLASS = {"customers_new": 1, "customers_reactivated": 2, "customers_expanded": 3,
                "customers_contracted": 4, "customers_churned": 5}  # fmt: skip


def _contracts():
    """Import the frame contracts (:mod:`kit.contracts`) on first use: pandera's import takes a tenth of a second."""
    from kit import contracts

    return contracts


def add_rates(table: pd.DataFrame) -> pd.DataFrame:
    """
    Return ``table`` (money and count columns) with the rate columns computed from them.

    Parameters
    ----------
    table : DataFrame
        Summary money and count columns (``mrr_start, new, …, customers_start, …``).

    Returns
    -------
    DataFrame
        A copy with the rate columns added (NaN where a denominator is zero).

    Examples
    --------
    >>> t = pd.DataFrame({"mrr_start": [100, 0], "new": [0, 5], "reactivation": 0, "expansion": [10, 0],
    ...                   "upsell": [10, 0], "cross_sell": 0, "contraction": 0, "churn": [20, 0],
    ...                   "customers_start": [2, 0], "customers_expanded": [1, 0]})
    >>> add_rates(t)["nrr"].tolist()
    [0.9, nan]
    """
    out = table.copy()
    start = out["mrr_start"]
    out["customer_expansion_rate"] = ratio(out["customers_expanded"], out["customers_start"])
    out["expansion_mrr_rate"] = ratio(out["expansion"], start)
    out["upsell_rate"] = ratio(out["upsell"], start)
    out["cross_sell_rate"] = ratio(out["cross_sell"], start)
    out["nrr"] = ratio(start + out["expansion"] - out["contraction"] - out["churn"], start)
    out["grr"] = ratio(start - out["contraction"] - out["churn"], start)
    out["quick_ratio"] = ratio(out["new"] + out["reactivation"] + out["expansion"], out["contraction"] + out["churn"])
    return out


def summarize(
    ledger: Ledger,
    *,
    period: str = "month",
    netting: str = "customer",
    reactivation_window: int | None = None,
    by: str | None = None,
    start=None,
    end=None,
    last: int | None = None,
) -> pd.DataFrame:
    """
    Summarise a ledger into one row per period (and segment), straight from the engine.

    Takes a **ledger** (:func:`kit.load_ledger`); to summarise **movements** already
    computed, use :func:`summary`. Returns the summary columns of docs/definitions.md (see the
    module docstring), money in integer cents. Equal to
    ``summary(movements(ledger, ...))`` but without materialising the movements, so it
    runs at a million customers in bounded memory. The output follows :class:`kit.contracts.Summary`.

    Parameters
    ----------
    ledger : Ledger
        Output of :func:`kit.load_ledger`.
    period : {"month", "quarter", "year"}
        The grain of the rows.
    netting : {"customer", "product"}
        One movement per customer (net), or product-level gross amounts (docs/definitions.md).
    reactivation_window : int, optional
        Most inactive periods in a row after which a return still counts as reactivation.
    by : str, optional
        A customer attribute: adds it as the second column; each customer counts in its
        segment at the start of the period (new and reactivated ones: at the end).
    start, end : str or Period, optional
        Keep the periods from ``start`` to ``end`` (labels of the grain, ``"2025-Q1"``;
        inclusive). They limit the rows returned, never the history the movements use: the
        first row kept still starts from the MRR at the end of the period before.
    last : int, optional
        Keep only the last ``last`` periods (after ``start``/``end``).

    Returns
    -------
    DataFrame
        Sorted by period (then segment). Every period after the baseline is a row, also
        one with no active customer (of those kept by ``start``, ``end`` and ``last``).

    Raises
    ------
    ParameterError
        A period, netting or reactivation window out of its choices, or ``by`` not an attribute
        of the ledger (the message lists them); a ``start`` or ``end`` of another grain or
        outside the periods (the message names the valid range), a ``last`` below 1.

    Examples
    --------
    >>> import datetime, kit
    >>> rows = [("a", "P", "2024-01", "10"), ("a", "P", "2024-02", "15"), ("a", "Q", "2024-02", "5"),
    ...         ("b", "P", "2024-02", "8"), ("c", "P", "2024-01", "4")]
    >>> frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr"])
    >>> ledger = kit.load_ledger(frame, kind="snapshots", today=datetime.date(2026, 11, 24))
    >>> summarize(ledger)[["period", "mrr_start", "new", "upsell", "cross_sell", "churn", "mrr_end"]]
        period  mrr_start  new  upsell  cross_sell  churn  mrr_end
    0  2024-02       1400  800     500         500    400     2800
    >>> summarize(ledger, last=1, start="2024-02")["period"].tolist()
    ['2024-02']
    """
    plan = plan_periods(ledger, period)
    keep_periods(pd.DataFrame({"period": plan.labels}), start=start, end=end, last=last, grain=period)  # the check
    # an unknown ``by`` gets walk's ParameterError (naming the attributes), not a KeyError here
    groups = list(ledger.frame[by].cat.categories) if by in ledger.attributes else [None]
    options = {"period": period, "netting": netting, "reactivation_window": reactivation_window, "by": by}
    tallies = in_chunks(ledger, lambda part: _tally(part, len(groups), **options))
    records = []
    for k, columns in tallies.items():
        for i, value in enumerate(groups):
            record = {"period": plan.labels[k - 1]}
            if by:
                record[by] = value
            record.update({name: int(col[i]) for name, col in columns.items()})
            records.append(record)
    table = tag(_finish(records, by), "summary", ledger, period=period, netting=netting)  # displays formatted
    return keep_periods(table, start=start, end=end, last=last, grain=period)


def _tally(ledger: Ledger, width: int, *, period, netting, reactivation_window, by) -> dict:
    """Return ``{period index: {column: int64 array by group}}``: the summary's sums and counts."""
    if netting == "customer" and not by:  # the plain summary: summed without per-customer arrays
        sums = period_sums(ledger, period=period, reactivation_window=reactivation_window)
        if sums is not None:
            return {k: {name: np.array([value], dtype=np.int64) for name, value in columns.items()}
                    for k, columns in sums.items()}  # fmt: skip
    tallies = {}
    for arrays in walk(ledger, period=period, netting=netting, reactivation_window=reactivation_window,
                       attributes=[by] if by else None):  # fmt: skip
        if by:
            group = arrays.segment[by]
            valid = group >= 0
            in_group = group[valid]

            def total(values, in_group=in_group, valid=valid):
                return np.bincount(in_group, weights=values[valid], minlength=width).astype(np.int64)

            def count(mask, in_group=in_group, valid=valid):
                return np.bincount(in_group[mask[valid]], minlength=width).astype(np.int64)

            classes = {name: count(arrays.cls == code) for name, code in _COUNT_CLASS.items()}
        else:  # one group: plain integer sums

            def total(values):
                return np.array([values.sum()], dtype=np.int64)

            def count(mask):
                return np.array([np.count_nonzero(mask)], dtype=np.int64)

            per_class = np.bincount(arrays.cls, minlength=len(CLASSES))
            classes = {name: per_class[code : code + 1].astype(np.int64) for name, code in _COUNT_CLASS.items()}
        columns = {"mrr_start": total(arrays.start), "mrr_end": total(arrays.end)}
        columns.update({name: total(arrays.amounts[name]) for name in AMOUNTS})
        columns["customers_start"] = count(arrays.start > 0)
        columns["customers_end"] = count(arrays.end > 0)
        columns.update(classes)
        tallies[arrays.k] = columns
    return tallies


def summary(movements: pd.DataFrame, *, by: str | None = None, start=None, end=None,
            last: int | None = None) -> pd.DataFrame:  # fmt: skip
    """
    Summarise customer movements into one row per period (and segment).

    Takes **movements** (rows *customer_id, period, class, mrr_start, …*, see
    :func:`kit.movements.movements`); to summarise a **ledger** without materialising its
    movements, use :func:`summarize`. Returns the summary columns of docs/definitions.md. The input follows
    :class:`kit.contracts.Movements` (its columns are checked), the output :class:`kit.contracts.Summary`.

    Parameters
    ----------
    movements : DataFrame
        Output of :func:`kit.movements.movements`.
    by : str, optional
        An attribute column of the movements; adds it as a grouping column.
    start, end, last : optional
        Keep the periods from ``start`` to ``end``, then the last ``last`` of them, as in
        :func:`summarize`.

    Returns
    -------
    DataFrame
        One row per period (and group), sorted by period.

    Raises
    ------
    ParameterError
        ``movements`` is not a frame with the columns read (money as int64), or lacks ``by``;
        a ``start`` or ``end`` of another grain or outside the periods, a ``last`` below 1.

    Examples
    --------
    >>> import datetime, kit
    >>> rows = [("a", "P", "2024-01", "10"), ("a", "P", "2024-02", "15"), ("a", "Q", "2024-02", "5"),
    ...         ("b", "P", "2024-02", "8"), ("c", "P", "2024-01", "4")]
    >>> frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr"])
    >>> ledger = kit.load_ledger(frame, kind="snapshots", today=datetime.date(2026, 11, 24))
    >>> summary(kit.movements(ledger))[["period", "mrr_start", "mrr_end", "customers_churned"]]
        period  mrr_start  mrr_end  customers_churned
    0  2024-02       1400     2800                  1
    """
    _contracts().require(movements, "movements", ["period", "class", "mrr_start", "mrr_end", *AMOUNTS, by],
                         function="summary")  # fmt: skip
    keys = ["period", by] if by else ["period"]
    frame = movements.assign(
        customers_start=(movements["mrr_start"] > 0).astype(np.int64),
        customers_end=(movements["mrr_end"] > 0).astype(np.int64),
        **{name: (movements["class"] == CLASSES[code]).astype(np.int64) for name, code in _COUNT_CLASS.items()},
    )
    sums = frame.groupby(keys, observed=False, sort=True)[["mrr_start", "mrr_end", *AMOUNTS, *COUNTS]].sum()
    records = sums.reset_index().to_dict("records")
    table = tag(_finish(records, by), "summary", movements)
    return keep_periods(table, start=start, end=end, last=last)


def combine(summaries: list[pd.DataFrame], *, by: str | None = None) -> pd.DataFrame:
    """
    Add summaries of disjoint sets of customers (chunks) into one, recomputing the rates.

    The summaries must cover the same periods (chunks of one ledger do). Input and output follow
    :class:`kit.contracts.Summary` (the input's columns are checked).

    Parameters
    ----------
    summaries : list of DataFrame
        Outputs of :func:`summarize` or :func:`summary`, one per chunk of customers.
    by : str, optional
        The segment column the summaries were made with.

    Returns
    -------
    DataFrame
        The summary of all their customers, in the periods' first order.

    Raises
    ------
    ParameterError
        ``summaries`` is one frame (not a list), or one of them lacks the columns read.

    Examples
    --------
    >>> import datetime, kit
    >>> rows = [("a", "P", "2024-01", "10"), ("a", "P", "2024-02", "15"), ("a", "Q", "2024-02", "5"),
    ...         ("b", "P", "2024-02", "8"), ("c", "P", "2024-01", "4")]
    >>> frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr"])
    >>> ledger = kit.load_ledger(frame, kind="snapshots", today=datetime.date(2026, 11, 24))
    >>> from kit.movements import split_customers
    >>> parts = [summarize(part) for part in split_customers(ledger, 2)]
    >>> combine(parts).equals(summarize(ledger))
    True
    """
    summaries = _contracts().require_each(summaries, "summary", ["period", *MONEY, *COUNTS, by], function="combine")
    keys = ["period", by] if by else ["period"]
    stacked = pd.concat(summaries, ignore_index=True)
    order = {label: i for i, label in enumerate(pd.unique(stacked["period"]))}
    sums = stacked.groupby(keys, sort=False)[[*MONEY, *COUNTS]].sum().reset_index()
    sums = sums.sort_values(keys, key=lambda s: s.map(order) if s.name == "period" else s, kind="stable")
    return tag(_finish(sums.to_dict("records"), by), "summary", summaries[0] if summaries else None)


def _finish(records: list[dict], by: str | None) -> pd.DataFrame:
    keys = ["period", by] if by else ["period"]
    table = pd.DataFrame.from_records(records, columns=[*keys, "mrr_start", "mrr_end", *AMOUNTS, *COUNTS])
    for column in ["mrr_start", "mrr_end", *AMOUNTS, *COUNTS]:
        table[column] = table[column].astype(np.int64)
    table["period"] = table["period"].astype(str)
    if by:
        table[by] = table[by].astype(str)
    table["expansion"] = table["upsell"] + table["cross_sell"]
    table = add_rates(table)
    return table[[*keys, *MONEY, *COUNTS, *RATES]].reset_index(drop=True)
