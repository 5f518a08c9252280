"""
From movements (and the ledger) to the tables around the summary: cohorts, cross-sell, upgrades, expanders.

Each function takes a frame (or the ledger) first and options as keywords, and returns a new
frame; none mutates its input. Money is in integer cents; a rate whose denominator is zero is
NaN (:func:`kit.rules.ratio`).

==================  =====================  ===================================================
function            takes                  returns
==================  =====================  ===================================================
cohorts             ledger, movements      cohort · age: starting MRR, expansion, NRR
cross_sell_matrix   ledger                 product held × product added: customer · periods
upgrade_paths       movements, ledger      from_plan · to_plan: customers, MRR change
top_expanders       movements              the customers with most expansion, and their share
concentration       movements              per period: the share of the top 10% of expanders
trailing_nrr        ledger                 per month: NRR over the twelve months before
==================  =====================  ===================================================

Periods are read as integers (:mod:`kit.periods`); a label is made only for the output.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from kit.display import tag
from kit.errors import ParameterError
from kit.ledger import Ledger
from kit.movements import walk
from kit.periods import GRAINS, end_months, grain_of, labels_of, month_label, period_of, select, sizes, start_months
from kit.periods import label as period_label
from kit.rules import check_count, ratio


def _contracts():
    """Import the frame contracts (:mod:`kit.contracts`) on first use: pandera's import takes a tenth of a second."""
    from kit import contracts

    return contracts


def cohorts(ledger: Ledger, movements: pd.DataFrame, *, cohort: str | None = None) -> pd.DataFrame:
    """
    Measure expansion and NRR by signup cohort and periods since signup.

    A customer's cohort is the period (of the movements' grain) holding its first active
    month in the ledger (for snapshots, customers already active in the first month are
    that month's cohort: their true start is unknown). Returns ``cohort, age, mrr_start,
    expansion, contraction, churn, nrr, expansion_mrr_rate, customers_start,
    customers_expanded, customer_expansion_rate`` (customers expanded: net class
    expansion, as in the summary; the rate is over ``customers_start``); ``age``
    counts periods from the cohort's period. ``cohort``, when given, must name the grain of
    the movements: summing monthly movements into quarterly cells would count a customer's
    starting MRR three times. ``movements`` follows :class:`kit.contracts.Movements` (its columns are checked).

    Parameters
    ----------
    ledger : Ledger
        The ledger the movements come from. The two may also be passed the other way
        round, ``cohorts(movements, ledger)`` (the order of :func:`upgrade_paths`): the
        ledger is told by its type.
    movements : DataFrame
        Output of :func:`kit.movements.movements`.
    cohort : {"month", "quarter", "year"}, optional
        The grain of the cohorts; default: that of the movements.

    Returns
    -------
    DataFrame
        One row per cohort · age, sorted.

    Raises
    ------
    ParameterError
        ``movements`` lacks the columns read, or its grain is not ``cohort``'s.

    Examples
    --------
    >>> import datetime, kit
    >>> rows = [("a", "P", "2024-01", "10"), ("a", "P", "2024-02", "15"), ("a", "Q", "2024-02", "5"),
    ...         ("b", "P", "2024-02", "8"), ("c", "P", "2024-01", "4")]
    >>> frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr"])
    >>> ledger = kit.load_ledger(frame, kind="snapshots", today=datetime.date(2026, 11, 24))
    >>> cohorts(ledger, kit.movements(ledger))[["cohort", "age", "mrr_start", "expansion", "churn"]]
        cohort  age  mrr_start  expansion  churn
    0  2024-01    1       1400       1000    400
    """
    ledger, movements = _ledger_first(ledger, movements)
    _contracts().require(movements, "movements", ["customer_id", "period", "class", "mrr_start", "expansion",
                                                  "contraction", "churn"], function="cohorts")  # fmt: skip
    grain = _grain(movements["period"].astype(str))
    cohort = cohort or grain or "month"
    if cohort not in GRAINS:
        raise ParameterError(f"cohort must be one of {', '.join(GRAINS)}, not {cohort!r}")
    if grain and grain != cohort:
        raise ParameterError(f"cohorts by {cohort} need movements by {cohort}, not by {grain}")
    first = ledger.frame.groupby("customer_id", observed=True)["month"].min()
    cohort_ordinal = period_of(first.array.asi8, cohort)
    cohort_of = pd.Series(cohort_ordinal, index=first.index.astype(str))
    moves = movements.loc[movements["mrr_start"] > 0]
    period_labels = moves["period"].astype(str)
    period_start = start_months(period_labels)
    c_ord = cohort_of.reindex(moves["customer_id"].astype(str)).to_numpy()
    age = period_of(period_start, cohort) - c_ord
    frame = pd.DataFrame({
        "cohort": [period_label(int(o), cohort) for o in c_ord],
        "age": age.astype(np.int64),
        "mrr_start": moves["mrr_start"].to_numpy(),
        "expansion": moves["expansion"].to_numpy(),
        "contraction": moves["contraction"].to_numpy(),
        "churn": moves["churn"].to_numpy(),
        "customers_start": 1,
        "customers_expanded": (moves["class"] == "expansion").to_numpy(dtype=np.int64),
    })  # fmt: skip
    out = frame.groupby(["cohort", "age"], sort=True).sum().reset_index()
    out["nrr"] = ratio(out["mrr_start"] + out["expansion"] - out["contraction"] - out["churn"], out["mrr_start"])
    out["expansion_mrr_rate"] = ratio(out["expansion"], out["mrr_start"])
    expanded = out.pop("customers_expanded")
    out["customers_expanded"] = expanded
    out["customer_expansion_rate"] = ratio(out["customers_expanded"], out["customers_start"])
    return tag(out, "cohorts", ledger)  # a notebook displays it formatted (kit.display)


def by_age(ledger: Ledger, movements: pd.DataFrame) -> pd.DataFrame:
    """
    Measure expansion by customer age: periods since the customer's first active month, all cohorts added.

    The :func:`cohorts` table summed over cohorts, so its cells add up to it exactly. With
    monthly movements ``age`` is the months since the first payment (1: the month after
    it); as in :func:`cohorts`, a snapshot customer already active in the ledger's first
    month is counted from that month (its true start is unknown). Returns ``age,
    mrr_start, expansion, contraction, churn, nrr, expansion_mrr_rate, customers_start,
    customers_expanded, customer_expansion_rate``.

    Parameters
    ----------
    ledger : Ledger
        The ledger the movements come from (either argument order is accepted).
    movements : DataFrame
        Output of :func:`kit.movements.movements`; its grain is the unit of ``age``.

    Returns
    -------
    DataFrame
        One row per age, sorted; a rate with a zero denominator is NaN.

    Raises
    ------
    ParameterError
        ``movements`` lacks the columns read.

    Examples
    --------
    >>> import datetime, kit
    >>> rows = [("a", "P", "2024-01", "10"), ("a", "P", "2024-02", "15"), ("b", "P", "2024-02", "8"),
    ...         ("b", "P", "2024-03", "9"), ("a", "P", "2024-03", "15")]
    >>> frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr"])
    >>> ledger = kit.load_ledger(frame, kind="snapshots", today=datetime.date(2026, 11, 24))
    >>> by_age(ledger, kit.movements(ledger))[["age", "customers_start", "customers_expanded", "expansion"]]
       age  customers_start  customers_expanded  expansion
    0    1                2                   2        600
    1    2                1                   0          0
    """
    table = cohorts(ledger, movements)
    ledger = ledger if isinstance(ledger, Ledger) else movements  # as cohorts() told them apart
    sums = ["mrr_start", "expansion", "contraction", "churn", "customers_start", "customers_expanded"]
    out = table.groupby("age", sort=True)[sums].sum().reset_index()
    out.insert(
        5, "nrr", ratio(out["mrr_start"] + out["expansion"] - out["contraction"] - out["churn"], out["mrr_start"])
    )
    out.insert(6, "expansion_mrr_rate", ratio(out["expansion"], out["mrr_start"]))
    out["customer_expansion_rate"] = ratio(out["customers_expanded"], out["customers_start"])
    return tag(out, "by_age", ledger)


def _ledger_first(first, second) -> tuple[Ledger, pd.DataFrame]:
    """Return ``(ledger, movements)`` from the two, given in either order (the ledger told by its type)."""
    return (second, first) if isinstance(second, Ledger) and not isinstance(first, Ledger) else (first, second)


def _grain(labels: pd.Series) -> str | None:
    """
    Return the period grain of labels: ``2024`` year, ``2024-Q1`` quarter, ``2024-01`` month.

    >>> _grain(pd.Series(["2024-Q1", "2024-Q2"])), _grain(pd.Series([], dtype=str))
    ('quarter', None)
    """
    return None if labels.empty else grain_of(str(labels.iloc[0]))


def cross_sell_matrix(ledger: Ledger, *, period: str = "month", reactivation_window: int | None = None,
                      values: str = "customers") -> pd.DataFrame:  # fmt: skip
    """
    Count products added by existing customers, by product already held, and the MRR they added.

    For every customer active at both ends of a period that starts paying for a product
    it did not pay for at the start, each product it held at the start gets one count in
    row *held*, column *added*, and the added product's MRR at the end of the period (its
    gross cross-sell ``e_p``, as under ``netting="product"``) in the same cell of the MRR
    matrix. Returns a square-ish DataFrame (index: product held, columns: product added).
    A customer holding two products who adds a third counts (and adds its MRR) in both
    rows, so a column's MRR can exceed the cross-sell of the summary.

    Parameters
    ----------
    ledger : Ledger
        Output of :func:`kit.load_ledger`.
    period : {"month", "quarter", "year"}
        The grain of the periods.
    reactivation_window : int, optional
        Most inactive periods in a row after which a return still counts as reactivation.
    values : {"customers", "mrr_added", "both"}
        The customer · period counts (default), the MRR added in integer cents, or both
        beside each other: a long frame ``held, added, customers, mrr_added`` of the pairs
        with a count, sorted by MRR added (largest first).

    Returns
    -------
    DataFrame
        One row and one column per product of the ledger (``values="both"``: one row per pair).

    Raises
    ------
    ParameterError
        A period, reactivation window or ``values`` out of its choices.

    Examples
    --------
    >>> import datetime, kit
    >>> rows = [("a", "P", "2024-01", "10"), ("a", "P", "2024-02", "15"), ("a", "Q", "2024-02", "5"),
    ...         ("b", "P", "2024-02", "8"), ("c", "P", "2024-01", "4")]
    >>> frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr"])
    >>> ledger = kit.load_ledger(frame, kind="snapshots", today=datetime.date(2026, 11, 24))
    >>> matrix = cross_sell_matrix(ledger)  # a, holding P, added Q in 2024-02
    >>> matrix.index.tolist(), matrix.columns.tolist(), matrix.values.tolist()
    (['P', 'Q'], ['P', 'Q'], [[0, 1], [0, 0]])
    >>> cross_sell_matrix(ledger, values="both")
      held added  customers  mrr_added
    0    P     Q          1        500
    """
    if values not in _MATRIX_VALUES:
        raise ParameterError(f"values must be one of {', '.join(_MATRIX_VALUES)}, not {values!r}")
    products, counts, mrr = _cross_sell_cells(ledger, period, reactivation_window)
    if values != "both":
        return _matrix(ledger, products, counts if values == "customers" else mrr, values)
    return _pairs(ledger, products, counts, mrr)


def cross_sell_tables(ledger: Ledger, *, period: str = "month",
                      reactivation_window: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """
    Return ``cross_sell_matrix(values="customers")`` and ``cross_sell_matrix(values="both")`` from one walk.

    The report shows the first and its workbook writes both; the ledger is walked once for them.

    >>> import datetime, kit
    >>> frame = pd.DataFrame([("a", "P", "2024-01", "10"), ("a", "P", "2024-02", "15"), ("a", "Q", "2024-02", "5")],
    ...                      columns=["customer_id", "product", "month", "mrr"])
    >>> matrix, pairs = cross_sell_tables(kit.load_ledger(frame, kind="snapshots", today=datetime.date(2026, 11, 24)))
    >>> matrix.values.tolist(), pairs[["held", "added", "customers", "mrr_added"]].values.tolist()
    ([[0, 1], [0, 0]], [['P', 'Q', 1, 500]])
    """
    products, counts, mrr = _cross_sell_cells(ledger, period, reactivation_window)
    return _matrix(ledger, products, counts, "customers"), _pairs(ledger, products, counts, mrr)


def _cross_sell_cells(ledger: Ledger, period: str, reactivation_window: int | None):
    """Walk the ledger once: the products, and per held · added pair the customers and the MRR added."""
    products = list(ledger.frame["product"].cat.categories)
    counts = np.zeros((len(products), len(products)), dtype=np.int64)
    mrr = np.zeros((len(products), len(products)), dtype=np.int64)
    for arrays in walk(ledger, period=period, reactivation_window=reactivation_window, products=True):
        customer, product, s, e = arrays.products[:4]
        frame = pd.DataFrame({"c": customer, "p": product, "s": s, "e": e})
        held = frame.loc[frame["s"] > 0, ["c", "p"]]
        added = frame.loc[(frame["s"] == 0) & (frame["e"] > 0), ["c", "p", "e"]]
        pairs = held.merge(added, on="c", suffixes=("_held", "_added"))
        cells = (pairs["p_held"].to_numpy(), pairs["p_added"].to_numpy())
        np.add.at(counts, cells, 1)
        np.add.at(mrr, cells, pairs["e"].to_numpy(dtype=np.int64))
    return products, counts, mrr


def _matrix(ledger: Ledger, products: list, cells: np.ndarray, values: str) -> pd.DataFrame:
    """Return the square matrix, products held in rows, added in columns."""
    index, columns = pd.Index(products, name="held"), pd.Index(products, name="added")
    matrix = pd.DataFrame(cells, index=index, columns=columns)
    return tag(matrix, "cross_sell_matrix", ledger, kinds={"*": "count" if values == "customers" else "money"})


def _pairs(ledger: Ledger, products: list, counts: np.ndarray, mrr: np.ndarray) -> pd.DataFrame:
    """Return the long table: one row per pair made, most MRR first."""
    held, added = np.nonzero(counts)
    out = pd.DataFrame({"held": [products[i] for i in held], "added": [products[j] for j in added],
                        "customers": counts[held, added], "mrr_added": mrr[held, added]})  # fmt: skip
    out = out.sort_values(["mrr_added", "customers", "held", "added"], ascending=[False, False, True, True])
    return tag(out.reset_index(drop=True), "cross_sell_pairs", ledger)


_MATRIX_VALUES = ("customers", "mrr_added", "both")


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

    Parameters
    ----------
    movements : DataFrame
        Output of :func:`kit.movements.movements`. The two may also be passed the other
        way round, ``upgrade_paths(ledger, movements)`` (the order of :func:`cohorts`):
        the ledger is told by its type.
    ledger : Ledger
        The ledger the movements come from.
    column : str
        The attribute holding the plan.

    Returns
    -------
    DataFrame
        ``from_plan, to_plan, customers, mrr_change``, most customers first (empty when the
        ledger has no ``column``).

    Raises
    ------
    ParameterError
        ``movements`` lacks the columns read (money as int64).

    Examples
    --------
    >>> import datetime, kit
    >>> rows = [("a", "P", "2024-01", "10"), ("a", "P", "2024-02", "15"), ("a", "Q", "2024-02", "5"),
    ...         ("b", "P", "2024-02", "8"), ("c", "P", "2024-01", "4")]
    >>> frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr"])
    >>> ledger = kit.load_ledger(frame, kind="snapshots", today=datetime.date(2026, 11, 24))
    >>> upgrade_paths(kit.movements(ledger), ledger).columns.tolist()  # this ledger has no plan column
    ['from_plan', 'to_plan', 'customers', 'mrr_change']
    """
    ledger, movements = _ledger_first(movements, ledger)
    _contracts().require(movements, "movements", ["customer_id", "period", "mrr_start", "mrr_end"],
                         function="upgrade_paths")  # fmt: skip
    empty = tag(pd.DataFrame(columns=["from_plan", "to_plan", "customers", "mrr_change"]), "upgrade_paths", ledger)
    if column not in ledger.attributes:
        return empty
    frame = ledger.frame.loc[ledger.frame["mrr_cents"] > 0]
    keys = pd.DataFrame({"customer_id": frame["customer_id"].astype(str).to_numpy(),
                         "label": frame["month"].astype(str).to_numpy(),
                         "product": frame["product"].astype(str).to_numpy(),
                         "plan": frame[column].astype(str).to_numpy()})  # fmt: skip
    per_month = keys.groupby(["customer_id", "label"], sort=False).agg(
        plan=("plan", "first"), products=("product", lambda p: "\x1f".join(sorted(set(p))))
    )
    moves = movements.loc[(movements["mrr_start"] > 0) & (movements["mrr_end"] > 0)]
    if moves.empty:
        return empty
    labels = moves["period"].astype(str)
    ends = end_months(labels)
    customers = moves["customer_id"].astype(str).to_numpy()
    before = per_month.reindex(pd.MultiIndex.from_arrays(
        [customers, [month_label(o) for o in ends - sizes(labels)]]))  # fmt: skip
    after = per_month.reindex(pd.MultiIndex.from_arrays([customers, [month_label(o) for o in ends]]))
    table = pd.DataFrame({"from_plan": before["plan"].to_numpy(), "to_plan": after["plan"].to_numpy(),
                          "mrr_change": (moves["mrr_end"] - moves["mrr_start"]).to_numpy()})  # fmt: skip
    same_products = before["products"].to_numpy() == after["products"].to_numpy()
    table = table.loc[same_products & (table["from_plan"] != table["to_plan"]).to_numpy()]
    out = table.groupby(["from_plan", "to_plan"]).agg(customers=("mrr_change", "size"),
                                                      mrr_change=("mrr_change", "sum"))  # fmt: skip
    out = out.reset_index().sort_values(["customers", "mrr_change"], ascending=False).reset_index(drop=True)
    return tag(out, "upgrade_paths", ledger)


def top_expanders(movements: pd.DataFrame, *, n: int = 10, periods=None,
                  label: str | None = None) -> pd.DataFrame:  # fmt: skip
    """
    Rank customers by expansion MRR over ``periods`` (default: all).

    Returns ``customer_id`` (and ``label`` column, e.g. a customer name, if given),
    ``expansion, upsell, cross_sell, periods_expanded`` and ``share`` of all expansion in
    those periods; the top ``n`` rows. ``movements`` follows :class:`kit.contracts.Movements` (its columns are
    checked).

    Parameters
    ----------
    movements : DataFrame
        Output of :func:`kit.movements.movements`.
    n : int
        Rows kept.
    periods : str, Period or list of them, optional
        Period labels of the movements' grain (``"2025-Q4"`` or ``["2025-Q3", "2025-Q4"]``);
        one of another grain, or not among the movements' periods, is a
        :class:`~kit.errors.ParameterError` naming the valid range.
    label : str, optional
        A column of the movements to keep beside each customer.

    Returns
    -------
    DataFrame
        Sorted by expansion (largest first), then customer.

    Raises
    ------
    ParameterError
        ``movements`` lacks the columns read (``period`` only when ``periods`` is given, ``label``
        when given); a label of ``periods`` is of another grain or not among the movements' periods.

    Examples
    --------
    >>> import datetime, kit
    >>> rows = [("a", "P", "2024-01", "10"), ("a", "P", "2024-02", "15"), ("a", "Q", "2024-02", "5"),
    ...         ("b", "P", "2024-02", "8"), ("c", "P", "2024-01", "4")]
    >>> frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr"])
    >>> ledger = kit.load_ledger(frame, kind="snapshots", today=datetime.date(2026, 11, 24))
    >>> top_expanders(kit.movements(ledger), periods=["2024-02"])
      customer_id  expansion  upsell  cross_sell  periods_expanded  share
    0           a       1000     500         500                 1    1.0
    """
    _contracts().require(movements, "movements", ["customer_id", None if periods is None else "period", "upsell",
                                                  "cross_sell", "expansion", label],
                         function="top_expanders")  # fmt: skip
    check_count(n, "n", "customers")
    if periods is None:
        moves = movements
    else:
        wanted = select(periods, labels_of(movements["period"]), name="periods")
        if not wanted:
            raise ParameterError(
                "periods was given none: pass a label such as '2025-Q4', a list of them, or None for all"
            )
        moves = movements.loc[movements["period"].astype(str).isin(wanted).to_numpy()]
    moves = moves.loc[moves["expansion"] > 0]
    keys = ["customer_id", label] if label else ["customer_id"]
    out = moves.groupby(keys, observed=True).agg(
        expansion=("expansion", "sum"), upsell=("upsell", "sum"), cross_sell=("cross_sell", "sum"),
        periods_expanded=("expansion", "size"),
    )  # fmt: skip
    out["share"] = ratio(out["expansion"], np.full(len(out), out["expansion"].sum()))
    out = out.reset_index().sort_values(["expansion", "customer_id"], ascending=[False, True], kind="stable")
    return tag(out.head(n).reset_index(drop=True), "top_expanders", movements)


def concentration(movements: pd.DataFrame, *, top: float = 0.10) -> pd.DataFrame:
    """
    Measure the share of expansion MRR from the top ``top`` fraction of expanders, per period.

    Expanders are customers with expansion above zero in the period; the top group is
    the ``ceil(top × expanders)`` largest. Returns ``period, expanders, top_expanders,
    expansion, top_expansion, top_share`` (NaN where no customer expanded). ``movements`` follows
    :class:`kit.contracts.Movements` (its columns are checked).

    Parameters
    ----------
    movements : DataFrame
        Output of :func:`kit.movements.movements`.
    top : float
        The fraction of expanders in the top group.

    Returns
    -------
    DataFrame
        One row per period of the movements.

    Raises
    ------
    ParameterError
        ``movements`` lacks ``period`` or ``expansion`` (as int64).

    Examples
    --------
    >>> import datetime, kit
    >>> rows = [("a", "P", "2024-01", "10"), ("a", "P", "2024-02", "15"), ("a", "Q", "2024-02", "5"),
    ...         ("b", "P", "2024-02", "8"), ("c", "P", "2024-01", "4")]
    >>> frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr"])
    >>> ledger = kit.load_ledger(frame, kind="snapshots", today=datetime.date(2026, 11, 24))
    >>> concentration(kit.movements(ledger))
        period  expanders  top_expanders  expansion  top_expansion  top_share
    0  2024-02          1              1       1000           1000        1.0
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
    return tag(out, "concentration", movements)


def trailing_nrr(ledger: Ledger, *, months: int = 12) -> pd.DataFrame:
    """
    Compute trailing-twelve-month NRR per month.

    For each month ``t`` with a month ``t − 12`` in the window: the MRR at ``t`` of the
    customers active at ``t − 12``, over their MRR at ``t − 12`` (customers who left
    count as zero; new customers since are not included). Returns ``month,
    mrr_base, mrr_now, nrr``.

    Parameters
    ----------
    ledger : Ledger
        Output of :func:`kit.load_ledger`.
    months : int
        The distance in months (12: trailing twelve months).

    Returns
    -------
    DataFrame
        One row per month that has a month ``months`` earlier in the window.

    Examples
    --------
    >>> import datetime, kit
    >>> rows = [("a", "P", "2024-01", "10"), ("a", "P", "2024-02", "15"), ("a", "Q", "2024-02", "5"),
    ...         ("b", "P", "2024-02", "8"), ("c", "P", "2024-01", "4")]
    >>> frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr"])
    >>> ledger = kit.load_ledger(frame, kind="snapshots", today=datetime.date(2026, 11, 24))
    >>> trailing_nrr(ledger, months=1)[["month", "mrr_base", "mrr_now"]]
         month  mrr_base  mrr_now
    0  2024-02      1400     2000
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
        "month": [month_label(m + months) for m in base_months],
        "mrr_base": sums["mrr_cents_base"].to_numpy(dtype=np.int64),
        "mrr_now": sums["mrr_cents_now"].to_numpy(dtype=np.int64),
    })  # fmt: skip
    out["nrr"] = ratio(out["mrr_now"], out["mrr_base"])
    return tag(out, "trailing_nrr", ledger)
