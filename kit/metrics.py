"""
From movements to the tables a report shows: the summary and the tables around it.

The summary has one row per period with DESIGN.md's columns, in this order (money in
integer cents in the frame; the CLI writes major units):

``period, mrr_start, new, reactivation, upsell, cross_sell, expansion, contraction, churn,
mrr_end, customers_start, customers_end, customers_new, customers_reactivated,
customers_expanded, customers_contracted, customers_churned, customer_expansion_rate,
expansion_mrr_rate, upsell_rate, cross_sell_rate, nrr, grr, quick_ratio``

A rate whose denominator is zero is NaN, never 0 or inf.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from kit.errors import ParameterError
from kit.ledger import Ledger
from kit.movements import AMOUNTS, CLASSES, period_sums, plan_periods, walk

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


def ratio(numerator, denominator) -> np.ndarray:
    """
    Divide element-wise; NaN where the denominator is zero.

    >>> ratio(np.array([1, 1]), np.array([4, 0])).tolist()
    [0.25, nan]
    """
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def add_rates(table: pd.DataFrame) -> pd.DataFrame:
    """Return ``table`` (money and count columns) with the rate columns computed from them."""
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
) -> pd.DataFrame:
    """
    Summarise a ledger into one row per period (and segment), straight from the engine.

    Takes a :class:`~kit.ledger.Ledger`; returns DESIGN.md's summary columns (see the
    module docstring), money in integer cents. Equal to
    ``summary(movements(ledger, ...))`` but without materialising the movements, so it
    runs at a million customers in bounded memory. The output follows :class:`kit.contracts.Summary`.

    Parameters
    ----------
    ledger : Ledger
    period : {"month", "quarter", "year"}
    netting : {"customer", "product"}
    reactivation_window : int, optional
    by : str, optional
        A customer attribute: adds it as the second column; each customer counts in its
        segment at the start of the period (new and reactivated ones: at the end).

    Returns
    -------
    DataFrame
        Sorted by period (then segment). Every period after the baseline is a row, also
        one with no active customer.
    """
    plan = plan_periods(ledger, period)
    # an unknown ``by`` gets walk's ParameterError (naming the attributes), not a KeyError here
    groups = list(ledger.frame[by].cat.categories) if by in ledger.attributes else [None]
    options = {"period": period, "netting": netting, "reactivation_window": reactivation_window, "by": by}
    parts = _customer_parts(ledger)
    if len(parts) == 1:
        tallies = _tally(ledger, len(groups), **options)
    else:  # customer-local: chunks of customers in threads (NumPy releases the GIL), their sums added
        with ThreadPoolExecutor(min(_cpus(), 4)) as pool:
            chunks = list(pool.map(lambda part: _tally(part, len(groups), **options), parts))
        tallies = {k: {name: sum(chunk[k][name] for chunk in chunks) for name in chunks[0][k]} for k in chunks[0]}
    records = []
    for k, columns in tallies.items():
        for i, value in enumerate(groups):
            record = {"period": plan.labels[k - 1]}
            if by:
                record[by] = value
            record.update({name: int(col[i]) for name, col in columns.items()})
            records.append(record)
    return _finish(records, by)


#: Ledgers of more than this many rows are summarised in chunks of whole customers of about
#: this many rows, in threads: a chunk's arrays stay within the CPU's caches (one pass over
#: 20 million rows at once takes several times longer than over 20 chunks).
PARALLEL_ROWS = 1_000_000


def _customer_parts(ledger: Ledger) -> list[Ledger]:
    """
    Split a large ledger into contiguous runs of whole customers of about PARALLEL_ROWS rows.

    Only a ledger sorted by customer (as loaded) is split: its parts are views, not copies.
    """
    frame = ledger.frame
    if len(frame) <= PARALLEL_ROWS:
        return [ledger]
    codes = frame["customer_id"].array.codes
    if bool((codes[1:] < codes[:-1]).any()):
        return [ledger]
    parts = -(-len(codes) // max(PARALLEL_ROWS, 1))
    cuts = [0]
    for i in range(1, parts):
        at = int(np.searchsorted(codes, codes[len(codes) * i // parts], side="left"))  # where that customer starts
        if at > cuts[-1]:
            cuts.append(at)
    cuts.append(len(codes))
    return [Ledger(frame.iloc[a:b], ledger.kind, ledger.first_month, ledger.last_month, ledger.currency,
                   ledger.quality) for a, b in zip(cuts[:-1], cuts[1:])]  # fmt: skip


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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

            def total(values):
                return np.bincount(in_group, weights=values[valid], minlength=width).astype(np.int64)

            def count(mask):
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


def summary(movements: pd.DataFrame, *, by: str | None = None) -> pd.DataFrame:
    """
    Summarise customer movements into one row per period (and segment).

    Takes rows *customer_id, period, class, mrr_start, …* (see
    :func:`kit.movements.movements`) and returns DESIGN.md's summary columns. The input follows
    :class:`kit.contracts.Movements` (its columns are checked), the output :class:`kit.contracts.Summary`.

    Parameters
    ----------
    movements : DataFrame
        Output of :func:`kit.movements.movements`.
    by : str, optional
        An attribute column of the movements; adds it as a grouping column.

    Returns
    -------
    DataFrame
        One row per period (and group), sorted by period.
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
    return _finish(records, by)


def combine(summaries: list[pd.DataFrame], *, by: str | None = None) -> pd.DataFrame:
    """
    Add summaries of disjoint sets of customers (chunks) into one, recomputing the rates.

    The summaries must cover the same periods (chunks of one ledger do). Input and output follow
    :class:`kit.contracts.Summary` (the input's columns are checked).
    """
    summaries = _contracts().require_each(summaries, "summary", ["period", *MONEY, *COUNTS, by], function="combine")
    keys = ["period", by] if by else ["period"]
    stacked = pd.concat(summaries, ignore_index=True)
    order = {label: i for i, label in enumerate(pd.unique(stacked["period"]))}
    sums = stacked.groupby(keys, sort=False)[[*MONEY, *COUNTS]].sum().reset_index()
    sums = sums.sort_values(keys, key=lambda s: s.map(order) if s.name == "period" else s, kind="stable")
    return _finish(sums.to_dict("records"), by)


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


# --- tables around the summary -----------------------------------------------------------


def cohorts(ledger: Ledger, movements: pd.DataFrame, *, cohort: str | None = None) -> pd.DataFrame:
    """
    Measure expansion and NRR by signup cohort and periods since signup.

    A customer's cohort is the period (of the movements' grain) holding its first active
    month in the ledger (for snapshots, customers already active in the first month are
    that month's cohort: their true start is unknown). Returns ``cohort, age, mrr_start,
    expansion, contraction, churn, nrr, expansion_mrr_rate, customers_start``; ``age``
    counts periods from the cohort's period. ``cohort``, when given, must name the grain of
    the movements: summing monthly movements into quarterly cells would count a customer's
    starting MRR three times. ``movements`` follows :class:`kit.contracts.Movements` (its columns are checked).
    """
    _contracts().require(movements, "movements", ["customer_id", "period", "mrr_start", "expansion", "contraction",
                                                  "churn"], function="cohorts")  # fmt: skip
    grain = _grain(movements["period"].astype(str))
    cohort = cohort or grain or "month"
    if grain and grain != cohort:
        raise ParameterError(f"cohorts by {cohort} need movements by {cohort}, not by {grain}")
    first = ledger.frame.groupby("customer_id", observed=True)["month"].min()
    size = {"month": 1, "quarter": 3, "year": 12}[cohort]
    cohort_ordinal = first.array.asi8 // size
    cohort_of = pd.Series(cohort_ordinal, index=first.index.astype(str))
    moves = movements.loc[movements["mrr_start"] > 0]
    period_labels = moves["period"].astype(str)
    period_start = _label_start_month(period_labels)
    c_ord = cohort_of.reindex(moves["customer_id"].astype(str)).to_numpy()
    age = (period_start // size) - c_ord
    frame = pd.DataFrame({
        "cohort": [_cohort_label(o, cohort) for o in c_ord],
        "age": age.astype(np.int64),
        "mrr_start": moves["mrr_start"].to_numpy(),
        "expansion": moves["expansion"].to_numpy(),
        "contraction": moves["contraction"].to_numpy(),
        "churn": moves["churn"].to_numpy(),
        "customers_start": 1,
    })  # fmt: skip
    out = frame.groupby(["cohort", "age"], sort=True).sum().reset_index()
    out["nrr"] = ratio(out["mrr_start"] + out["expansion"] - out["contraction"] - out["churn"], out["mrr_start"])
    out["expansion_mrr_rate"] = ratio(out["expansion"], out["mrr_start"])
    return out


def _grain(labels: pd.Series) -> str | None:
    """
    The period grain of labels: ``2024`` year, ``2024-Q1`` quarter, ``2024-01`` month.

    >>> _grain(pd.Series(["2024-Q1", "2024-Q2"])), _grain(pd.Series([], dtype=str))
    ('quarter', None)
    """
    if labels.empty:
        return None
    first = str(labels.iloc[0])
    return "year" if len(first) == 4 else "quarter" if "Q" in first else "month"


def _label_start_month(labels: pd.Series) -> np.ndarray:
    """Month ordinal of the first month of period labels (2024-03, 2024-Q1, 2024)."""
    out = np.empty(len(labels), dtype=np.int64)
    for i, label in enumerate(labels.to_numpy()):
        year = int(label[:4])
        if len(label) == 4:
            out[i] = (year - 1970) * 12
        elif label[5] == "Q":
            out[i] = (year - 1970) * 12 + (int(label[6]) - 1) * 3
        else:
            out[i] = (year - 1970) * 12 + int(label[5:7]) - 1
    return out


def _cohort_label(ordinal, cohort: str) -> str:
    from kit.movements import period_label

    return period_label(int(ordinal), cohort)


def cross_sell_matrix(ledger: Ledger, *, period: str = "month", reactivation_window: int | None = None) -> pd.DataFrame:
    """
    Count products added by existing customers, by product already held.

    For every customer active at both ends of a period that starts paying for a product
    it did not pay for at the start, each product it held at the start gets one count in
    row *held*, column *added*. Returns a square-ish DataFrame (index: product held,
    columns: product added) of customer · period counts.
    """
    products = list(ledger.frame["product"].cat.categories)
    counts = np.zeros((len(products), len(products)), dtype=np.int64)
    for arrays in walk(ledger, period=period, reactivation_window=reactivation_window, products=True):
        customer, product, s, e = arrays.products
        frame = pd.DataFrame({"c": customer, "p": product, "s": s, "e": e})
        held = frame.loc[frame["s"] > 0, ["c", "p"]]
        added = frame.loc[(frame["s"] == 0) & (frame["e"] > 0), ["c", "p"]]
        pairs = held.merge(added, on="c", suffixes=("_held", "_added"))
        np.add.at(counts, (pairs["p_held"].to_numpy(), pairs["p_added"].to_numpy()), 1)
    return pd.DataFrame(counts, index=pd.Index(products, name="held"), columns=pd.Index(products, name="added"))


def upgrade_paths(movements: pd.DataFrame, ledger: Ledger, *, column: str = "plan") -> pd.DataFrame:
    """
    Count plan changes of customers active at both ends of a period.

    Uses each customer's ``column`` value (the ledger keeps one per customer · month: its
    largest row's) at the start and the end of the period. Only customers holding the same
    products at both ends count, so a plan that changes because a product was added or
    dropped (a cross-sell, a contraction) is not read as an upgrade. Returns ``from_plan,
    to_plan, customers, mrr_change`` (the customers' MRR change over those periods) sorted
    by customers, or an empty frame when the ledger has no such column. ``movements`` follows
    :class:`kit.contracts.Movements` (its columns are checked).
    """
    _contracts().require(movements, "movements", ["customer_id", "period", "mrr_start", "mrr_end"],
                         function="upgrade_paths")  # fmt: skip
    empty = pd.DataFrame(columns=["from_plan", "to_plan", "customers", "mrr_change"])
    if column not in ledger.attributes:
        return empty
    frame = ledger.frame.loc[ledger.frame["mrr_cents"] > 0]
    keys = pd.DataFrame({"customer_id": frame["customer_id"].astype(str).to_numpy(),
                         "label": frame["month"].astype(str).to_numpy(),
                         "product": frame["product"].astype(str).to_numpy(),
                         "plan": frame[column].astype(str).to_numpy()})  # fmt: skip
    per_month = keys.groupby(["customer_id", "label"], sort=False).agg(
        plan=("plan", "first"), products=("product", lambda p: "\x1f".join(sorted(set(p)))))
    moves = movements.loc[(movements["mrr_start"] > 0) & (movements["mrr_end"] > 0)]
    if moves.empty:
        return empty
    labels = moves["period"].astype(str)
    ends = _label_end_month(labels)
    customers = moves["customer_id"].astype(str).to_numpy()
    before = per_month.reindex(pd.MultiIndex.from_arrays(
        [customers, [_ordinal_label(o) for o in _previous_end(labels, ends)]]))  # fmt: skip
    after = per_month.reindex(pd.MultiIndex.from_arrays([customers, [_ordinal_label(o) for o in ends]]))
    table = pd.DataFrame({"from_plan": before["plan"].to_numpy(), "to_plan": after["plan"].to_numpy(),
                          "mrr_change": (moves["mrr_end"] - moves["mrr_start"]).to_numpy()})  # fmt: skip
    same_products = before["products"].to_numpy() == after["products"].to_numpy()
    table = table.loc[same_products & (table["from_plan"] != table["to_plan"]).to_numpy()]
    out = table.groupby(["from_plan", "to_plan"]).agg(customers=("mrr_change", "size"), mrr_change=("mrr_change", "sum"))
    return out.reset_index().sort_values(["customers", "mrr_change"], ascending=False).reset_index(drop=True)


def last_month_label(period: str) -> str:
    """
    The last month of a period label, as ``YYYY-MM``.

    >>> last_month_label("2025-Q2"), last_month_label("2024"), last_month_label("2024-03")
    ('2025-06', '2024-12', '2024-03')
    """
    return _ordinal_label(int(_label_end_month(pd.Series([period]))[0]))


def _label_end_month(labels: pd.Series) -> np.ndarray:
    starts = _label_start_month(labels)
    sizes = np.array([12 if len(x) == 4 else 3 if x[5] == "Q" else 1 for x in labels.to_numpy()], dtype=np.int64)
    return starts + sizes - 1


def _previous_end(labels: pd.Series, ends: np.ndarray) -> np.ndarray:
    sizes = np.array([12 if len(x) == 4 else 3 if x[5] == "Q" else 1 for x in labels.to_numpy()], dtype=np.int64)
    return ends - sizes


def _ordinal_label(ordinal) -> str:
    return f"{1970 + int(ordinal) // 12}-{int(ordinal) % 12 + 1:02d}"


def top_expanders(movements: pd.DataFrame, *, n: int = 10, periods: list[str] | None = None,
                  label: str | None = None) -> pd.DataFrame:  # fmt: skip
    """
    Rank customers by expansion MRR over ``periods`` (default: all).

    Returns ``customer_id`` (and ``label`` column, e.g. a customer name, if given),
    ``expansion, upsell, cross_sell, periods_expanded`` and ``share`` of all expansion in
    those periods; the top ``n`` rows. ``movements`` follows :class:`kit.contracts.Movements` (its columns are
    checked).
    """
    _contracts().require(movements, "movements", ["customer_id", None if periods is None else "period", "upsell",
                                                  "cross_sell", "expansion", label],
                         function="top_expanders")  # fmt: skip
    moves = movements if periods is None else movements.loc[movements["period"].astype(str).isin(periods)]
    moves = moves.loc[moves["expansion"] > 0]
    keys = ["customer_id", label] if label else ["customer_id"]
    out = moves.groupby(keys, observed=True).agg(
        expansion=("expansion", "sum"), upsell=("upsell", "sum"), cross_sell=("cross_sell", "sum"),
        periods_expanded=("expansion", "size"),
    )  # fmt: skip
    out["share"] = ratio(out["expansion"], np.full(len(out), out["expansion"].sum()))
    out = out.reset_index().sort_values(["expansion", "customer_id"], ascending=[False, True], kind="stable")
    return out.head(n).reset_index(drop=True)


def concentration(movements: pd.DataFrame, *, top: float = 0.10) -> pd.DataFrame:
    """
    Measure the share of expansion MRR from the top ``top`` fraction of expanders, per period.

    Expanders are customers with expansion above zero in the period; the top group is
    the ``ceil(top × expanders)`` largest. Returns ``period, expanders, top_expanders,
    expansion, top_expansion, top_share`` (NaN where no customer expanded). ``movements`` follows
    :class:`kit.contracts.Movements` (its columns are checked).
    """
    _contracts().require(movements, "movements", ["period", "expansion"], function="concentration")
    records = []
    for label, group in movements.groupby("period", observed=False, sort=True):
        values = np.sort(group.loc[group["expansion"] > 0, "expansion"].to_numpy())[::-1]
        k = math.ceil(top * len(values))
        records.append({"period": str(label), "expanders": len(values), "top_expanders": k,
                        "expansion": int(values.sum()), "top_expansion": int(values[:k].sum())})  # fmt: skip
    out = pd.DataFrame(records, columns=["period", "expanders", "top_expanders", "expansion", "top_expansion"])
    out["top_share"] = ratio(out["top_expansion"], out["expansion"])
    return out


def trailing_nrr(ledger: Ledger, *, months: int = 12) -> pd.DataFrame:
    """
    Compute trailing-twelve-month NRR per month.

    For each month ``t`` with a month ``t − 12`` in the window: the MRR at ``t`` of the
    customers active at ``t − 12``, over their MRR at ``t − 12`` (customers who left
    count as zero; new customers since are not included). Returns ``month,
    mrr_base, mrr_now, nrr``.
    """
    per = ledger.frame.groupby(["customer_id", "month"], observed=True)["mrr_cents"].sum().reset_index()
    per["m"] = per["month"].array.asi8
    later = per[["customer_id", "m", "mrr_cents"]].assign(m=per["m"] - months)
    joined = per[["customer_id", "m", "mrr_cents"]].merge(later, on=["customer_id", "m"], how="left",
                                                          suffixes=("_base", "_now"))  # fmt: skip
    joined["mrr_cents_now"] = joined["mrr_cents_now"].fillna(0).astype(np.int64)
    first, last = ledger.first_month.ordinal, ledger.last_month.ordinal
    base_months = np.arange(first, last - months + 1)
    sums = joined.groupby("m")[["mrr_cents_base", "mrr_cents_now"]].sum().reindex(base_months, fill_value=0)
    out = pd.DataFrame({
        "month": [_ordinal_label(m + months) for m in base_months],
        "mrr_base": sums["mrr_cents_base"].to_numpy(dtype=np.int64),
        "mrr_now": sums["mrr_cents_now"].to_numpy(dtype=np.int64),
    })  # fmt: skip
    out["nrr"] = ratio(out["mrr_now"], out["mrr_base"])
    return out


def between(table: pd.DataFrame, start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """
    Keep the rows of a per-period table from ``start`` to ``end`` (period labels, inclusive).

    >>> t = pd.DataFrame({"period": ["2024-01", "2024-02", "2024-03"]})
    >>> between(t, "2024-02")["period"].tolist()
    ['2024-02', '2024-03']
    """
    labels = table["period"].astype(str)
    keep = pd.Series(True, index=table.index)
    if start:
        keep &= labels >= start
    if end:
        keep &= labels <= end
    return table.loc[keep].reset_index(drop=True)
