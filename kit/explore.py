"""
Exploring one number: the customers behind a cell of the summary, and one customer's history.

Two calls for an analyst in a notebook (issue 10, "Drill-down, named as the contract"):

* :func:`drill_down` — the customers (under ``netting="product"`` with a ledger, the
  customer · products) behind one cell of the summary, e.g.
  ``kit.drill_down(moves, "2025-Q4", "cross_sell")``. Its ``amount`` column adds up to the
  summary's cell exactly, in cents, for every money column; for every count column its
  number of rows is the count.
* :func:`customer_history` — one customer's MRR per month and product, the attributes the
  ledger carries (plan, size, …) and its movements per period.

Rules (docs/definitions.md, "Movements"): under ``netting="customer"`` a customer's upsell and
cross-sell are the movements' own split of its net expansion
(``cross_sell = D·X // (U + X)``, ``upsell = D − cross_sell``), so no product share of them
exists and the rows are per customer. Under ``netting="product"`` every amount is a sum of
product parts (``upsell``: ``e_p − s_p`` of products held that grew; ``cross_sell``: ``e_p``
of products added; ``contraction``: ``s_p − e_p`` of products that shrank or were dropped,
for customers active at both ends; ``new``/``reactivation``: ``e_p``; ``churn``: ``s_p``), so
with the ledger the rows are per customer · product. Money is integer cents throughout;
only the ``changed`` text writes major units.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kit.display import tag
from kit.errors import ParameterError
from kit.ledger import Ledger
from kit.movements import NETTINGS
from kit.movements import movements as movements_of
from kit.narrative import money as _amount  # integer cents as 1,234.56: exact, with separators
from kit.periods import MONTHS_PER, end_month, grain_of, labels_of, month_label, select

#: Money cells of the summary a drill-down reaches: the column of the movements each sums.
MONEY_CELLS = ("mrr_start", "new", "reactivation", "upsell", "cross_sell", "expansion", "contraction", "churn",
               "mrr_end")  # fmt: skip
#: Count cells of the summary: the class counted (None: every customer active at that end).
COUNT_CELLS = {
    "customers_start": None,
    "customers_end": None,
    "customers_new": "new",
    "customers_reactivated": "reactivation",
    "customers_expanded": "expansion",
    "customers_contracted": "contraction",
    "customers_churned": "churn",
}
CELLS = (*MONEY_CELLS, *COUNT_CELLS)
_MOVEMENT_COLUMNS = ["customer_id", "period", "class", "mrr_start", "mrr_end", "new", "reactivation", "upsell",
                     "cross_sell", "contraction", "churn", "expansion"]  # fmt: skip


def _contracts():
    """Import :mod:`kit.contracts` (pandera) on first use."""
    from kit import contracts

    return contracts


def _check_cell(movement: str) -> None:
    if movement not in CELLS:
        close = difflib.get_close_matches(str(movement), CELLS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ParameterError(f"movement {movement!r} is not a column of the summary one can drill into{hint} "
                             f"(one of {', '.join(CELLS)})")  # fmt: skip


def infer_netting(movements: pd.DataFrame) -> str:
    """
    Tell the netting movements were made with, from their rows.

    Only product netting books expansion for a customer who did not expand net, or
    contraction for one who did; movements with neither are the same under both nettings,
    and are read as ``"customer"``.

    Parameters
    ----------
    movements : DataFrame
        Output of :func:`kit.movements.movements`.

    Returns
    -------
    {"customer", "product"}

    Examples
    --------
    >>> rows = pd.DataFrame({"class": ["contraction"], "expansion": [500], "contraction": [900]})
    >>> infer_netting(rows), infer_netting(rows.assign(expansion=0))
    ('product', 'customer')
    """
    expanded = (movements["class"] == "expansion").to_numpy(dtype=bool)
    grew = movements["expansion"].to_numpy() > 0
    shrank = movements["contraction"].to_numpy() > 0
    return "product" if bool(((~expanded & grew) | (expanded & shrank)).any()) else "customer"


def _amounts(rows: pd.DataFrame, movement: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the rows in a cell (mask) and each one's amount in cents."""
    start, end = rows["mrr_start"].to_numpy(np.int64), rows["mrr_end"].to_numpy(np.int64)
    if movement in MONEY_CELLS:
        amount = rows[movement].to_numpy(np.int64)
        return amount > 0, amount
    cls = rows["class"].astype(str).to_numpy()
    if movement == "customers_start":
        return start > 0, start
    if movement == "customers_end":
        return end > 0, end
    wanted = COUNT_CELLS[movement]
    amount = {"new": end, "reactivation": end, "expansion": end - start, "contraction": start - end,
              "churn": start}[wanted]  # fmt: skip
    return cls == wanted, amount


def _ends(ledger: Ledger, label: str, customers) -> pd.DataFrame:
    """Return the ledger rows of ``customers`` in the last months of the period before and of ``label``."""
    last = end_month(label)
    first = last - MONTHS_PER[grain_of(label)]
    frame = ledger.frame
    months = frame["month"].array.asi8
    at = np.flatnonzero((months == first) | (months == last))  # a few rows; then compare codes, not texts
    codes = ledger.frame["customer_id"].cat.categories.get_indexer(pd.Index(pd.unique(np.asarray(customers))))
    rows = at[np.isin(frame["customer_id"].cat.codes.to_numpy()[at], codes)]
    columns = ["customer_id", "product", "mrr_cents", *(["plan"] if "plan" in ledger.attributes else [])]
    part = frame.iloc[rows][columns].astype({c: str for c in columns if c != "mrr_cents"})
    return part.assign(at_end=months[rows] == last).reset_index(drop=True)


def _product_ends(part: pd.DataFrame) -> pd.DataFrame:
    """Return ``customer_id, product, s, e``: each customer · product's MRR at the start and end of the period."""
    table = part.assign(at=np.where(part["at_end"], "e", "s")).pivot_table(
        index=["customer_id", "product"], columns="at", values="mrr_cents", aggfunc="sum", fill_value=0
    )
    table = table.reindex(columns=["s", "e"], fill_value=0).astype(np.int64).reset_index()
    table.columns.name = None
    return table


def _plans(part: pd.DataFrame) -> dict:
    """Return ``{customer: [plan at the start, plan at the end]}`` where the ledger has a ``plan`` column."""
    if "plan" not in part.columns:
        return {}
    out: dict = {}
    for (c, at_end), plan in part.groupby(["customer_id", "at_end"], sort=False)["plan"].first().items():
        out.setdefault(c, [None, None])[int(at_end)] = plan
    return out


def _product_text(product: str, s: int, e: int) -> str:
    """
    Say how one product's MRR changed.

    >>> _product_text("Analytics", 0, 8000), _product_text("Core", 12000, 18000), _product_text("Support", 2000, 0)
    ('+ Analytics 80.00 (new product)', 'Core 120.00 → 180.00', '− Support 20.00 (dropped)')
    """
    if s == 0:
        return f"+ {product} {_amount(e)} (new product)"
    if e == 0:
        return f"− {product} {_amount(s)} (dropped)"
    return f"{product} {_amount(s)} → {_amount(e)}"


def _customer_text(cls: str, parts: list | None, plan, start: int, end: int) -> str:
    """
    Say what changed for one customer: its products (from the ledger) or its MRR at both ends.

    ``parts`` lists ``(product, s, e)`` of the products whose MRR changed, largest change first.

    >>> _customer_text("expansion", [("Q", 0, 500), ("P", 1000, 1200)], ("Pro", "Max"), 1000, 1700)
    '+ Q 5.00 (new product); P 10.00 → 12.00; plan Pro → Max'
    >>> _customer_text("churn", None, None, 1000, 0), _customer_text("new", [("P", 0, 800)], None, 0, 800)
    ('churned from 10.00', 'new customer: P 8.00')
    """
    if parts is None:
        if cls == "churn":
            return f"churned from {_amount(start)}"
        if cls in ("new", "reactivation"):
            return f"{'new' if cls == 'new' else 'reactivated'} at {_amount(end)}"
        return "no change" if start == end else f"{_amount(start)} → {_amount(end)}"
    if cls in ("new", "reactivation", "churn"):
        head = {"new": "new customer", "reactivation": "reactivated", "churn": "churned"}[cls]
        items = ", ".join(f"{p} {_amount(e if cls != 'churn' else s)}" for p, s, e in parts)
        return f"{head}: {items}"
    items = [_product_text(p, s, e) for p, s, e in parts]
    if plan and plan[0] and plan[1] and plan[0] != plan[1]:
        items.append(f"plan {plan[0]} → {plan[1]}")
    return "; ".join(items) or "no change"


def _changes(ends: pd.DataFrame) -> dict:
    """Return ``{customer: [(product, s, e), …]}``: the products whose MRR changed, largest change first."""
    changed = ends.loc[ends["s"] != ends["e"]]
    changed = changed.assign(size=(changed["e"] - changed["s"]).abs())
    changed = changed.sort_values(["customer_id", "size", "product"], ascending=[True, False, True], kind="stable")
    out: dict = {}
    for c, p, s, e in zip(changed["customer_id"].tolist(), changed["product"].tolist(), changed["s"].tolist(),
                          changed["e"].tolist(), strict=True):  # fmt: skip
        out.setdefault(c, []).append((p, s, e))
    return out


def _product_amount(movement: str, s: np.ndarray, e: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """Return each customer · product's part of a money cell under product netting (see the module docstring)."""
    both = np.isin(cls, ["flat", "expansion", "contraction"])
    zero = np.zeros(len(s), dtype=np.int64)
    parts = {
        "mrr_start": s,
        "mrr_end": e,
        "new": np.where(cls == "new", e, zero),
        "reactivation": np.where(cls == "reactivation", e, zero),
        "churn": np.where(cls == "churn", s, zero),
        "upsell": np.where(both & (s > 0) & (e > s), e - s, zero),
        "cross_sell": np.where(both & (s == 0) & (e > 0), e, zero),
        "contraction": np.where(both & (e < s), s - e, zero),
    }
    parts["expansion"] = parts["upsell"] + parts["cross_sell"]
    return parts[movement]


def drill_down(
    movements: pd.DataFrame,
    period,
    movement: str,
    *,
    ledger: Ledger | None = None,
    netting: str | None = None,
) -> pd.DataFrame:
    """
    List the customers behind one cell of the summary, with what changed for each.

    The ``amount`` column adds up **exactly**, in integer cents, to the summary's cell
    ``summary(movements)`` at row ``period``, column ``movement`` (for every money column:
    ``mrr_start, new, reactivation, upsell, cross_sell, expansion, contraction, churn,
    mrr_end``). For a count column (``customers_start``, ``customers_new``, …,
    ``customers_churned``) there is one row per customer counted, so the number of rows is
    the count, and ``amount`` is that customer's own figure (``mrr_start``, the new MRR,
    the net expansion ``E − S``, the net contraction ``S − E``, the churned MRR).

    Under ``netting="customer"`` the rows are customers and their upsell / cross-sell
    follow the movements' split of the net expansion (docs/definitions.md). Under
    ``netting="product"`` with ``ledger`` given, the money cells are broken down by
    customer · product: each row is one product's part (``e_p − s_p``, ``e_p`` or
    ``s_p − e_p``), and ``mrr_start``/``mrr_end`` are that product's MRR at the two ends.

    Parameters
    ----------
    movements : DataFrame
        Output of :func:`kit.movements.movements` (any grain, either netting).
    period : str, Period or list of them
        A period of the movements, as a label (``"2025-Q4"``, ``"2025-03"``, ``"2025"``)
        or a :class:`pandas.Period`; another grain or a period not present is a
        :class:`~kit.errors.ParameterError` naming the valid range. A list gives the rows of
        each period's cell together (a customer once per period), adding up to the sum of
        the cells.
    movement : str
        A money or count column of the summary (see above).
    ledger : Ledger, optional
        The ledger the movements come from. With it, ``changed`` names the products (and the
        plan, where the ledger has one) and product netting gives product rows; it is checked
        against the movements (a different ledger is an error). Without it, ``changed`` says
        the customer's MRR at both ends.
    netting : {"customer", "product"}, optional
        The netting the movements were made with; default: told from the rows
        (:func:`infer_netting`; movements that do not tell are the same under both).

    Returns
    -------
    DataFrame
        ``customer_id, [product], period, class``, the attribute columns the movements carry,
        ``mrr_start, mrr_end, amount, changed``; money in integer cents. Sorted by amount
        (largest first), then customer (and product).

    Raises
    ------
    ParameterError
        ``movements`` lacks the columns read; ``movement`` is not a cell of the summary (the
        closest is suggested); ``period`` is of another grain or not among the movements'
        periods (the message names the range and grain); ``ledger`` is not the one the
        movements come from; ``netting="product"`` given for movements of customer netting.

    Examples
    --------
    >>> import datetime, kit
    >>> rows = [("a", "P", "2024-01", "10"), ("a", "P", "2024-02", "15"), ("a", "Q", "2024-02", "5"),
    ...         ("b", "P", "2024-02", "8"), ("c", "P", "2024-01", "4")]
    >>> frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr"])
    >>> ledger = kit.load_ledger(frame, kind="snapshots", today=datetime.date(2026, 11, 24))
    >>> moves = kit.movements(ledger)
    >>> drill_down(moves, "2024-02", "cross_sell", ledger=ledger)[["customer_id", "amount", "changed"]]
      customer_id  amount                                  changed
    0           a     500  P 10.00 → 15.00; + Q 5.00 (new product)
    >>> drill_down(moves, "2024-02", "churn")["amount"].sum(), kit.summary(moves)["churn"].iloc[0]
    (np.int64(400), np.int64(400))
    """
    from kit import bridges

    facts = movements.attrs.get("kit") or {} if isinstance(movements, pd.DataFrame) else {}
    if facts.get("table") == "causes" or (movement in bridges.CELLS and movement not in CELLS):
        return _drill_cause(movements, period, movement, ledger, facts)
    _contracts().require(movements, "movements", _MOVEMENT_COLUMNS, function="drill_down")
    _check_cell(movement)
    labels = select(period, labels_of(movements["period"]))
    if not labels:
        raise ParameterError("drill_down needs a period, e.g. '2025-Q4', or a list of them; it was given none")
    if netting is not None and netting not in NETTINGS:
        raise ParameterError(f"netting must be one of {', '.join(NETTINGS)}, not {netting!r}")
    if netting == "product" and ledger is None:
        raise ParameterError("drill_down(..., netting='product') lists customer · product rows, which need the ledger: "
                             "pass ledger=")  # fmt: skip
    if netting is None and ledger is not None:
        netting = infer_netting(movements)
    parts = [_drill_one(movements, label, movement, ledger, netting) for label in labels]
    if len(parts) == 1:
        out = parts[0]
    else:
        keys = ["customer_id", "product"] if "product" in parts[0].columns else ["customer_id"]
        out = _sorted(pd.concat(parts, ignore_index=True), [*keys, "period"])
    # a notebook displays it formatted (kit.display), not as the movements it was cut from
    return tag(out, "drill_down", ledger if ledger is not None else movements, kinds={"amount": "money"})


def _drill_cause(table: pd.DataFrame, period, cell: str, ledger: Ledger | None, facts: dict) -> pd.DataFrame:
    """Drill into a cell of the cause bridge (:func:`kit.bridges.drill`): the grain and window as the table was made."""
    from kit import bridges

    if "period" not in table.columns:
        raise ParameterError(f"drill_down into {cell!r} needs the cause bridge (kit.causes()) or the movements, with a "
                             "period column")  # fmt: skip
    bridges._check_cell(cell)
    if ledger is None:
        raise ParameterError(f"drill_down into the cause {cell!r} needs the ledger (its quantities and plans): "
                             "pass ledger=")  # fmt: skip
    labels = select(period, labels_of(table["period"]))
    if not labels:
        raise ParameterError("drill_down needs a period, e.g. '2025-Q4', or a list of them; it was given none")
    grain = facts.get("period") or grain_of(labels[0])
    window = facts.get("reactivation_window") if facts.get("table") in ("causes", "movements") else None
    return bridges.drill(ledger, labels, cell, grain=grain, reactivation_window=window)


def _drill_one(movements: pd.DataFrame, label: str, movement: str, ledger: Ledger | None, netting: str | None):
    """Drill into one period's cell (see :func:`drill_down`)."""
    attributes = [c for c in movements.columns if c not in _MOVEMENT_COLUMNS]
    period_column = movements["period"]
    if isinstance(period_column.dtype, pd.CategoricalDtype):  # compare codes, not texts
        code = list(map(str, period_column.cat.categories)).index(label)
        rows = movements.loc[period_column.cat.codes.to_numpy() == code]
    else:
        rows = movements.loc[(period_column.astype(str) == label).to_numpy()]
    mask, amount = _amounts(rows, movement)
    cell = rows.loc[mask].assign(amount=amount[mask])
    cell = cell.assign(customer_id=cell["customer_id"].astype(str), period=label)
    cell["class"] = cell["class"].astype(str)
    keys = ["customer_id", "period", "class", *attributes, "mrr_start", "mrr_end", "amount"]
    if ledger is None:
        out = cell[keys].copy()
        out["changed"] = [_customer_text(c, None, None, int(s), int(e))
                          for c, s, e in zip(out["class"], out["mrr_start"], out["mrr_end"], strict=True)]  # fmt: skip
        return _sorted(out, ["customer_id"])
    part = _ends(ledger, label, cell["customer_id"])
    ends = _product_ends(part)
    _check_ledger(ends, cell, label)
    plans = _plans(part)
    if netting == "product" and movement in MONEY_CELLS:
        parts = ends.merge(cell[["customer_id", "class", *attributes]], on="customer_id", how="inner")
        parts["amount"] = _product_amount(movement, parts["s"].to_numpy(), parts["e"].to_numpy(),
                                          parts["class"].to_numpy())  # fmt: skip
        parts = parts.loc[parts["amount"] > 0]
        check = parts.groupby("customer_id")["amount"].sum().reindex(cell["customer_id"], fill_value=0)
        if not np.array_equal(check.to_numpy(), cell["amount"].to_numpy()):
            raise ParameterError(
                f"these movements are not netting='product' ones (or not of this ledger): their {movement} in "
                f"{label} is not the sum of product parts; pass netting='customer'"
            )
        out = parts.rename(columns={"s": "mrr_start", "e": "mrr_end"}).assign(period=label)
        out["changed"] = [_product_text(p, int(s), int(e)) for p, s, e in zip(out["product"], out["mrr_start"],
                                                                              out["mrr_end"], strict=True)]  # fmt: skip
        out = out[["customer_id", "product", "period", "class", *attributes, "mrr_start", "mrr_end", "amount",
                   "changed"]]  # fmt: skip
        return _sorted(out, ["customer_id", "product"])
    by_customer = _changes(ends)
    out = cell[keys].copy()
    out["changed"] = [_customer_text(c, by_customer.get(cid, []), plans.get(cid), int(s), int(e))
                      for cid, c, s, e in zip(out["customer_id"], out["class"], out["mrr_start"], out["mrr_end"],
                                              strict=True)]  # fmt: skip
    return _sorted(out, ["customer_id"])


def _check_ledger(ends: pd.DataFrame, cell: pd.DataFrame, label: str) -> None:
    """Refuse a ledger whose customers' MRR at the period's ends is not the movements'."""
    totals = ends.groupby("customer_id")[["s", "e"]].sum().reindex(cell["customer_id"], fill_value=0)
    wrong = (totals["s"].to_numpy() != cell["mrr_start"].to_numpy()) | (totals["e"].to_numpy()
                                                                        != cell["mrr_end"].to_numpy())  # fmt: skip
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        row = cell.iloc[i]
        raise ParameterError(
            f"the ledger is not the one these movements come from: customer {row['customer_id']} in {label} has MRR "
            f"{_amount(int(row['mrr_start']))} → {_amount(int(row['mrr_end']))} in the movements, "
            f"{_amount(int(totals['s'].iloc[i]))} → {_amount(int(totals['e'].iloc[i]))} in the ledger"
        )


def _sorted(out: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    order = out.sort_values(["amount", *keys], ascending=[False, *[True] * len(keys)], kind="stable")
    return order.reset_index(drop=True)


# --- one customer -------------------------------------------------------------------------------


@dataclass
class CustomerHistory:
    """
    One customer's history (see :func:`customer_history`).

    Attributes
    ----------
    customer_id : str
    mrr : DataFrame
        ``month, product, mrr_cents`` and the ledger's attribute columns (``plan``, ``size``,
        …, one value per customer · month), one row per month and product held; ``month`` is
        a ``YYYY-MM`` label (text, so ``isin(["2025-09"])`` works).
    by_month : DataFrame
        Months × products: the MRR in cents of every month from the customer's first to
        the window's last (0 where none) and a ``total`` column; index ``month`` labels.
    movements : DataFrame
        The customer's rows of :func:`kit.movements.movements` (class and amounts per period).
    """

    customer_id: str
    mrr: pd.DataFrame
    by_month: pd.DataFrame
    movements: pd.DataFrame

    def __repr__(self) -> str:
        months = self.by_month.index
        span = f"{months[0]} to {months[-1]}" if len(months) else "no month"
        products = [c for c in self.by_month.columns if c != "total"]
        return (f"<CustomerHistory {self.customer_id}: {span}, {len(products)} product(s) "
                f"({', '.join(map(str, products))}), {len(self.movements)} movement row(s)>")  # fmt: skip

    def _repr_html_(self) -> str:
        """Show the MRR by month (the last 24 months) and the movements, formatted (JupyterLab)."""
        from markupsafe import Markup

        from kit.display import html_for
        from kit.templating import render

        parts = {name: Markup(html_for(frame) or "")  # noqa: S704 - rendered by kit.display, every value escaped
                 for name, frame in (("by_month", self.by_month.tail(24)), ("movements", self.movements))}  # fmt: skip
        return render("display/history.html.j2", title=repr(self)[1:-1], months=min(24, len(self.by_month)), **parts)


def customer_history(
    ledger: Ledger,
    customer_id,
    *,
    period: str = "month",
    netting: str = "customer",
    reactivation_window: int | None = None,
) -> CustomerHistory:
    """
    Show one customer's MRR per product and month, its attributes and its movements per period.

    The ledger keeps MRR in cents per customer · product · month and the customer
    attributes of each month (``plan``, ``size``, …), which come along, and, where the source
    states them, each product's ``quantity`` (seats) and ``plans`` that month (``.mrr``; several
    plans joined by ``" + "``). The movements are computed on the customer's rows alone, which gives the
    same rows as on the whole ledger (movements are customer-local, docs/definitions.md).

    Parameters
    ----------
    ledger : Ledger
    customer_id : str
        One customer of the ledger; an unknown one is a
        :class:`~kit.errors.ParameterError` suggesting the closest ids.
    period : {"month", "quarter", "year"}
        The grain of the movements.
    netting : {"customer", "product"}
    reactivation_window : int, optional

    Returns
    -------
    CustomerHistory
        ``.mrr`` (long), ``.by_month`` (months × products) and ``.movements``; money in cents.

    Raises
    ------
    ParameterError
        ``customer_id`` is not in the ledger (the closest ids are suggested), or a period,
        netting or reactivation window out of its choices.

    Examples
    --------
    >>> import datetime, kit
    >>> rows = [("a", "P", "2024-01", "10"), ("a", "P", "2024-02", "15"), ("a", "Q", "2024-02", "5"),
    ...         ("b", "P", "2024-02", "8"), ("c", "P", "2024-01", "4")]
    >>> frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr"])
    >>> ledger = kit.load_ledger(frame, kind="snapshots", today=datetime.date(2026, 11, 24))
    >>> history = customer_history(ledger, "a")
    >>> history.by_month.reset_index()
         month     P    Q  total
    0  2024-01  1000    0   1000
    1  2024-02  1500  500   2000
    >>> history.movements[["period", "class", "upsell", "cross_sell"]]
        period      class  upsell  cross_sell
    0  2024-02  expansion     500         500
    """
    ids = ledger.frame["customer_id"].cat.categories.astype(str)
    wanted = str(customer_id)
    if wanted not in set(ids):
        close = difflib.get_close_matches(wanted, list(ids), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ParameterError(f"customer {wanted!r} is not in the ledger ({len(ids):,} customers){hint}")
    frame = ledger.frame
    mine = frame.loc[(frame["customer_id"].astype(str) == wanted).to_numpy()].reset_index(drop=True)
    mrr = mine.drop(columns=["customer_id"]).copy()
    mrr["month"] = [month_label(m) for m in mrr["month"].array.asi8]
    for column in ["product", *ledger.attributes]:
        mrr[column] = mrr[column].astype(str)
    keyed = [c for c in ("quantity", "plans") if c in mrr.columns]
    if "plans" in mrr:
        mrr["plans"] = mrr["plans"].astype(object).map(lambda p: p if pd.isna(p) else str(p).replace("\n", " + "))
    mrr = mrr[["month", "product", "mrr_cents", *keyed, *ledger.attributes]]
    first = int(mine["month"].array.asi8.min())
    months = [month_label(m) for m in range(first, ledger.last_month.ordinal + 1)]
    wide = mrr.pivot_table(index="month", columns="product", values="mrr_cents", aggfunc="sum", fill_value=0)
    wide = wide.reindex(months, fill_value=0).astype(np.int64)
    wide.columns.name = None
    wide.index.name = "month"
    wide["total"] = wide.sum(axis=1)
    alone = mine.copy()
    alone["customer_id"] = alone["customer_id"].cat.remove_unused_categories()
    moves = movements_of(dataclasses.replace(ledger, frame=alone), period=period, netting=netting,
                         reactivation_window=reactivation_window)  # fmt: skip
    moves = moves.assign(customer_id=moves["customer_id"].astype(str)).reset_index(drop=True)
    tag(mrr, "customer_history", ledger)
    tag(wide, "customer_history", ledger, kinds={"*": "money"})
    return CustomerHistory(wanted, mrr, wide, moves)


__all__ = ["CELLS", "COUNT_CELLS", "MONEY_CELLS", "CustomerHistory", "customer_history", "drill_down", "infer_netting"]
