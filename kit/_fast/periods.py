"""
The period sums of the customer-netting summary, fast: one pass over the sorted ledger instead of the walk.

Plain function it must equal: ``kit.metrics.summary(kit.movements.movements(ledger, netting="customer"))``
(the rules of docs/definitions.md, written period by period in :func:`kit.movements.walk`), summed per
period. ``tests/test_scale.py::test_period_sums_equal_the_walk_summed`` and
``tests/test_movements.py::test_property_summarize_equals_summary_of_movements`` hold the
two equal. The rule pieces (the window check, the reactivation window, the cross-sell
split, the bridge check, the plan buckets) are the rules' own functions, imported, not
rewritten; only the grouping is new: for a ledger sorted by customer and month, each
customer's months are consecutive rows, so every customer · period is a run of rows
compared with the run before it.
"""

from __future__ import annotations

import numpy as np

from kit.ledger import Ledger
from kit.movements import (
    _held_before,
    _split_cross_sell,
    _sum_by,
    check_bridge,
    check_reactivation_window,
    within_window,
)
from kit.periods import plan_buckets, plan_periods
from kit.rules import check_exact


def period_sums(ledger: Ledger, *, period: str = "month", reactivation_window: int | None = None) -> dict:
    """
    Sum the customer-netting movements of every row period, without a loop over periods.

    Must equal ``kit.metrics.summary(kit.movements.movements(ledger, period=period,
    reactivation_window=reactivation_window))``: the movements of :func:`kit.movements.walk`
    (``netting="customer"``), summed (tests/test_scale.py and the hypothesis properties of
    tests/test_movements.py hold the two equal). Returns
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
    check_reactivation_window(reactivation_window)
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
    check_exact(amount)
    n_periods = len(plan.end_months)  # the baseline (0) and the row periods (1 … n_periods − 1)
    k = plan_buckets(plan, months)
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
    seen[1:] &= within_window((at[1:] - 1) - at[:-1], reactivation_window)
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
        check_bridge(plan.labels[i - 1], int(end_total[i - 1]), amounts, int(end_total[i]))
        sums[i] = {"mrr_start": int(end_total[i - 1]), "mrr_end": int(end_total[i]), **amounts,
                   "customers_start": int(end_count[i - 1]), "customers_end": int(end_count[i]),
                   **{name: int(values[i]) for name, values in counts.items()}}  # fmt: skip
    return sums


def _ranges(first: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the concatenated ranges ``first[i] … stop[i] − 1`` and, for each position, its ``i``."""
    lengths = stop - first
    owner = np.repeat(np.arange(len(first)), lengths)
    at = np.arange(len(owner)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return first[owner] + at, owner
