"""
From the ledger to movements: one row per customer · period, classified and measured.

Definitions (DESIGN.md, "Movements"): a customer's MRR in a period is its MRR in the last
month of the period. With ``S`` the MRR at the end of the previous period and ``E`` at
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

Everything here is customer-local: the movements of one customer depend on its rows only,
so any split of the customers gives the same movements (see :func:`split_customers`).
The walk runs period by period over dense per-customer integer arrays; no string is
hashed and no join is made.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kit.errors import KitError, ParameterError
from kit.ledger import Ledger

PERIODS = ("month", "quarter", "year")
NETTINGS = ("customer", "product")
MONTHS_PER = {"month": 1, "quarter": 3, "year": 12}
CLASSES = ("flat", "new", "reactivation", "expansion", "contraction", "churn")
AMOUNTS = ("new", "reactivation", "upsell", "cross_sell", "contraction", "churn")
#: bincount sums in float64 are exact below this bound (2**53 cents).
_EXACT = 2**53


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


def period_label(index: int, period: str) -> str:
    """
    Label a period given as periods since 1970.

    >>> period_label(650, "month"), period_label(216, "quarter"), period_label(54, "year")
    ('2024-03', '2024-Q1', '2024')
    """
    if period == "month":
        return f"{1970 + index // 12}-{index % 12 + 1:02d}"
    if period == "quarter":
        return f"{1970 + index // 4}-Q{index % 4 + 1}"
    return str(1970 + index)


def plan_periods(ledger: Ledger, period: str = "month") -> PeriodPlan:
    """
    Work out the baseline, the row periods and a dropped trailing period of a ledger.

    Snapshots: the first period of the window is the baseline. Subscriptions: the
    baseline is the period before the one holding the first month (zero MRR).
    """
    if period not in PERIODS:
        raise ParameterError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    size = MONTHS_PER[period]
    first = ledger.first_month.ordinal
    last = ledger.last_month.ordinal
    p_first, p_last = first // size, last // size
    dropped = None
    if (p_last + 1) * size - 1 > last:
        dropped = period_label(p_last, period)
        p_last -= 1
    baseline = p_first if ledger.kind == "snapshots" else p_first - 1
    ids = np.arange(baseline, max(p_last, baseline) + 1)
    ends = (ids + 1) * size - 1
    return PeriodPlan(period, [period_label(i, period) for i in ids[1:]], ends, period_label(baseline, period), dropped)


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
    # each row's plan period; rows of other months (inside a quarter, outside the plan) go to a last bucket
    small = len(plan.end_months) < 2**16 - 1  # NumPy sorts 16-bit integers by radix: linear and stable
    slot = np.full(int(plan.end_months[-1] - plan.end_months[0] + 2), len(plan.end_months),
                   dtype=np.uint16 if small else np.int64)  # fmt: skip
    slot[plan.end_months - plan.end_months[0]] = np.arange(len(plan.end_months))
    offset = np.subtract(months, plan.end_months[0], dtype=np.int32 if len(slot) < 2**30 else np.int64,
                         casting="unsafe")  # fmt: skip
    np.clip(offset, -1, len(slot) - 1, out=offset)  # -1: the last entry, the bucket for "outside"
    k = slot[offset]
    del offset
    order = np.argsort(k, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(k, minlength=len(plan.end_months) + 1))])
    amount = frame["mrr_cents"].to_numpy(dtype=np.int64)
    if amount.sum(dtype=np.float64) >= _EXACT:
        raise KitError("the ledger's total MRR exceeds 2**53 cents; sums would not be exact")
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
    products: tuple | None  # (customer, product, s, e) for customers active at both ends


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
    """
    if netting not in NETTINGS:
        raise ParameterError(f"netting must be one of {', '.join(NETTINGS)}, not {netting!r}")
    if reactivation_window is not None and (int(reactivation_window) != reactivation_window or reactivation_window < 0):
        raise ParameterError(f"reactivation_window must be a whole number of periods ≥ 0, not {reactivation_window!r}")
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
        if reactivation_window is not None:
            seen &= (k - 1) - seen_at <= reactivation_window
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
            product_rows = _product_rows(c, key, v, s_p, held, prev.c, prev_key, prev_v, pos_c, both_rows,
                                         both_prev_rows, n_products)  # fmt: skip
        _check_bridge(plan.labels[k - 1], start, end, amounts)
        if codes.base:  # back to the ledger's codes
            if product_rows is not None:
                product_rows = (product_rows[0] + codes.base, *product_rows[1:])
            yield PeriodArrays(k, customers + codes.base, start, end, cls, amounts, segment, product_rows)
        else:
            yield PeriodArrays(k, customers, start, end, cls, amounts, segment, product_rows)
        last_active[cur.who] = k
        prev = cur


def period_sums(ledger: Ledger, *, period: str = "month", reactivation_window: int | None = None) -> dict:
    """
    Sum the customer-netting movements of every row period, without a loop over periods.

    The same movements as :func:`walk` (``netting="customer"``), summed: returns
    ``{period index: {name: cents or count}}`` with ``mrr_start, mrr_end``, the amounts
    of :data:`AMOUNTS` and the customer counts of the summary (``customers_start,
    customers_end, customers_new, customers_reactivated, customers_expanded,
    customers_contracted, customers_churned``). For a ledger sorted
    by customer and month (as loaded), each customer's months are consecutive rows: one
    pass groups them, and each group is compared with the group before it (the previous
    period when it is the same customer one period earlier) and after it (churn when the
    next period is missing). Only the customers who grew need their products, to split
    the expansion. Returns None for a ledger not sorted by customer, month and product.
    """
    if reactivation_window is not None and (int(reactivation_window) != reactivation_window or reactivation_window < 0):
        raise ParameterError(f"reactivation_window must be a whole number of periods ≥ 0, not {reactivation_window!r}")
    plan = plan_periods(ledger, period)
    frame = ledger.frame
    customer = frame["customer_id"].array.codes
    months = frame["month"].array.asi8
    product = frame["product"].array.codes
    if len(customer) > 1:  # sorted by customer, month, product?
        same_customer = customer[1:] == customer[:-1]
        same_month = same_customer & (months[1:] == months[:-1])
        if bool(((customer[1:] < customer[:-1]) | (same_customer & (months[1:] < months[:-1]))
                 | (same_month & (product[1:] < product[:-1]))).any()):  # fmt: skip
            return None
    amount = frame["mrr_cents"].to_numpy(dtype=np.int64)
    if amount.sum(dtype=np.float64) >= _EXACT:
        raise KitError("the ledger's total MRR exceeds 2**53 cents; sums would not be exact")
    n_periods = len(plan.end_months)  # the baseline (0) and the row periods (1 … n_periods − 1)
    slot = np.full(int(plan.end_months[-1] - plan.end_months[0] + 2), n_periods, dtype=np.int32)
    slot[plan.end_months - plan.end_months[0]] = np.arange(n_periods)
    offset = np.subtract(months, plan.end_months[0], dtype=np.int64)
    np.clip(offset, -1, len(slot) - 1, out=offset)  # -1: the last entry, the bucket for "outside"
    k = slot[offset]
    inside = k < n_periods
    if not inside.all():  # months that end no period (inside a quarter) do not count
        customer, k, product, amount = customer[inside], k[inside], product[inside], amount[inside]
    n = len(k)
    # groups: one customer in one period (consecutive rows)
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = (customer[1:] != customer[:-1]) | (k[1:] != k[:-1])
    starts = np.flatnonzero(new_group)
    end = np.add.reduceat(amount, starts) if n else np.zeros(0, dtype=np.int64)
    who, at = customer[starts], k[starts].astype(np.int64)
    same_before = np.zeros(len(starts), dtype=bool)
    same_before[1:] = who[1:] == who[:-1]
    follows = same_before.copy()  # the group before is the same customer one period earlier
    follows[1:] &= at[1:] == at[:-1] + 1
    start = np.zeros(len(starts), dtype=np.int64)
    start[1:] = np.where(follows[1:], end[:-1], 0)
    row = at >= 1
    returning = row & ~follows
    seen = same_before.copy()  # active in an earlier period
    if reactivation_window is not None:
        seen[1:] &= (at[1:] - 1) - at[:-1] <= reactivation_window
    is_new, is_react = returning & ~seen, returning & seen
    grew = row & follows & (end > start)
    shrank = row & follows & (end < start)
    leaves = np.zeros(len(starts), dtype=bool)  # no group the next period: churn then
    leaves[:-1] = ~((who[1:] == who[:-1]) & (at[1:] == at[:-1] + 1))
    leaves[-1:] = True
    leaves &= at < n_periods - 1

    # expansion split: the grown groups' product rows against the rows of the group before
    grown = np.flatnonzero(grew)
    stops = np.append(starts[1:], n)
    cur_rows, cur_owner = _ranges(starts[grown], stops[grown])
    prev_rows, prev_owner = _ranges(starts[grown - 1], starts[grown]) if len(grown) else (cur_rows, cur_owner)
    n_products = max(len(frame["product"].cat.categories), 1)
    key = cur_owner * n_products + product[cur_rows]
    prev_key = prev_owner * n_products + product[prev_rows]
    _, v, _, held, s_p = _held_before(key, amount[cur_rows], prev_key, amount[prev_rows])
    upsell_gross = _sum_by(cur_owner, np.where(held & (v > s_p), v - s_p, 0), len(grown))
    cross_gross = _sum_by(cur_owner, np.where(~held, v, 0), len(grown))
    diff = end[grown] - start[grown]
    cross_sell = _split_cross_sell(diff, upsell_gross, cross_gross, np.ones(len(grown), dtype=bool))

    def by_period(periods, weights=None) -> np.ndarray:
        return np.rint(np.bincount(periods, weights=weights, minlength=n_periods)).astype(np.int64)

    end_total, end_count = by_period(at, end), by_period(at)
    money = {
        "new": by_period(at[is_new], end[is_new]),
        "reactivation": by_period(at[is_react], end[is_react]),
        "upsell": by_period(at[grown], diff - cross_sell),
        "cross_sell": by_period(at[grown], cross_sell),
        "contraction": by_period(at[shrank], start[shrank] - end[shrank]),
        "churn": by_period(at[leaves] + 1, end[leaves]),
    }
    counts = {
        "customers_new": by_period(at[is_new]), "customers_reactivated": by_period(at[is_react]),
        "customers_expanded": by_period(at[grown]), "customers_contracted": by_period(at[shrank]),
        "customers_churned": by_period(at[leaves] + 1),
    }  # fmt: skip
    sums = {}
    for i in range(1, n_periods):
        amounts = {name: int(values[i]) for name, values in money.items()}
        flow = int(end_total[i - 1]) + sum(amounts[a] for a in ("new", "reactivation", "upsell", "cross_sell"))
        if flow - amounts["contraction"] - amounts["churn"] != int(end_total[i]):
            raise KitError(f"internal error: the MRR bridge of {plan.labels[i - 1]} does not reconcile")
        sums[i] = {"mrr_start": int(end_total[i - 1]), "mrr_end": int(end_total[i]), **amounts,
                   "customers_start": int(end_count[i - 1]), "customers_end": int(end_count[i]),
                   **{name: int(values[i]) for name, values in counts.items()}}  # fmt: skip
    return sums


def _ranges(first: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The concatenated ranges ``first[i] … stop[i] − 1`` and, for each position, its ``i``."""
    lengths = stop - first
    owner = np.repeat(np.arange(len(first)), lengths)
    at = np.arange(len(owner)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return first[owner] + at, owner


def _held_before(key, v, prev_key, prev_v):
    """For rows (sorted keys) of this period: ``key, v``, the previous period's row of each key, whether there was one, and its cents."""
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


def _product_rows(c, key, v, s_p, held, prev_c, prev_key, prev_v, pos_c, both_rows, both_prev_rows, n_products):
    """Product rows (customer, product, s, e) of customers active at both ends, dropped products included."""
    kept = np.zeros(len(prev_key), dtype=bool)
    kept[pos_c[held]] = True
    gone = ~kept & both_prev_rows
    stay = both_rows
    customer = np.concatenate([c[stay], prev_c[gone]])
    product = np.concatenate([key[stay] % n_products, prev_key[gone] % n_products])
    s = np.concatenate([s_p[stay], prev_v[gone]])
    e = np.concatenate([v[stay], np.zeros(int(gone.sum()), dtype=np.int64)])
    return customer, product, s, e


def _check_bridge(label: str, start, end, amounts) -> None:
    flow = (
        int(start.sum())
        + int(amounts["new"].sum())
        + int(amounts["reactivation"].sum())
        + int(amounts["upsell"].sum())
        + int(amounts["cross_sell"].sum())
        - int(amounts["contraction"].sum())
        - int(amounts["churn"].sum())
    )
    if flow != int(end.sum()):
        raise KitError(f"internal error: the MRR bridge of {label} does not reconcile ({flow} != {int(end.sum())})")


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
        frame = pd.DataFrame({c: np.array([], dtype=np.int64) for c in ["customer_id", "period", "class", "mrr_start",
                                                                         "mrr_end", *AMOUNTS, *attributes]})  # fmt: skip
    frame["expansion"] = frame["upsell"] + frame["cross_sell"]
    frame["customer_id"] = pd.Categorical.from_codes(frame["customer_id"].to_numpy(), categories=customers)
    frame["period"] = pd.Categorical.from_codes(
        frame["period"].to_numpy(), categories=pd.Index(plan.labels, dtype=object), ordered=True
    )
    frame["class"] = pd.Categorical.from_codes(frame["class"].to_numpy().astype(np.int64), categories=list(CLASSES))
    for a in attributes:
        categories = ledger.frame[a].cat.categories
        frame[a] = pd.Categorical.from_codes(frame[a].to_numpy(), categories=categories)
    return frame[[*MOVEMENT_COLUMNS, *attributes]]


def split_customers(ledger: Ledger, chunks: int) -> list[Ledger]:
    """
    Split a ledger into ``chunks`` ledgers of disjoint customers, each keeping the window.

    Any per-customer computation on the parts, summed, equals the computation on the
    whole (see :func:`kit.metrics.combine`).
    """
    codes = ledger.frame["customer_id"].cat.codes.to_numpy()
    parts = []
    for i in range(chunks):
        frame = ledger.frame.loc[codes % chunks == i].reset_index(drop=True)
        frame["customer_id"] = frame["customer_id"].cat.remove_unused_categories()
        parts.append(Ledger(frame, ledger.kind, ledger.first_month, ledger.last_month, ledger.currency, ledger.quality))
    return parts
