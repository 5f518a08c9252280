"""
Why customers expand: the cause bridge (seats, price, plan, cross-sell) and a bridge per product.

The rules (docs/definitions.md, "Causes of change"). For a customer active at both ends of a period
(``S > 0, E > 0``), each product ``p`` it held at either end contributes to exactly one cause, from
its MRR ``s_p``/``e_p``, its quantity ``q_s``/``q_e`` and its set of plans ``P_s``/``P_e``
(the ledger's ``quantity`` and ``plans`` columns, where the source has them):

============  ==========================================  ==========================================
cause         condition on product p                      amount (signed, integer cents)
============  ==========================================  ==========================================
cross_sell    ``s_p = 0, e_p > 0``                        ``e_p``
dropped       ``s_p > 0, e_p = 0``                        ``s_p`` (shown positive, subtracted)
plan          both held, plans known at both ends, differ ``e_p − s_p``
seats, price  both held, same plans, quantities known     ``seats = round_half_even(s_p·(q_e − q_s)/q_s)``,
                                                          ``price = (e_p − s_p) − seats``
unattributed  both held, otherwise                        ``e_p − s_p`` (less ``seats`` where known)
============  ==========================================  ==========================================

Readings where the design leaves room (also in the report's methodology):

* **Plans not known are not "the same plans"**: where the ledger has no ``plans`` (the source has
  no ``plan`` column) or a key's plan is not stated, a change of plan cannot be told from a change
  of price. The seats are still measured from the quantities (they need no plan), and the rest,
  ``e_p − s_p − seats``, is ``unattributed``, never booked as price.
* **Quantities known** means the ledger has a ``quantity`` for the product at both ends and the
  starting one is above zero (a quantity of 0 at the start has no MRR per unit to measure from).
  A seats figure of 2**50 cents or more (a quantity change no real book holds) is not measured:
  the product's change is ``unattributed``.
* **Customer counts** (``customers_seats_up`` …) count each customer once per cause, by the sign
  of its total of that cause over its products: a customer who added seats on one product and cut
  more on another counts in ``customers_seats_down``. ``customers_cross_sell`` and
  ``customers_dropped`` count the customers with any product added or dropped.
* **Expansion by cause**: ``expansion`` is the product netting's gross expansion (upsell +
  cross-sell); ``expansion_seats``, ``expansion_price``, ``expansion_plan`` and
  ``expansion_unattributed`` split its upsell part by cause over the products that grew (signed: a
  product that gained seats at a lower unit price grew by more seats than its price gave back), so
  ``expansion = cross_sell + expansion_seats + expansion_price + expansion_plan +
  expansion_unattributed`` exactly.
* New, reactivation and churn are the movements' (either netting gives the same), so per period,
  exactly: ``mrr_end = mrr_start + new + reactivation − churn + cross_sell − dropped + seats + price
  + plan + unattributed``; the walk checks it and raises otherwise.
* Under ``fx_mode="monthly"`` an exchange-rate move changes ``e_p`` at the same quantity and plan:
  it is booked as ``price`` (``fx_mode="constant"``, the default, creates none).

Everything is customer-local (:mod:`kit.movements`), so chunks of customers add up to the whole.
"""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd

from kit._fast.summary import in_chunks
from kit.display import tag
from kit.errors import KitError, ParameterError
from kit.ledger import Ledger
from kit.movements import walk
from kit.periods import keep as keep_periods
from kit.periods import plan_periods, select
from kit.rules import CLASSES, ratio
from kit.subscriptions import divide_half_even

#: The causes of change of a customer active at both ends, in the bridge's order.
CAUSES = ("cross_sell", "seats", "price", "plan", "unattributed", "dropped")
#: The signed causes (a product held at both ends): they can be negative.
SIGNED = ("seats", "price", "plan", "unattributed")
#: The money columns of :func:`causes`, in order (contract: docs/definitions.md).
MONEY = ("mrr_start", "new", "reactivation", "cross_sell", "seats", "price", "plan", "unattributed", "dropped",
         "churn", "mrr_end")  # fmt: skip
#: The customer counts of :func:`causes`, in order.
COUNTS = ("customers_seats_up", "customers_seats_down", "customers_price_up", "customers_price_down",
          "customers_plan_up", "customers_plan_down", "customers_cross_sell", "customers_dropped")  # fmt: skip
#: The expansion split by cause, after the contract's columns.
EXPANSION = ("expansion", "expansion_seats", "expansion_price", "expansion_plan", "expansion_unattributed")
#: Rates of the cause bridge, each over ``mrr_start`` (NaN when it is zero).
RATES = ("seats_rate", "price_rate", "plan_rate", "cross_sell_rate")
#: The columns of :func:`product_bridge` (after ``period, product[, plans]``).
PRODUCT_MONEY = ("mrr_start", "new", "reactivation", "cross_sell", "seats", "price", "plan", "plan_in", "plan_out",
                 "unattributed", "dropped", "churn", "mrr_end")  # fmt: skip
PRODUCT_COUNTS = ("customers_start", "customers_end", "customers_new", "customers_reactivated",
                  "customers_cross_sell", "customers_dropped", "customers_churned")  # fmt: skip
#: Seats figures at or past this many cents are not measured (the change is unattributed).
SEATS_LIMIT = 2**50
#: How a key's several plans are joined in the ledger's ``plans`` (a line break is never in a plan).
PLAN_SEPARATOR = "\n"
#: The label of a plan not stated, in :func:`product_bridge` (``plans=True``) and drill-downs.
NO_PLAN = "(plan not stated)"

_CLASS_NEW, _CLASS_REACTIVATION, _CLASS_CHURN = 1, 2, 5


# --- the rule, on arrays ------------------------------------------------------------------------


def round_half_even(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """
    Divide signed integers by positive ones, rounding half to even (symmetric about zero).

    Parameters
    ----------
    numerator : ndarray of int64
    denominator : ndarray of int64, all > 0

    Returns
    -------
    ndarray of int64

    Examples
    --------
    >>> round_half_even(np.array([5, -5, 7, -7, 4000, 20]), np.array([2, 2, 2, 2, 3, 10])).tolist()
    [2, -2, 4, -4, 1333, 2]
    """
    numerator = np.asarray(numerator, dtype=np.int64)
    denominator = np.asarray(denominator, dtype=np.int64)
    magnitude = np.abs(numerator)
    quotient, remainder = np.divmod(magnitude, denominator)
    twice = 2 * remainder
    quotient += (twice > denominator) | ((twice == denominator) & (quotient % 2 == 1))
    return np.where(numerator < 0, -quotient, quotient)


def attribute(s, e, q_s=None, q_e=None, p_s=None, p_e=None) -> dict[str, np.ndarray]:
    """
    Split each product's change into its cause, for customers active at both ends.

    Parameters
    ----------
    s, e : array of int
        The product's MRR at the start and the end of the period, in cents (0: not held).
    q_s, q_e : array of int, optional
        Its quantity at the two ends; a negative value (or None: the ledger has none) is unknown.
    p_s, p_e : array of int, optional
        Codes of its set of plans at the two ends (equal codes: the same plans); a negative value
        (or None) is unknown.

    Returns
    -------
    dict
        ``{cause: int64 array}`` for every name of :data:`CAUSES`; each row is non-zero in one
        cause at most, except ``seats`` and ``price`` (or ``seats`` and ``unattributed``), which
        share a row. ``dropped`` is positive (it is subtracted).

    Examples
    --------
    The worked examples of docs/definitions.md: 10 seats × $10.00 → 12 × $12.00; 3 × $10.00 →
    7 × $9.99; plan Starter $50 → Pro $80 (plan codes 0 → 1):

    >>> parts = attribute(np.array([10000, 3000, 5000]), np.array([14400, 6993, 8000]),
    ...                   np.array([10, 3, 1]), np.array([12, 7, 1]), np.array([0, 0, 0]), np.array([0, 0, 1]))
    >>> {name: values.tolist() for name, values in parts.items() if values.any()}
    {'seats': [2000, 4000, 0], 'price': [2400, -7, 0], 'plan': [0, 0, 3000]}
    """
    s = np.asarray(s, dtype=np.int64)
    e = np.asarray(e, dtype=np.int64)
    zero = np.zeros(len(s), dtype=np.int64)
    both = (s > 0) & (e > 0)
    change = np.where(both, e - s, zero)
    if p_s is not None and p_e is not None:
        p_s, p_e = np.asarray(p_s), np.asarray(p_e)
        plan_known = both & (p_s >= 0) & (p_e >= 0)
        plan_changed = plan_known & (p_s != p_e)
    else:
        plan_known = plan_changed = np.zeros(len(s), dtype=bool)
    rest = both & ~plan_changed
    seats = zero.copy()
    measured = np.zeros(len(s), dtype=bool)
    if q_s is not None and q_e is not None:
        q_s, q_e = np.asarray(q_s, dtype=np.int64), np.asarray(q_e, dtype=np.int64)
        measured = rest & (q_s > 0) & (q_e >= 0)
        at = np.flatnonzero(measured)
        if len(at):
            seats[at] = _seats(s[at], q_e[at] - q_s[at], q_s[at])
            too_large = np.abs(seats) >= SEATS_LIMIT
            if too_large.any():
                seats[too_large] = 0
                measured[too_large] = False
    priced = measured & plan_known  # same stated plans, quantities known: the rest is price
    return {
        "cross_sell": np.where((s == 0) & (e > 0), e, zero),
        "seats": seats,
        "price": np.where(priced, change - seats, zero),
        "plan": np.where(plan_changed, change, zero),
        "unattributed": np.where(rest & ~priced, change - seats, zero),
        "dropped": np.where((s > 0) & (e == 0), s, zero),
    }


def _seats(s: np.ndarray, dq: np.ndarray, q_s: np.ndarray) -> np.ndarray:
    """``round_half_even(s · dq / q_s)``; Python integers where ``s · dq`` could pass int64, capped past the limit."""
    safe = np.abs(s.astype(np.float64) * dq.astype(np.float64)) < 2.0**62
    out = np.zeros(len(s), dtype=np.int64)
    out[safe] = round_half_even(s[safe] * dq[safe], q_s[safe])
    for i in np.flatnonzero(~safe):
        numerator = int(s[i]) * int(dq[i])
        quotient = divide_half_even(abs(numerator), int(q_s[i]))
        out[i] = min(quotient, SEATS_LIMIT) * (1 if numerator >= 0 else -1)  # past the limit: not measured
    return out


# --- what the ledger holds ----------------------------------------------------------------------


def _extras(ledger: Ledger):
    """Return the ledger's quantities (int64, -1 unknown) and plan-set codes (-1 unknown), None where it has none."""
    frame = ledger.frame
    quantity = plans = None
    if "quantity" in frame.columns:
        column = frame["quantity"]
        quantity = column.to_numpy(dtype=np.float64, na_value=-1).astype(np.int64) if column.hasnans else \
            column.to_numpy(dtype=np.int64)  # fmt: skip
    if "plans" in frame.columns:
        plans = np.asarray(frame["plans"].array.codes, dtype=np.int64)
    return quantity, plans


def _at(values, rows):
    """``values[rows]``, -1 where ``rows`` is -1 (not held) or the ledger has no such column."""
    if values is None:
        return None
    if not len(values):
        return np.full(len(rows), -1, dtype=np.int64)
    return np.where(rows >= 0, values[np.maximum(rows, 0)], -1)


def inputs(ledger: Ledger) -> dict:
    """
    Say what the cause bridge can measure on this ledger, and which column would enable the rest.

    Parameters
    ----------
    ledger : Ledger

    Returns
    -------
    dict
        ``quantity`` and ``plans`` (bool: the ledger has the column) and ``missing``, a list of
        sentences naming the column that would split what stays unattributed.

    Examples
    --------
    >>> import datetime, kit
    >>> rows = pd.DataFrame({"customer_id": ["a"], "product": ["P"], "month": ["2024-01"], "mrr": ["10"]})
    >>> ledger = kit.load_ledger(rows, kind="snapshots", today=datetime.date(2026, 11, 24))
    >>> inputs(ledger)["missing"]  # doctest: +ELLIPSIS
    ['a quantity column (seats, licences, units) would split ... from price changes']
    """
    columns = ledger.frame.columns
    has_quantity, has_plans = "quantity" in columns, "plans" in columns
    missing = []
    if not has_quantity and not has_plans:
        missing.append("a quantity column (seats, licences, units) would split a change on a product held into "
                       "seats and price, and a plan column would tell plan changes from price changes")  # fmt: skip
    elif not has_quantity:
        missing.append("a quantity column (seats, licences, units) would split the changes within one plan into "
                       "seats and price")  # fmt: skip
    elif not has_plans:
        missing.append("a plan column would tell plan changes from price changes: without it, what added seats do "
                       "not explain stays unattributed")  # fmt: skip
    return {"quantity": has_quantity, "plans": has_plans, "missing": missing}


def _check_bridge(label: str, start: int, sums: dict, end: int) -> None:
    flow = (start + sums["new"] + sums["reactivation"] - sums["churn"] + sums["cross_sell"] - sums["dropped"]
            + sums["seats"] + sums["price"] + sums["plan"] + sums["unattributed"])  # fmt: skip
    if flow != end:
        raise KitError(f"internal error: the cause bridge of {label} does not reconcile ({flow} != {end})")


def _add(out: np.ndarray, where: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Add integer ``values`` into ``out`` at ``where``, exactly (int64; no float sums)."""
    if len(values):
        np.add.at(out, where, values)
    return out


# --- the cause bridge ---------------------------------------------------------------------------


def _walk_causes(ledger: Ledger, *, period: str, reactivation_window, attributes=None, products=True):
    """Yield ``(arrays, pos, parts)`` per period: the engine's arrays, each product row's customer, its causes."""
    quantity, plans = _extras(ledger)
    for arrays in walk(ledger, period=period, netting="product", reactivation_window=reactivation_window,
                       attributes=attributes, products=products):  # fmt: skip
        customer, _, s, e, row_s, row_e = arrays.products
        pos = np.searchsorted(arrays.customers, customer)
        parts = attribute(s, e, _at(quantity, row_s), _at(quantity, row_e), _at(plans, row_s), _at(plans, row_e))
        yield arrays, pos, parts


def _tally(ledger: Ledger, width: int, *, period: str, reactivation_window, by) -> dict:
    """Return ``{period index: {column: int64 array by group}}``: the cause bridge's sums and counts."""
    plan = plan_periods(ledger, period)
    tallies = {}
    for arrays, pos, parts in _walk_causes(ledger, period=period, reactivation_window=reactivation_window,
                                           attributes=[by] if by else None):  # fmt: skip
        size = len(arrays.customers)
        if by:
            group = arrays.segment[by]
        else:
            group = np.zeros(size, dtype=np.int64)
        valid = group >= 0
        group = np.where(valid, group, 0)

        def total(per_customer, group=group, valid=valid):
            return _add(np.zeros(width, dtype=np.int64), group[valid], per_customer[valid])

        def count(mask, group=group, valid=valid):
            return np.bincount(group[valid & mask], minlength=width).astype(np.int64)

        per_customer = {name: _add(np.zeros(size, dtype=np.int64), pos, values) for name, values in parts.items()}
        _, _, s, e, _, _ = arrays.products
        grew = e > s
        held_grew = grew & (s > 0)
        columns = {"mrr_start": total(arrays.start), "mrr_end": total(arrays.end)}
        for name in ("new", "reactivation", "churn"):
            columns[name] = total(arrays.amounts[name])
        for name in CAUSES:
            columns[name] = total(per_customer[name])
        columns["expansion"] = total(_add(np.zeros(size, dtype=np.int64), pos, np.where(grew, e - s, 0)))
        for name in SIGNED:
            grown = _add(np.zeros(size, dtype=np.int64), pos, np.where(held_grew, parts[name], 0))
            columns[f"expansion_{name}"] = total(grown)
        for name in ("seats", "price", "plan"):
            columns[f"customers_{name}_up"] = count(per_customer[name] > 0)
            columns[f"customers_{name}_down"] = count(per_customer[name] < 0)
        columns["customers_cross_sell"] = count(per_customer["cross_sell"] > 0)
        columns["customers_dropped"] = count(per_customer["dropped"] > 0)
        if not by:
            _check_bridge(plan.labels[arrays.k - 1], int(columns["mrr_start"][0]),
                          {name: int(columns[name][0]) for name in MONEY}, int(columns["mrr_end"][0]))  # fmt: skip
        tallies[arrays.k] = columns
    return tallies


def causes(
    ledger: Ledger,
    *,
    period: str = "month",
    by: str | None = None,
    reactivation_window: int | None = None,
    start=None,
    end=None,
    last: int | None = None,
) -> pd.DataFrame:
    """
    Split every period's MRR change into its causes: the cause bridge, per period (and segment), in cents.

    Per period: ``mrr_end = mrr_start + new + reactivation − churn + cross_sell − dropped + seats +
    price + plan + unattributed``, exactly. ``cross_sell`` equals the summary's under
    ``netting="product"``, and ``seats + price + plan + unattributed − dropped`` its
    ``upsell − contraction``. The rules are the module's (:mod:`kit.bridges`).

    Parameters
    ----------
    ledger : Ledger
        Output of :func:`kit.load_ledger`; its ``quantity`` and ``plans`` columns (where the source
        has a quantity and a plan column) split a product's change into seats, price and plan.
        Without them the change is ``unattributed``, never guessed (:func:`inputs` says which column
        would enable it).
    period : {"month", "quarter", "year"}
    by : str, optional
        A customer attribute: one row per period and segment (the customer's segment at the start
        of the period; new and reactivated ones at the end), as :func:`kit.summarize`.
    reactivation_window : int, optional
        As :func:`kit.summarize`.
    start, end, last : optional
        Keep the periods from ``start`` to ``end``, then the last ``last``, as :func:`kit.summarize`.

    Returns
    -------
    DataFrame
        ``period, [by], mrr_start, new, reactivation, cross_sell, seats, price, plan, unattributed,
        dropped, churn, mrr_end``, the counts ``customers_seats_up, customers_seats_down,
        customers_price_up, customers_price_down, customers_plan_up, customers_plan_down,
        customers_cross_sell, customers_dropped``, then ``expansion, expansion_seats,
        expansion_price, expansion_plan, expansion_unattributed`` (the product netting's expansion
        split by cause) and the rates ``seats_rate, price_rate, plan_rate, cross_sell_rate`` (over
        ``mrr_start``; NaN when it is zero).

    Raises
    ------
    ParameterError
        As :func:`kit.summarize`: a period or window out of its choices, an unknown ``by``, a
        ``start``/``end`` outside the periods.

    Examples
    --------
    >>> import datetime, kit
    >>> rows = pd.DataFrame({"customer_id": ["a", "a", "a", "b"], "product": ["Seats", "Seats", "Add-on", "Seats"],
    ...                      "month": ["2024-01", "2024-02", "2024-02", "2024-02"],
    ...                      "mrr": ["100.00", "144.00", "20.00", "30.00"], "quantity": [10, 12, 1, 3],
    ...                      "plan": ["Team", "Team", "Basic", "Team"]})
    >>> ledger = kit.load_ledger(rows, kind="snapshots", today=datetime.date(2026, 11, 24))
    >>> causes(ledger)[["period", "mrr_start", "new", "cross_sell", "seats", "price", "mrr_end"]]
        period  mrr_start   new  cross_sell  seats  price  mrr_end
    0  2024-02      10000  3000        2000   2000   2400    19400
    """
    plan = plan_periods(ledger, period)
    keep_periods(pd.DataFrame({"period": plan.labels}), start=start, end=end, last=last, grain=period)  # the check
    if by is not None and by not in ledger.attributes:
        raise ParameterError(f"unknown attribute {by!r}; the ledger has {', '.join(ledger.attributes) or 'none'}")
    groups = list(ledger.frame[by].cat.categories) if by else [None]
    options = {"period": period, "reactivation_window": reactivation_window, "by": by}
    tallies = in_chunks(ledger, lambda part: _tally(part, len(groups), **options))
    records = []
    for k in sorted(tallies):
        columns = tallies[k]
        for i, value in enumerate(groups):
            record = {"period": plan.labels[k - 1]}
            if by:
                record[by] = value
            record.update({name: int(col[i]) for name, col in columns.items()})
            records.append(record)
    keys = ["period", by] if by else ["period"]
    table = pd.DataFrame.from_records(records, columns=[*keys, *MONEY, *COUNTS, *EXPANSION])
    for column in [*MONEY, *COUNTS, *EXPANSION]:
        table[column] = table[column].astype(np.int64)
    table["period"] = table["period"].astype(str)
    if by:
        table[by] = table[by].astype(str)
    for name in ("seats", "price", "plan", "cross_sell"):
        table[f"{name}_rate"] = ratio(table[name], table["mrr_start"])
    kinds = {**dict.fromkeys([*MONEY, *EXPANSION], "money"), **dict.fromkeys(COUNTS, "count"),
             **dict.fromkeys(RATES, "rate")}  # fmt: skip
    table = tag(table, "causes", ledger, period=period, reactivation_window=reactivation_window, kinds=kinds)
    return keep_periods(table, start=start, end=end, last=last, grain=period)


# --- the customers behind a cause ---------------------------------------------------------------

#: Cells of the cause bridge a drill-down reaches: money (each product's part) and counts (one row a customer).
MONEY_CELLS = ("cross_sell", "seats", "price", "plan", "unattributed", "dropped", "expansion_seats",
               "expansion_price", "expansion_plan", "expansion_unattributed")  # fmt: skip
COUNT_CELLS = COUNTS
CELLS = (*MONEY_CELLS, *COUNT_CELLS)


def _check_cell(cell: str) -> None:
    if cell not in CELLS:
        close = difflib.get_close_matches(str(cell), CELLS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ParameterError(f"{cell!r} is not a cause one can drill into{hint} (one of {', '.join(CELLS)})")


def cause_rows(ledger: Ledger, *, period: str = "month", reactivation_window: int | None = None,
               periods=None) -> pd.DataFrame:  # fmt: skip
    """
    List the customer · product rows behind the cause bridge: each product's change and its cause.

    Parameters
    ----------
    ledger : Ledger
    period : {"month", "quarter", "year"}
    reactivation_window : int, optional
    periods : str or list of str, optional
        Keep only these period labels (default: every period).

    Returns
    -------
    DataFrame
        One row per customer active at both ends · product held at either end · period:
        ``customer_id, product, period, class`` (the customer's net class), ``mrr_start, mrr_end``
        (the product's), ``quantity_start, quantity_end`` (nullable; where the ledger has
        quantities), ``plans_start, plans_end`` (where it has plans; several joined by ``" + "``),
        ``cause`` (``seats`` for a row of seats and price: see the amounts), then the cents of every
        cause (:data:`CAUSES`). Summed per period they give :func:`causes`' cause columns exactly.

    Examples
    --------
    >>> import datetime, kit
    >>> rows = pd.DataFrame({"customer_id": ["a", "a", "a"], "product": ["P", "P", "Q"],
    ...                      "month": ["2024-01", "2024-02", "2024-02"], "mrr": ["30.00", "69.93", "5.00"],
    ...                      "quantity": [3, 7, 1], "plan": ["Team", "Team", "Basic"]})
    >>> ledger = kit.load_ledger(rows, kind="snapshots", today=datetime.date(2026, 11, 24))
    >>> cause_rows(ledger)[["customer_id", "product", "cause", "cross_sell", "seats", "price"]]
      customer_id product       cause  cross_sell  seats  price
    0           a       P       seats           0   4000     -7
    1           a       Q  cross_sell         500      0      0
    """
    plan = plan_periods(ledger, period)
    wanted = None if periods is None else set(select(periods, list(plan.labels)))
    frame = ledger.frame
    quantity, plans = _extras(ledger)
    pieces = []
    for arrays, pos, parts in _walk_causes(ledger, period=period, reactivation_window=reactivation_window):
        label = plan.labels[arrays.k - 1]
        if wanted is not None and label not in wanted:
            continue
        customer, product, s, e, row_s, row_e = arrays.products
        piece = {"customer_id": customer, "product": product, "period": label, "class": arrays.cls[pos],
                 "mrr_start": s, "mrr_end": e}  # fmt: skip
        if quantity is not None:
            piece["quantity_start"], piece["quantity_end"] = _at(quantity, row_s), _at(quantity, row_e)
        if plans is not None:
            piece["plans_start"], piece["plans_end"] = _at(plans, row_s), _at(plans, row_e)
        code = np.full(len(s), -1, dtype=np.int64)
        for i, name in reversed(list(enumerate(CAUSES))):  # seats before price: a seats-and-price row is ``seats``
            code[parts[name] != 0] = i
        piece["cause"] = code
        piece.update(parts)
        pieces.append(pd.DataFrame(piece))
    columns = ["customer_id", "product", "period", "class", "mrr_start", "mrr_end"]
    if quantity is not None:
        columns += ["quantity_start", "quantity_end"]
    if plans is not None:
        columns += ["plans_start", "plans_end"]
    columns += ["cause", *CAUSES]
    if pieces:
        out = pd.concat(pieces, ignore_index=True)
    else:
        out = pd.DataFrame({c: np.array([], dtype=np.int64) for c in columns}).assign(period="")
    out["customer_id"] = pd.Categorical.from_codes(out["customer_id"], categories=frame["customer_id"].cat.categories)
    out["product"] = pd.Categorical.from_codes(out["product"], categories=frame["product"].cat.categories)
    out["class"] = pd.Categorical.from_codes(out["class"].astype(np.int64), categories=list(CLASSES))
    out["cause"] = pd.Categorical.from_codes(out["cause"], categories=list(CAUSES))  # -1 (no change): NaN
    for column in ("quantity_start", "quantity_end"):
        if column in out:
            values = out[column].to_numpy(dtype=np.int64)
            out[column] = pd.arrays.IntegerArray(np.maximum(values, 0), values < 0)
    for column, held in (("plans_start", "mrr_start"), ("plans_end", "mrr_end")):
        if column in out:  # a product not held at that end has no plan (None), one held without a stated plan NO_PLAN
            labels = plan_labels(frame["plans"].cat.categories, out[column].to_numpy())
            out[column] = labels.where(out[held].to_numpy() > 0, None)
    out = out[columns]
    kinds = dict.fromkeys(["mrr_start", "mrr_end", *CAUSES], "money")
    return tag(out, "cause_rows", ledger, period=period, reactivation_window=reactivation_window, kinds=kinds)


def plan_labels(categories, codes: np.ndarray) -> pd.Series:
    r"""
    Return the texts of plan-set codes: several plans joined by ``" + "``, a code of -1 as :data:`NO_PLAN`.

    Examples
    --------
    >>> plan_labels(pd.Index(["Pro", "Pro\nStarter"]), np.array([1, -1, 0])).tolist()
    ['Pro + Starter', '(plan not stated)', 'Pro']
    """
    texts = np.array([str(c).replace(PLAN_SEPARATOR, " + ") for c in categories] + [NO_PLAN], dtype=object)
    codes = np.asarray(codes, dtype=np.int64)
    return pd.Series(texts[np.where(codes >= 0, codes, len(texts) - 1)], dtype=object)


def drill(ledger: Ledger, period, cell: str, *, grain: str | None = None,
          reactivation_window: int | None = None) -> pd.DataFrame:  # fmt: skip
    """
    List the customers (money cells: customer · products) behind one cell of :func:`causes`.

    The ``amount`` column adds up **exactly** to the cell: for a money cause (``seats``,
    ``price``, ``plan``, ``unattributed``, ``cross_sell``, ``dropped`` and the ``expansion_*``
    split) one row per customer · product with a part in it (signed causes keep their sign); for a
    count (``customers_seats_up`` …) one row per customer counted, ``amount`` its total of that cause.

    Parameters
    ----------
    ledger : Ledger
    period : str or list of str
        Period label(s) of the grain (``"2025-Q4"``).
    cell : str
        A cause or count column of :func:`causes`.
    grain : {"month", "quarter", "year"}, optional
        The grain; default: told from the label.
    reactivation_window : int, optional

    Returns
    -------
    DataFrame
        ``customer_id, [product], period, class, mrr_start, mrr_end``, quantities and plans where
        the ledger has them, ``amount, changed``; sorted by amount (largest first), then customer.

    Examples
    --------
    >>> import datetime, kit
    >>> rows = pd.DataFrame({"customer_id": ["a", "a", "b", "b"], "product": ["P", "P", "P", "P"],
    ...                      "month": ["2024-01", "2024-02", "2024-01", "2024-02"],
    ...                      "mrr": ["30.00", "69.93", "100.00", "90.00"], "quantity": [3, 7, 10, 9]})
    >>> ledger = kit.load_ledger(rows, kind="snapshots", today=datetime.date(2026, 11, 24))
    >>> drill(ledger, "2024-02", "seats")[["customer_id", "amount", "changed"]]
      customer_id  amount                                           changed
    0           a    4000     P: 3 → 7 (30.00 → 69.93; 10.00 → 9.99 a unit)
    1           b   -1000  P: 10 → 9 (100.00 → 90.00; 10.00 → 10.00 a unit)
    """
    from kit.periods import grain_of

    _check_cell(cell)
    labels = [period] if isinstance(period, (str, pd.Period)) else list(period)
    labels = [str(p) for p in labels]
    if not labels:
        raise ParameterError("drill needs a period, e.g. '2025-Q4', or a list of them; it was given none")
    grain = grain or grain_of(labels[0])
    rows = cause_rows(ledger, period=grain, reactivation_window=reactivation_window, periods=labels)
    name = cell.removeprefix("expansion_") if cell.startswith("expansion_") else cell
    if cell in MONEY_CELLS:
        amount = rows[name].to_numpy(dtype=np.int64)
        if cell.startswith("expansion_"):
            amount = np.where((rows["mrr_end"] > rows["mrr_start"]).to_numpy() & (rows["mrr_start"] > 0).to_numpy(),
                              amount, 0)  # fmt: skip
        out = rows.loc[amount != 0].assign(amount=amount[amount != 0])
        out = out.assign(changed=[_change_text(r) for r in out.itertuples(index=False)])
        keys = ["customer_id", "product"]
    else:
        cause = cell.removeprefix("customers_").rsplit("_", 1)[0] if cell.endswith(("_up", "_down")) else \
            cell.removeprefix("customers_")  # fmt: skip
        per = rows.groupby(["period", "customer_id"], observed=True, sort=False).agg(
            amount=(cause, "sum"), mrr_start=("mrr_start", "sum"), mrr_end=("mrr_end", "sum"), cls=("class", "first")
        )
        per = per.reset_index().rename(columns={"cls": "class"})
        counted = per["amount"] < 0 if cell.endswith("_down") else per["amount"] > 0
        out = per.loc[counted.to_numpy()].copy()
        texts = rows.loc[rows[cause].to_numpy() != 0]
        by_customer = {}
        for r in texts.itertuples(index=False):
            by_customer.setdefault((r.period, r.customer_id), []).append(_change_text(r))
        out["changed"] = ["; ".join(by_customer.get((p, c), [])) for p, c in zip(out["period"], out["customer_id"],
                                                                                 strict=True)]  # fmt: skip
        keys = ["customer_id"]
    out = out.assign(customer_id=out["customer_id"].astype(str), **{"class": out["class"].astype(str)})
    if "product" in out:
        out["product"] = out["product"].astype(str)
    ordered = out.sort_values(["amount", *keys, "period"], ascending=[False, *[True] * (len(keys) + 1)], kind="stable")
    shown = [c for c in ["customer_id", "product", "period", "class", "mrr_start", "mrr_end", "quantity_start",
                         "quantity_end", "plans_start", "plans_end", "amount", "changed"] if c in ordered]  # fmt: skip
    return tag(ordered[shown].reset_index(drop=True), "drill_down", ledger, kinds={"amount": "money"})


def _change_text(row) -> str:
    """One product's change in words: ``P: 3 → 7 (30.00 → 69.93; 10.00 → 9.99 a unit)``, plans where they changed."""
    from kit.narrative import money

    s, e = int(row.mrr_start), int(row.mrr_end)
    product = str(row.product)
    if s == 0:
        return f"+ {product} {money(e)} (new product)"
    if e == 0:
        return f"− {product} {money(s)} (dropped)"
    text = f"{product}: "
    q_s, q_e = getattr(row, "quantity_start", pd.NA), getattr(row, "quantity_end", pd.NA)
    p_s, p_e = getattr(row, "plans_start", None), getattr(row, "plans_end", None)
    if p_s is not None and p_s != p_e:
        text += f"{p_s} → {p_e}, "
    if not pd.isna(q_s) and not pd.isna(q_e) and int(q_s) > 0:
        unit = f"{money(_per_unit(s, int(q_s)))} → {money(_per_unit(e, int(q_e)))} a unit" if int(q_e) > 0 else ""
        text += f"{int(q_s):,} → {int(q_e):,} ({money(s)} → {money(e)}" + (f"; {unit})" if unit else ")")
    else:
        text += f"{money(s)} → {money(e)}"
    return text


def _per_unit(cents: int, quantity: int) -> int:
    """Return the MRR of one unit, in cents, half-even (for words only)."""
    return int(round_half_even(np.array([cents]), np.array([quantity]))[0])


# --- a bridge per product -----------------------------------------------------------------------


def product_bridge(
    ledger: Ledger,
    *,
    period: str = "month",
    plans: bool = False,
    reactivation_window: int | None = None,
    start=None,
    end=None,
    last: int | None = None,
) -> pd.DataFrame:
    """
    Each product's own MRR bridge per period: who bought it, who grew or cut it, who left.

    For product ``p`` and a customer holding it at either end: ``new`` is its MRR bought by a new
    customer, ``reactivation`` by a returning one, ``cross_sell`` by an existing customer who did
    not hold it; ``seats``, ``price``, ``plan`` and ``unattributed`` are the changes of a customer
    who held it at both ends (the rules of :func:`causes`), ``dropped`` the MRR of an existing
    customer who stopped it and stayed, ``churn`` of one who left. ``plan`` is ``plan_in −
    plan_out``: the MRR that moved onto another plan of the product, at its new amount, and off the
    old one. Per period and product, exactly: ``mrr_end = mrr_start + new + reactivation +
    cross_sell + seats + price + plan + unattributed − dropped − churn``; the products add up to
    :func:`causes`.

    Parameters
    ----------
    ledger : Ledger
    period : {"month", "quarter", "year"}
    plans : bool
        One row per product · plan (the key's plans, ``" + "`` between several; :data:`NO_PLAN`
        where not stated): a customer moving between plans of the product leaves one row
        (``plan_out``, its starting MRR) and enters the other (``plan_in``, its ending MRR), so
        each plan's own bridge reconciles. Here any change of plan label moves, one not stated
        included (in the product rows only a change between stated plans is ``plan``).
        Needs the ledger's ``plans`` (a plan column in the source).
    reactivation_window : int, optional
    start, end, last : optional
        Keep the periods from ``start`` to ``end``, then the last ``last``.

    Returns
    -------
    DataFrame
        ``period, product, [plans]``, the money columns :data:`PRODUCT_MONEY` and the counts
        :data:`PRODUCT_COUNTS` (customers holding it at each end, buying it new, returning with it,
        cross-sold it, dropping it, churning with it). Products with no MRR at either end of a
        period have no row in it.

    Raises
    ------
    ParameterError
        ``plans=True`` on a ledger without plans; a period, window or bound out of its choices.

    Examples
    --------
    >>> import datetime, kit
    >>> rows = pd.DataFrame({"customer_id": ["a", "a", "a", "b"], "product": ["P", "P", "Q", "Q"],
    ...                      "month": ["2024-01", "2024-02", "2024-02", "2024-02"],
    ...                      "mrr": ["10.00", "15.00", "5.00", "8.00"]})
    >>> ledger = kit.load_ledger(rows, kind="snapshots", today=datetime.date(2026, 11, 24))
    >>> product_bridge(ledger)[["period", "product", "mrr_start", "new", "cross_sell", "unattributed", "mrr_end"]]
        period product  mrr_start  new  cross_sell  unattributed  mrr_end
    0  2024-02       P       1000    0           0           500     1500
    1  2024-02       Q          0  800         500             0     1300
    """
    plan = plan_periods(ledger, period)
    keep_periods(pd.DataFrame({"period": plan.labels}), start=start, end=end, last=last, grain=period)
    _, plan_codes = _extras(ledger)
    if plans and plan_codes is None:
        raise ParameterError("product_bridge(plans=True) needs the plans each customer holds: the source has no "
                             "plan column (map one with mapping= / CLI --map)")  # fmt: skip
    products = ledger.frame["product"].cat.categories
    n_plans = len(ledger.frame["plans"].cat.categories) + 1 if plans else 1
    width = len(products) * n_plans
    tallies = in_chunks(ledger, lambda part: _product_tally(part, width, n_plans, period=period, plans=plans,
                                                            reactivation_window=reactivation_window))  # fmt: skip
    records = []
    plan_names = plan_labels(ledger.frame["plans"].cat.categories, np.arange(-1, n_plans - 1)) if plans else None
    for k in sorted(tallies):
        columns = tallies[k]
        active = np.flatnonzero((columns["customers_start"] > 0) | (columns["customers_end"] > 0))
        for g in active:
            record = {"period": plan.labels[k - 1], "product": str(products[g // n_plans])}
            if plans:
                record["plans"] = plan_names.iloc[g % n_plans]
            record.update({name: int(col[g]) for name, col in columns.items()})
            records.append(record)
    keys = ["period", "product", "plans"] if plans else ["period", "product"]
    table = pd.DataFrame.from_records(records, columns=[*keys, *PRODUCT_MONEY, *PRODUCT_COUNTS])
    for column in [*PRODUCT_MONEY, *PRODUCT_COUNTS]:
        table[column] = table[column].astype(np.int64)
    kinds = {**dict.fromkeys(PRODUCT_MONEY, "money"), **dict.fromkeys(PRODUCT_COUNTS, "count")}
    table = tag(table, "product_bridge", ledger, period=period, kinds=kinds)
    return keep_periods(table, start=start, end=end, last=last, grain=period)


def _product_tally(ledger: Ledger, width: int, n_plans: int, *, period: str, plans: bool, reactivation_window) -> dict:
    """``{period index: {column: int64 array by product (· plan)}}``: the product bridge's sums and counts."""
    quantity, plan_codes = _extras(ledger)
    tallies = {}
    for arrays in walk(ledger, period=period, netting="product", reactivation_window=reactivation_window,
                       products="all"):  # fmt: skip
        customer, product, s, e, row_s, row_e = arrays.products
        cls = arrays.cls[np.searchsorted(arrays.customers, customer)]
        p_s, p_e = _at(plan_codes, row_s), _at(plan_codes, row_e)
        both_active = (cls != _CLASS_NEW) & (cls != _CLASS_REACTIVATION) & (cls != _CLASS_CHURN)
        parts = attribute(np.where(both_active, s, 0), np.where(both_active, e, 0), _at(quantity, row_s),
                          _at(quantity, row_e), p_s, p_e)  # fmt: skip
        product = product.astype(np.int64)
        if plans:
            group_s, group_e = product * n_plans + (p_s + 1), product * n_plans + (p_e + 1)
        else:
            group_s = group_e = product * n_plans
        moved = both_active & (s > 0) & (e > 0) & (group_s != group_e)  # between plan rows (plans=True only)
        plan_change = parts["plan"] != 0
        plan_in = np.where(moved | plan_change, e, 0)
        plan_out = np.where(moved | plan_change, s, 0)

        def total(values, group):
            return _add(np.zeros(width, dtype=np.int64), group, np.asarray(values, dtype=np.int64))

        def count(mask, group):
            return np.bincount(group[mask], minlength=width).astype(np.int64)

        stays = ~moved
        columns = {
            "mrr_start": total(s, group_s),
            "new": total(np.where(cls == _CLASS_NEW, e, 0), group_e),
            "reactivation": total(np.where(cls == _CLASS_REACTIVATION, e, 0), group_e),
            "cross_sell": total(np.where(both_active, parts["cross_sell"], 0), group_e),
            "seats": total(np.where(stays, parts["seats"], 0), group_e),
            "price": total(np.where(stays, parts["price"], 0), group_e),
            "plan": total(plan_in, group_e) - total(plan_out, group_s),
            "plan_in": total(plan_in, group_e),
            "plan_out": total(plan_out, group_s),
            "unattributed": total(np.where(stays, parts["unattributed"], 0), group_e),
            "dropped": total(np.where(both_active, parts["dropped"], 0), group_s),
            "churn": total(np.where(cls == _CLASS_CHURN, s, 0), group_s),
            "mrr_end": total(e, group_e),
            "customers_start": count(s > 0, group_s),
            "customers_end": count(e > 0, group_e),
            "customers_new": count((cls == _CLASS_NEW) & (e > 0), group_e),
            "customers_reactivated": count((cls == _CLASS_REACTIVATION) & (e > 0), group_e),
            "customers_cross_sell": count(both_active & (s == 0) & (e > 0), group_e),
            "customers_dropped": count(both_active & (s > 0) & (e == 0), group_s),
            "customers_churned": count((cls == _CLASS_CHURN) & (s > 0), group_s),
        }
        tallies[arrays.k] = columns
    return tallies
