"""
From the ledger to movements: one row per customer · period, classified and measured.

The definitions are in :func:`movements`' docstring (its Notes, which
``help(kit.movements)`` shows) and in ``docs/definitions.md``, "Movements".

Everything here is customer-local: the movements of one customer depend on its rows only,
so any split of the customers gives the same movements (see :func:`split_customers`).
The walk runs period by period over dense per-customer integer arrays; no string is
hashed and no join is made.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kit.display import tag
from kit.errors import KitError, ParameterError
from kit.ledger import Ledger
from kit.periods import GRAINS, MONTHS_PER, PeriodPlan, plan_buckets, plan_periods  # noqa: F401  (MONTHS_PER: re-exported)
from kit.periods import label as period_label  # noqa: F401  (re-exported: the old name)
from kit.rules import AMOUNTS, CLASSES, bridge_end, check_exact  # noqa: F401  (re-exported: their old home)

PERIODS = GRAINS  # the old name
NETTINGS = ("customer", "product")


@dataclass
class _Codes:
    """The ledger as integer arrays, rows grouped by plan period (0 = baseline)."""

    customer: np.ndarray
    product: np.ndarray
    amount: np.ndarray
    bounds: np.ndarray  # rows of period k are order[bounds[k]:bounds[k + 1]]
    order: np.ndarray
    n_customers: int  # customer codes run from base to base + n_customers - 1
    n_products: int
    attributes: dict  # name -> (codes per row, categories)
    base: int = 0


def _codes(ledger: Ledger, plan: PeriodPlan, attributes: list[str]) -> _Codes:
    frame = ledger.frame
    months = frame["month"].array.asi8
    k = plan_buckets(plan, months)
    order = np.argsort(k, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(k, minlength=len(plan.end_months) + 1))])
    amount = frame["mrr_cents"].to_numpy(dtype=np.int64)
    check_exact(amount)
    attrs = {a: (frame[a].array.codes, frame[a].cat.categories) for a in attributes}  # views of the codes
    customer = frame["customer_id"].array.codes
    # a ledger of some customers only (a chunk) needs its per-customer arrays over their codes only
    base, top = (int(customer.min()), int(customer.max())) if len(customer) else (0, -1)
    return _Codes(
        customer=customer,
        product=frame["product"].array.codes,
        amount=amount,
        bounds=bounds[: len(plan.end_months) + 1],
        order=order,
        n_customers=top - base + 1,
        n_products=max(len(frame["product"].cat.categories), 1),
        attributes=attrs,
        base=base,
    )


@dataclass
class PeriodArrays:
    """
    Per-customer results of one period, for the customers active at its start or its end.

    Every array holds one value per customer of ``customers`` (customer codes, ascending);
    a customer not among them had no MRR at either end: flat, with every amount zero.
    """

    k: int
    customers: np.ndarray
    start: np.ndarray
    end: np.ndarray
    cls: np.ndarray  # index into CLASSES
    amounts: dict  # name in AMOUNTS -> int64 array
    segment: dict  # attribute -> codes (start value; end value for new and reactivated), -1 if none
    products: tuple | None  # (customer, product, s, e, row_s, row_e): see walk(products=)


@dataclass
class _PeriodRows:
    """The ledger rows of one period, sorted by customer and product, and their customers' totals."""

    idx: np.ndarray  # ledger rows
    c: np.ndarray  # customer code of each row
    key: np.ndarray  # customer · product key, ascending
    v: np.ndarray  # cents
    starts: np.ndarray  # first row of each customer
    who: np.ndarray  # the customers, ascending
    total: np.ndarray  # MRR of each customer


def check_reactivation_window(reactivation_window) -> None:
    """
    Raise a :class:`~kit.errors.ParameterError` unless the window is None or a whole number ≥ 0.

    Parameters
    ----------
    reactivation_window : int or None
        Most inactive periods in a row after which a return still counts as reactivation;
        None: no limit.

    Examples
    --------
    >>> check_reactivation_window(None), check_reactivation_window(3)
    (None, None)
    >>> check_reactivation_window(-1)
    Traceback (most recent call last):
    ...
    kit.errors.ParameterError: reactivation_window must be a whole number of periods ≥ 0, not -1
    """
    if reactivation_window is not None and (int(reactivation_window) != reactivation_window or reactivation_window < 0):
        raise ParameterError(f"reactivation_window must be a whole number of periods ≥ 0, not {reactivation_window!r}")


def within_window(inactive, reactivation_window: int | None):
    """
    Tell which returns after ``inactive`` periods in a row without MRR still count as reactivation.

    Parameters
    ----------
    inactive : ndarray of int
        Inactive periods in a row before each return.
    reactivation_window : int or None
        The window (None: any return is a reactivation).

    Returns
    -------
    ndarray of bool or True

    Examples
    --------
    >>> within_window(np.array([0, 2, 3]), 2).tolist(), within_window(np.array([9]), None)
    ([True, True, False], True)
    """
    return True if reactivation_window is None else inactive <= reactivation_window


def check_bridge(label: str, start: int, amounts: dict, end: int) -> None:
    """
    Check one period's MRR bridge: ``start + new + reactivation + upsell + cross_sell − contraction − churn = end``.

    Parameters
    ----------
    label : str
        The period, for the message.
    start, end : int
        MRR at the start and the end of the period, in cents.
    amounts : dict
        The cents of each name of :data:`AMOUNTS`.

    Raises
    ------
    KitError
        When the bridge does not reconcile (an internal error).

    Examples
    --------
    >>> check_bridge("2024-02", 100, {"new": 5, "reactivation": 0, "upsell": 0, "cross_sell": 0,
    ...                                "contraction": 0, "churn": 10}, 95)
    """
    flow = bridge_end(start, amounts)
    if flow != end:
        raise KitError(f"internal error: the MRR bridge of {label} does not reconcile ({flow} != {end})")


def walk(
    ledger: Ledger,
    *,
    period: str = "month",
    netting: str = "customer",
    reactivation_window: int | None = None,
    attributes: list[str] | None = None,
    products: bool = False,
):
    """
    Yield :class:`PeriodArrays` for every row period of ``plan_periods(ledger, period)``.

    The engine behind :func:`movements` and :func:`kit.metrics.summarize`; use those.
    Each period costs work in proportion to its rows and active customers, never to all
    customers: per-customer state lives in arrays indexed by customer code that are only
    read and written at the customers of the period.

    Parameters
    ----------
    ledger : Ledger
    period : {"month", "quarter", "year"}
    netting : {"customer", "product"}
    reactivation_window : int, optional
    attributes : list of str, optional
        Ledger attributes whose codes each :class:`PeriodArrays` carries in ``segment``.
    products : bool or "all"
        Also yield product rows in ``PeriodArrays.products``: ``(customer, product, s, e, row_s,
        row_e)``, each product a customer held at either end, with its cents at the two ends and its
        ledger rows (positions in ``ledger.frame``; -1 where it was not held). ``True``: the
        customers active at both ends; ``"all"``: every customer active at either end.

    Yields
    ------
    PeriodArrays
        One per row period, in order.

    Examples
    --------
    >>> import datetime, kit
    >>> rows = [("a", "P", "2024-01", "10"), ("a", "P", "2024-02", "15"), ("a", "Q", "2024-02", "5"),
    ...         ("b", "P", "2024-02", "8"), ("c", "P", "2024-01", "4")]
    >>> frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr"])
    >>> ledger = kit.load_ledger(frame, kind="snapshots", today=datetime.date(2026, 11, 24))
    >>> [(arrays.k, int(arrays.start.sum()), int(arrays.end.sum())) for arrays in walk(ledger)]
    [(1, 1400, 2800)]
    """
    if netting not in NETTINGS:
        raise ParameterError(f"netting must be one of {', '.join(NETTINGS)}, not {netting!r}")
    check_reactivation_window(reactivation_window)
    plan = plan_periods(ledger, period)
    attributes = list(attributes or [])
    unknown = [a for a in attributes if a not in ledger.attributes]
    if unknown:
        raise ParameterError(
            f"unknown attribute {', '.join(unknown)}; the ledger has {', '.join(ledger.attributes) or 'none'}"
        )
    codes = _codes(ledger, plan, attributes)
    n, n_products = codes.n_customers, codes.n_products
    last_active = np.full(n, -1, dtype=np.int64)
    touched = np.zeros(n, dtype=bool)
    where = np.zeros(n, dtype=np.int64)  # position of a customer in this period's ``customers``

    def rows_of(k) -> _PeriodRows:
        idx = codes.order[codes.bounds[k] : codes.bounds[k + 1]]
        c = codes.customer[idx].astype(np.int64)
        if codes.base:
            c -= codes.base
        key = c * n_products + codes.product[idx]
        if len(key) > 1 and not bool(np.all(key[1:] >= key[:-1])):  # sorted already when the ledger is
            sort = np.argsort(key, kind="stable")
            idx, c, key = idx[sort], c[sort], key[sort]
        v = codes.amount[idx]
        first = np.ones(len(c), dtype=bool)
        np.not_equal(c[1:], c[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        total = np.add.reduceat(v, starts) if len(v) else np.zeros(0, dtype=np.int64)
        return _PeriodRows(idx, c, key, v, starts, c[starts], total)

    def per_customer(rows: _PeriodRows, values, size):
        """Sum row values by customer into an array over this period's customers."""
        out = np.zeros(size, dtype=np.int64)
        if len(values):
            out[where[rows.who]] = np.add.reduceat(values, rows.starts)
        return out

    def attribute_codes(rows: _PeriodRows, size):
        out = {}
        for name, (row_codes, _) in codes.attributes.items():
            arr = np.full(size, -1, dtype=np.int64)
            arr[where[rows.who]] = row_codes[rows.idx[rows.starts]]  # one customer's rows share attributes
            out[name] = arr
        return out

    prev = rows_of(0)
    last_active[prev.who] = 0
    for k in range(1, len(plan.end_months)):
        cur = rows_of(k)
        touched[prev.who] = True
        touched[cur.who] = True
        customers = np.flatnonzero(touched)
        touched[customers] = False
        size = len(customers)
        where[customers] = np.arange(size)
        at_prev, at_cur = where[prev.who], where[cur.who]
        start = np.zeros(size, dtype=np.int64)
        start[at_prev] = prev.total
        end = np.zeros(size, dtype=np.int64)
        end[at_cur] = cur.total
        was, now = start > 0, end > 0
        both = was & now
        returning = ~was & now
        seen_at = last_active[customers]
        seen = seen_at >= 0
        seen &= within_window((k - 1) - seen_at, reactivation_window)
        is_react = returning & seen
        is_new = returning & ~seen
        is_churn = was & ~now
        grew = both & (end > start)
        shrank = both & (end < start)

        # product-level parts, on the sparse rows of both ends
        prev_key, prev_v = prev.key, prev.v
        if netting == "customer" and not products:
            # only the customers who grew need them (to split their expansion): only their rows
            owner = where[cur.c]
            rows = np.flatnonzero(grew[owner])
            owner = owner[rows]
            key, v, pos_c, held, s_p = _held_before(cur.key[rows], cur.v[rows], prev_key, prev_v)
            upsell_gross = _sum_by(owner, np.where(held & (v > s_p), v - s_p, 0), size)
            cross_gross = _sum_by(owner, np.where(~held, v, 0), size)
        else:
            c, key, v = cur.c, cur.key, cur.v
            key, v, pos_c, held, s_p = _held_before(key, v, prev_key, prev_v)
            upsell_gross = per_customer(cur, np.where(held & (v > s_p), v - s_p, 0), size)
            cross_gross = per_customer(cur, np.where(~held, v, 0), size)

        zero = np.zeros(size, dtype=np.int64)
        amounts = {
            "new": np.where(is_new, end, zero),
            "reactivation": np.where(is_react, end, zero),
            "churn": np.where(is_churn, start, zero),
        }
        if netting == "customer":
            diff = np.where(grew, end - start, zero)
            amounts["cross_sell"] = _split_cross_sell(diff, upsell_gross, cross_gross, grew)
            amounts["upsell"] = diff - amounts["cross_sell"]
            amounts["contraction"] = np.where(shrank, start - end, zero)
        else:
            down_rows = np.where(held & (v < s_p), s_p - v, 0)
            kept = np.zeros(len(prev_key), dtype=bool)
            kept[pos_c[held]] = True
            dropped_v = np.where(~kept, prev_v, 0)
            decrease = per_customer(cur, down_rows, size) + per_customer(prev, dropped_v, size)
            amounts["upsell"] = np.where(both, upsell_gross, zero)
            amounts["cross_sell"] = np.where(both, cross_gross, zero)
            amounts["contraction"] = np.where(both, decrease, zero)

        cls = np.zeros(size, dtype=np.int8)
        for code, mask in ((1, is_new), (2, is_react), (3, grew), (4, shrank), (5, is_churn)):
            cls[mask] = code
        segment = {}
        if attributes:
            start_attrs, end_attrs = attribute_codes(prev, size), attribute_codes(cur, size)
            segment = {a: np.where(was, start_attrs[a], end_attrs[a]) for a in attributes}
        product_rows = None
        if products:
            both_rows, both_prev_rows = both[where[c]], both[where[prev.c]]
            if products == "all":
                both_rows, both_prev_rows = np.ones(len(c), dtype=bool), np.ones(len(prev.c), dtype=bool)
            product_rows = _product_rows(c, key, v, s_p, held, prev.c, prev_key, prev_v, pos_c, both_rows,
                                         both_prev_rows, n_products, (cur.idx, prev.idx))  # fmt: skip
        check_bridge(plan.labels[k - 1], int(start.sum()), {name: int(amounts[name].sum()) for name in AMOUNTS},
                     int(end.sum()))  # fmt: skip
        if codes.base:  # back to the ledger's codes
            if product_rows is not None:
                product_rows = (product_rows[0] + codes.base, *product_rows[1:])
            yield PeriodArrays(k, customers + codes.base, start, end, cls, amounts, segment, product_rows)
        else:
            yield PeriodArrays(k, customers, start, end, cls, amounts, segment, product_rows)
        last_active[cur.who] = k
        prev = cur


def _held_before(key, v, prev_key, prev_v):
    """
    Match this period's rows (sorted keys) with the previous period's.

    Returns ``key, v``, the previous period's row of each key, whether there was one, and its cents.
    """
    pos = np.searchsorted(prev_key, key)
    pos_c = np.minimum(pos, max(len(prev_key) - 1, 0))
    held = (pos < len(prev_key)) & (prev_key[pos_c] == key) if len(prev_key) else np.zeros(len(key), bool)
    s_p = np.where(held, prev_v[pos_c] if len(prev_v) else 0, 0)
    return key, v, pos_c, held, s_p


def _sum_by(owner: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Sum integer values by owner (0 … size − 1); exact, as the ledger's total is below 2**53."""
    return np.bincount(owner, weights=values, minlength=size).astype(np.int64)


def _split_cross_sell(diff, upsell_gross, cross_gross, grew) -> np.ndarray:
    """cross_sell = D·X // (U + X) in integers; Python integers where int64 could overflow."""
    total = upsell_gross + cross_gross
    out = np.zeros(len(diff), dtype=np.int64)
    mask = grew & (cross_gross > 0)
    safe = mask & (diff < 2**31) & (cross_gross < 2**31)
    out[safe] = diff[safe] * cross_gross[safe] // total[safe]
    for i in np.flatnonzero(mask & ~safe):
        out[i] = int(diff[i]) * int(cross_gross[i]) // int(total[i])
    return out


def _product_rows(c, key, v, s_p, held, prev_c, prev_key, prev_v, pos_c, both_rows, both_prev_rows, n_products,
                  ledger_rows):  # fmt: skip
    """
    Product rows ``(customer, product, s, e, row_s, row_e)`` of the chosen customers, dropped products included.

    ``both_rows`` and ``both_prev_rows`` choose this period's and the previous period's rows (their
    customers'); ``ledger_rows`` are the ledger positions of both periods' rows; a row absent at one end
    has the position -1 there.
    """
    cur_idx, prev_idx = ledger_rows
    kept = np.zeros(len(prev_key), dtype=bool)
    kept[pos_c[held]] = True
    gone = ~kept & both_prev_rows
    stay = both_rows
    customer = np.concatenate([c[stay], prev_c[gone]])
    product = np.concatenate([key[stay] % n_products, prev_key[gone] % n_products])
    s = np.concatenate([s_p[stay], prev_v[gone]])
    e = np.concatenate([v[stay], np.zeros(int(gone.sum()), dtype=np.int64)])
    row_s = np.concatenate([np.where(held[stay], prev_idx[pos_c[stay]] if len(prev_idx) else -1, -1), prev_idx[gone]])
    row_e = np.concatenate([cur_idx[stay], np.full(int(gone.sum()), -1, dtype=np.int64)])
    return customer, product, s, e, row_s.astype(np.int64), row_e.astype(np.int64)


def __getattr__(name: str):
    """Reach :func:`kit._fast.periods.period_sums` under its old name, ``kit.movements.period_sums``."""
    if name == "period_sums":
        from kit._fast.periods import period_sums

        return period_sums
    raise AttributeError(f"module 'kit.movements' has no attribute {name!r}")


MOVEMENT_COLUMNS = ["customer_id", "period", "class", "mrr_start", "mrr_end", *AMOUNTS, "expansion"]


def movements(
    ledger: Ledger,
    *,
    period: str = "month",
    netting: str = "customer",
    reactivation_window: int | None = None,
) -> pd.DataFrame:
    """
    Classify every customer's change in every period.

    Takes a :class:`~kit.ledger.Ledger` and returns one row per customer · period in
    which the customer was active at the start or the end: ``customer_id, period, class,
    mrr_start, mrr_end, new, reactivation, upsell, cross_sell, contraction, churn,
    expansion`` (money in integer cents), then the ledger's attribute columns as of the
    start of the period (for new and reactivated customers, the end).

    Parameters
    ----------
    ledger : Ledger
    period : {"month", "quarter", "year"}
    netting : {"customer", "product"}
    reactivation_window : int, optional
        Most inactive periods in a row after which a return still counts as reactivation.

    Returns
    -------
    DataFrame
        Sorted by period, then customer; ``period`` is an ordered categorical of the
        plan's labels, so periods with no active customer still appear when grouped.
        Follows :class:`kit.contracts.Movements`.

    Notes
    -----
    The definitions (``docs/definitions.md``, "Movements"): a customer's MRR in a period is
    its MRR in the last month of the period. With ``S`` the MRR at the end of the previous period and ``E`` at
    the end of this one:

    =============  ============================================  ==========
    class          condition                                     amount
    =============  ============================================  ==========
    new            S = 0, E > 0, never active in an earlier one  E
    reactivation   S = 0, E > 0, active in an earlier period     E
    churn          S > 0, E = 0                                  S
    expansion      S > 0, E > S                                  E − S
    contraction    S > 0, 0 < E < S                              S − E
    flat           S > 0, E = S                                  0
    =============  ============================================  ==========

    "Active in a period" means MRR above zero at the end of that period, the same snapshot
    the amounts use, so a customer who leaves and returns inside one quarter is invisible at
    quarterly grain. With ``reactivation_window=W`` a return after more than ``W`` inactive
    periods in a row counts as new.

    Per product, for customers active at both ends: upsell ``U = Σ(e_p − s_p)`` over products
    held at the start that grew, cross-sell ``X = Σ e_p`` over products not held at the start.
    ``netting="customer"`` splits the net expansion ``D = E − S`` as
    ``cross_sell = D·X // (U + X)``, ``upsell = D − cross_sell``; ``netting="product"`` books
    ``U`` and ``X`` gross and every product decrease (a dropped product included) as
    contraction. Either way ``mrr_end = mrr_start + new + reactivation + upsell + cross_sell −
    contraction − churn`` in every period, exactly; the walk checks it and raises otherwise.

    Examples
    --------
    >>> import datetime, kit
    >>> rows = [("a", "P", "2024-01", "10"), ("a", "P", "2024-02", "15"), ("a", "Q", "2024-02", "5"),
    ...         ("b", "P", "2024-02", "8"), ("c", "P", "2024-01", "4")]
    >>> frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr"])
    >>> ledger = kit.load_ledger(frame, kind="snapshots", today=datetime.date(2026, 11, 24))
    >>> movements(ledger)[["customer_id", "period", "class", "mrr_start", "mrr_end", "upsell", "cross_sell"]]
      customer_id   period      class  mrr_start  mrr_end  upsell  cross_sell
    0           a  2024-02  expansion       1000     2000     500         500
    1           b  2024-02        new          0      800       0           0
    2           c  2024-02      churn        400        0       0           0
    """
    plan = plan_periods(ledger, period)
    attributes = ledger.attributes
    customers = ledger.frame["customer_id"].cat.categories
    parts = []
    for arrays in walk(ledger, period=period, netting=netting, reactivation_window=reactivation_window,
                       attributes=attributes):  # fmt: skip
        active = np.flatnonzero((arrays.start > 0) | (arrays.end > 0))
        part = {
            "customer_id": arrays.customers[active],
            "period": np.full(len(active), arrays.k - 1),
            "class": arrays.cls[active],
            "mrr_start": arrays.start[active],
            "mrr_end": arrays.end[active],
        }
        part.update({name: arrays.amounts[name][active] for name in AMOUNTS})
        part.update({a: arrays.segment[a][active] for a in attributes})
        parts.append(pd.DataFrame(part))
    if parts:
        frame = pd.concat(parts, ignore_index=True)
    else:
        empty = ["customer_id", "period", "class", "mrr_start", "mrr_end", *AMOUNTS, *attributes]
        frame = pd.DataFrame({c: np.array([], dtype=np.int64) for c in empty})
    frame["expansion"] = frame["upsell"] + frame["cross_sell"]
    frame["customer_id"] = pd.Categorical.from_codes(frame["customer_id"].to_numpy(), categories=customers)
    frame["period"] = pd.Categorical.from_codes(
        frame["period"].to_numpy(), categories=pd.Index(plan.labels, dtype=object), ordered=True
    )
    frame["class"] = pd.Categorical.from_codes(frame["class"].to_numpy().astype(np.int64), categories=list(CLASSES))
    for a in attributes:
        categories = ledger.frame[a].cat.categories
        frame[a] = pd.Categorical.from_codes(frame[a].to_numpy(), categories=categories)
    out = frame[[*MOVEMENT_COLUMNS, *attributes]]  # tagged: a notebook displays it as a card (kit.display)
    return tag(out, "movements", ledger, period=period, netting=netting, reactivation_window=reactivation_window)


def split_customers(ledger: Ledger, chunks: int) -> list[Ledger]:
    """
    Split a ledger into ``chunks`` ledgers of disjoint customers, each keeping the window.

    Any per-customer computation on the parts, summed, equals the computation on the
    whole (see :func:`kit.metrics.combine`).

    Parameters
    ----------
    ledger : Ledger
    chunks : int
        Number of parts; customer code ``i`` goes to part ``i % chunks``.

    Returns
    -------
    list of Ledger

    Examples
    --------
    >>> import datetime, kit
    >>> rows = [("a", "P", "2024-01", "10"), ("a", "P", "2024-02", "15"), ("a", "Q", "2024-02", "5"),
    ...         ("b", "P", "2024-02", "8"), ("c", "P", "2024-01", "4")]
    >>> frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr"])
    >>> ledger = kit.load_ledger(frame, kind="snapshots", today=datetime.date(2026, 11, 24))
    >>> [sorted(part.frame["customer_id"].astype(str).unique()) for part in split_customers(ledger, 2)]
    [['a', 'c'], ['b']]
    """
    codes = ledger.frame["customer_id"].cat.codes.to_numpy()
    parts = []
    for i in range(chunks):
        frame = ledger.frame.loc[codes % chunks == i].reset_index(drop=True)
        frame["customer_id"] = frame["customer_id"].cat.remove_unused_categories()
        parts.append(Ledger(frame, ledger.kind, ledger.first_month, ledger.last_month, ledger.currency, ledger.quality))
    return parts
