"""
Parsed rows → the ledger frame: one row per customer · product · month, its rows' cents added.

Rules (docs/definitions.md, "The ledger"; :mod:`kit.ledger`, "Integer limits"):

- The rows of one customer · product · month are added in int64; a key whose sum reaches
  2**53 cents (:data:`kit.rules.EXACT`, beyond which the engine's sums are not exact) is an
  error naming the key and its rows (:func:`_check_key_sums`), or quarantined.
- :func:`ledger_frame` is the plain rule of the aggregation; :func:`kit._fast.frame._build_frame`
  is its speed-up and must equal it (``tests/test_ledger.py`` holds the two equal).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kit.months import MONTH_ORDINAL, ordinal_to_str
from kit.rules import EXACT, exact_total

if TYPE_CHECKING:
    from kit.kinds import LoadState


def _check_key_sums(ctx: LoadState, rows: pd.DataFrame, amounts: np.ndarray):
    """
    Refuse customer · product · month keys whose rows add up to 2**53 cents or more.

    Each row is at most the amount limit, so only a ledger whose total reaches 2**53 can
    hold such a key: below that (one vectorised sum) nothing is looked at. Above it the keys
    are summed (floats find the candidates, Python integers decide), and each bad key is
    named with its rows. Returns the rows and amounts without them (quarantine).
    """
    amounts = np.asarray(amounts, dtype=np.int64)
    if not len(amounts) or float(amounts.sum(dtype=np.float64)) < EXACT * (1 - 1e-9):  # the float sum, with a margin
        return rows, amounts
    keys = pd.DataFrame({"customer_id": rows["customer_id"].astype(str).to_numpy(),
                         "product": rows["product"].astype(str).to_numpy(), "m": rows[MONTH_ORDINAL].to_numpy(),
                         "cents": amounts.astype(np.float64)})  # fmt: skip
    estimate = keys.groupby(["customer_id", "product", "m"], sort=False)["cents"].transform("sum").to_numpy()
    candidates = np.flatnonzero(estimate >= EXACT * (1 - 1e-9))
    if not len(candidates):
        return rows, amounts
    positions, reasons = [], []
    for (customer, product, m), group in keys.iloc[candidates].groupby(["customer_id", "product", "m"], sort=False):
        at = group.index.to_numpy()  # positions in rows (keys has a default index)
        total = sum(int(a) for a in amounts[at])
        if exact_total(total):
            continue
        inputs = np.unique(ctx.frame.index.get_indexer(rows.index[at]))
        shown = ", ".join(str(r) for r in ctx.raw.row_numbers[inputs[:5]])
        shown += f" and {len(inputs) - 5:,} more" if len(inputs) > 5 else ""
        reason = (f"customer {customer} · product {product} · {ordinal_to_str(m)}: its {len(inputs):,} rows "
                  f"(rows {shown}) add up to {total:,} cents, beyond 2**53 cents, the limit of exact sums")  # fmt: skip
        positions.append(inputs)
        reasons.append(np.full(len(inputs), reason, dtype=object))
    if not positions:
        return rows, amounts
    column = "mrr" if "mrr" in ctx.frame.columns else "amount"
    dropped = ctx.refuse_late(column, np.concatenate(positions), np.concatenate(reasons))
    keep = ~rows.index.isin(dropped)
    return rows.loc[keep], amounts[keep]


def ledger_frame(rows: pd.DataFrame, amounts: np.ndarray, attributes: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """
    Aggregate parsed rows to the ledger frame: the plain rule that :func:`kit._fast.frame._build_frame` must equal.

    One row per ``customer_id · product · month`` with the sum of its rows' cents, keys whose
    sum is zero left out, sorted by customer, month and product (values compared as text, in
    code point order). The attributes (and ``currency``) of every key are those of the
    customer's largest row of the month, over all its products; on a tie, the first such row
    in ``rows``. Every text column is categorical, with the sorted texts it holds as categories.
    Also returns the positions (in ``rows``) of the rows that share their customer · product ·
    month and amount with another row. ``rows`` hold ``customer_id``, ``product``,
    :data:`~kit.months.MONTH_ORDINAL` and the attributes; they are not changed.
    """
    extra = [*attributes] + (["currency"] if "currency" in rows.columns else [])
    work = pd.DataFrame({c: rows[c].astype(str).to_numpy(dtype=object) for c in ["customer_id", "product"]})
    work["month"] = rows[MONTH_ORDINAL].to_numpy().astype(np.int64)
    work["mrr_cents"] = np.asarray(amounts, dtype=np.int64)
    work["position"] = np.arange(len(work))
    shared = np.flatnonzero(work.duplicated(["customer_id", "product", "month", "mrr_cents"], keep=False))
    largest = work.sort_values(["mrr_cents", "position"], ascending=[False, True], kind="stable")
    source = largest.drop_duplicates(["customer_id", "month"])[["customer_id", "month", "position"]]
    keys = work.groupby(["customer_id", "month", "product"], as_index=False)["mrr_cents"].sum()
    keys = keys.loc[keys["mrr_cents"] > 0].merge(source, on=["customer_id", "month"], how="left")

    def categorical(values) -> pd.Categorical:
        values = np.asarray(values, dtype=object)
        return pd.Categorical(values, categories=pd.Index(sorted(set(values)), dtype="str"))

    columns = {
        "customer_id": categorical(keys["customer_id"]),
        "product": categorical(keys["product"]),
        "month": pd.PeriodIndex.from_ordinals(keys["month"].to_numpy(), freq="M").array,
        "mrr_cents": keys["mrr_cents"].to_numpy(dtype=np.int64),
    }
    for column in extra:
        columns[column] = categorical(rows[column].astype(str).to_numpy(dtype=object)[keys["position"].to_numpy()])
    return pd.DataFrame(columns), shared.astype(np.int64)
