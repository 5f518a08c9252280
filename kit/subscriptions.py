"""
Turn subscription periods into months: the window, one row per subscription · month in force, and its MRR.

A subscription is in force in a month when ``start_date <= day < end_date`` on the month's
last day (the window's last month: on ``as_of``); ``end_date`` is exclusive and empty while it
runs. Its MRR is ``amount × quantity / (months_in(billing_period) × billing_interval_count)``
(less an optional ``discount_amount`` per billing period on ``amount × quantity``), computed
in Python integers and rounded half-even to the cent per subscription-month.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kit.errors import LoadError
from kit.months import month_ordinals

if TYPE_CHECKING:
    from kit.kinds import LoadState

BILLING_PERIODS = ("day", "week", "month", "quarter", "half-year", "year")
#: Months in one billing period, as a fraction (numerator, denominator).
MONTHS_IN = {
    "day": (12, 365),
    "week": (12, 52),
    "month": (1, 1),
    "quarter": (3, 1),
    "half-year": (6, 1),
    "year": (12, 1),
}
_PERIOD_ALIASES = {
    "daily": "day", "days": "day", "weekly": "week", "weeks": "week", "monthly": "month", "months": "month",
    "quarterly": "quarter", "quarters": "quarter", "half_year": "half-year", "halfyear": "half-year",
    "half-yearly": "half-year", "semiannual": "half-year", "semi-annual": "half-year", "semi-annually": "half-year",
    "annual": "year", "annually": "year", "yearly": "year", "years": "year",
}  # fmt: skip


def _subscription_window(rows: pd.DataFrame, as_of_day, today, name: str):
    """Give the window's first and last months and the day the last month is measured on (``as_of``, given or found)."""
    start = rows["start_date"]
    given = as_of_day is not None
    if as_of_day is None:
        latest = pd.concat([start, rows["end_date"].dropna()])
        latest = latest[latest <= today]
        as_of_day = latest.max() if len(latest) else today
    first = pd.Period(start.min(), "M")
    last = pd.Period(as_of_day, "M")
    if as_of_day < start.min():  # nothing was in force yet: an empty window, not the first month anyway
        said = f"as_of {as_of_day.date()}" if given else f"today ({today.date()})"
        raise LoadError(f"{name}: no subscription starts by {said} (the first starts in {first}); "
                        f"the earliest start_date is {start.min().date()}")  # fmt: skip
    return first, last, pd.Timestamp(as_of_day).normalize().as_unit("ns")


def _expand_subscriptions(ctx: LoadState, rows: pd.DataFrame, last: pd.Period, as_of_day: pd.Timestamp):
    """
    One row per subscription · month in force on the month's last day, within the window.

    The window's last month is measured on ``as_of`` (``start_date <= as_of < end_date``),
    which is its last day only when as_of is: nothing after as_of enters any month.
    """
    start = rows["start_date"].to_numpy()
    start_m = month_ordinals(start)
    last_m = int(month_ordinals(np.array([last.to_timestamp()], dtype="datetime64[ns]"))[0])
    end = rows["end_date"].to_numpy()
    ongoing = pd.isna(end)
    end_m = np.where(ongoing, last_m + 1, month_ordinals(np.where(ongoing, np.datetime64("1970-01-01"), end)))
    measured = as_of_day.to_datetime64().astype(start.dtype)
    started = start <= measured
    # the months before the last are measured on their last day; the last month on as_of
    in_last = started & (ongoing | (end > measured))  # NaT (ongoing) compares False
    lengths = np.maximum(np.minimum(end_m, last_m) - start_m, 0) + in_last
    positions = ctx.frame.index.get_indexer(rows.index)
    ctx.note("subscriptions with start_date equal to end_date (contribute nothing)",
             positions[(rows["end_date"] == rows["start_date"]).to_numpy()])  # fmt: skip
    ctx.note("subscriptions ending before the last day of their first month (contribute nothing)",
             positions[(lengths == 0) & (rows["end_date"] != rows["start_date"]).to_numpy() & started])  # fmt: skip
    ctx.note("subscriptions starting after as_of (contribute nothing)", positions[~started])
    ctx.note(
        "rows with amount 0 (trials and free plans are not active)", positions[rows["amount_cents"].to_numpy() == 0]
    )
    ctx.note("rows with quantity 0 (not active)", positions[rows["quantity"].to_numpy() == 0])
    _note_overlaps(ctx, rows, start_m, end_m, positions)
    mrr = _subscription_mrr(rows)
    take = np.repeat(np.arange(len(rows)), lengths)
    offsets = np.arange(len(take)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    months = start_m[take] + offsets
    expanded = rows.iloc[take].assign(mrr_cents=mrr[take])
    return expanded, months


def _subscription_mrr(rows: pd.DataFrame, *, exact: bool = False):
    """
    MRR cents of one subscription-month: amount × quantity / (months_in × interval), half-even.

    With a ``discount_cents`` column (``discount_amount``: a forever coupon), the discount per
    billing period comes off ``amount × quantity`` first.

    int64 (the rows passed :func:`_check_subscription_mrr`, so each fits), or with ``exact``
    a list of Python integers.
    """
    num_months = rows["billing_period"].map(lambda p: MONTHS_IN[p][0]).to_numpy(dtype=object)
    den_months = rows["billing_period"].map(lambda p: MONTHS_IN[p][1]).to_numpy(dtype=object)
    amount = rows["amount_cents"].to_numpy(dtype=object)
    quantity = rows["quantity"].to_numpy(dtype=object)
    interval = rows["billing_interval_count"].to_numpy(dtype=object)
    gross = amount * quantity
    if "discount_cents" in rows.columns:  # a forever coupon: the discount per billing period on amount × quantity
        gross = gross - rows["discount_cents"].to_numpy(dtype=object)
    numerator = gross * den_months  # Python integers: exact, no overflow
    denominator = num_months * interval
    values = [divide_half_even(a, b) for a, b in zip(numerator, denominator, strict=True)]
    return values if exact else np.array(values, dtype=np.int64)


def divide_half_even(numerator: int, denominator: int) -> int:
    """
    Divide two non-negative integers, rounding half to even.

    >>> divide_half_even(200000, 12), divide_half_even(5, 2), divide_half_even(7, 2)
    (16667, 2, 4)
    """
    quotient, remainder = divmod(int(numerator), int(denominator))  # Python integers: NumPy's would wrap
    denominator = int(denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def _note_overlaps(ctx, rows, start_m, end_m, positions) -> None:
    """
    Note subscriptions starting before an earlier one of the same customer and product ends.

    The rows of each customer · product in start order (ties: file order); a row overlaps
    when it starts before the latest end among the rows before it (an empty end: never).
    Vectorised: that running latest end is one ``maximum.accumulate`` over ranks offset by
    group, so groups never mix.
    """
    customer = pd.factorize(rows["customer_id"].to_numpy())[0]
    product = pd.factorize(rows["product"].to_numpy())[0]
    nat = np.iinfo(np.int64).min
    start = rows["start_date"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    end = rows["end_date"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    end = np.where(end == nat, np.iinfo(np.int64).max, end)  # still running
    order = np.lexsort((start, product, customer))  # stable
    customer, product, start, end = customer[order], product[order], start[order], end[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (customer[1:] != customer[:-1]) | (product[1:] != product[:-1])
    group = np.cumsum(first) - 1
    ends, rank = np.unique(end, return_inverse=True)
    width = len(ends)
    latest = ends[np.maximum.accumulate(group * width + rank) - group * width]  # the running latest end, by group
    overlapping = np.zeros(len(order), dtype=bool)
    overlapping[1:] = ~first[1:] & (start[1:] < latest[:-1]) & (start[1:] != nat)
    ctx.note("overlapping subscriptions of one customer and product (both counted)",
             np.asarray(positions)[order[overlapping]])  # fmt: skip
