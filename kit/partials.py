"""
The report's tables of a chunk of customers, and how the chunks' tables combine into the whole's, exactly.

Movements are customer-local, so every table is a function of per-customer values; what differs
is how the customers' values meet. Per table (``tests/test_partials.py`` holds each combined table
equal to the whole's):

=========================  ================================================================================
table                      how the chunks combine
=========================  ================================================================================
summary, segments          plain sums per period (and segment), rates recomputed (:func:`kit.metrics.combine`)
cohorts                    plain sums per cohort · age (a customer's cohort is its own first month), rates
                           recomputed
cross-sell matrix, pairs   plain sums per product held · product added, over the union of the products
trailing NRR               plain sums of the base and the later MRR per month, the ratio recomputed
top expanders              not a sum: each chunk's top ``n`` (the same order: expansion, then id) are
                           candidates, the whole's top ``n`` is among them; the share is over the sum of
                           the chunks' total expansion (ids as text: the whole's categories, every
                           customer of the ledger, are not known to a chunk)
concentration              not a sum: the top 10 % of expanders needs every expander's amount; each chunk
                           keeps its positive expansion amounts per period as value counts (distinct
                           amounts, far fewer than customers), the counts are added and the top group taken
                           from the largest amounts down
drill-down                 not a sum but a list: the chunks' rows (disjoint customers) put together and
                           sorted as one drill-down sorts them (amount, then customer, product, period)
=========================  ================================================================================

The data-quality record combines in :func:`kit.chunks.combine_quality` (counts added, examples the
first rows of the union, notes and exclusions by reason). :func:`chunk_tables` computes a chunk's
partials with the kit's own functions; :func:`combine_tables` combines them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from kit import metrics, tables
from kit.display import tag
from kit.movements import movements
from kit.rules import ratio

_COHORT_SUMS = ["mrr_start", "expansion", "contraction", "churn", "customers_start", "customers_expanded"]


def chunk_tables(ledger, *, period: str = "month", netting: str = "customer", reactivation_window: int | None = None,
                 cohort: str | None = None, n: int = 10, top: float = 0.10, months: int = 12) -> dict:  # fmt: skip
    """
    Return a chunk's partial tables: the report's tables of its customers, with what combining needs beside.

    Parameters
    ----------
    ledger : Ledger
        A chunk's ledger, measured on the whole source's window (:mod:`kit.chunks`).
    period, netting, reactivation_window
        As for :func:`kit.movements`.
    cohort : str, optional
        The cohorts' grain (default: ``period``); movements of that grain are computed for them.
    n, top, months
        As for :func:`kit.top_expanders`, :func:`kit.concentration` and :func:`kit.trailing_nrr`.

    Returns
    -------
    dict
        ``summary, cohorts, products, cross_sell_pairs, trailing, top, expansion_total, expansion_counts``.
    """
    options = {"period": period, "netting": netting, "reactivation_window": reactivation_window}
    moves = movements(ledger, **options)
    cohort = cohort or period
    cohort_moves = moves if cohort == period else movements(ledger, **{**options, "period": cohort})
    _, pairs = tables.cross_sell_tables(ledger, period=period, reactivation_window=reactivation_window)
    expanding = moves.loc[moves["expansion"] > 0, ["period", "expansion"]]
    counts = {str(label): np.unique(group["expansion"].to_numpy(), return_counts=True)
              for label, group in expanding.groupby("period", observed=False, sort=True)}  # fmt: skip
    summary = metrics.summary(moves)
    return {
        "summary": summary,
        "cohorts": tables.cohorts(ledger, cohort_moves, cohort=cohort),
        "products": list(ledger.frame["product"].cat.categories),
        "cross_sell_pairs": pairs,
        "trailing": tables.trailing_nrr(ledger, months=months),
        "top": tables.top_expanders(moves, n=n),
        "expansion_total": int(moves["expansion"].clip(lower=0).sum()),
        "expansion_counts": counts,
        "periods": [str(p) for p in summary["period"]],
        "n": n,
        "top_fraction": top,
    }


def combine_tables(parts: list[dict]) -> dict:
    """
    Combine chunks' partial tables (:func:`chunk_tables`) into the whole's tables.

    Returns
    -------
    dict
        ``summary, cohorts, cross_sell_matrix, cross_sell_pairs, trailing_nrr, top_expanders, concentration``,
        each equal to the kit's function on the whole ledger.
    """
    first = parts[0]
    out = {"summary": metrics.combine([p["summary"] for p in parts])}
    out["cohorts"] = _cohorts([p["cohorts"] for p in parts], first["cohorts"])
    out["cross_sell_matrix"], out["cross_sell_pairs"] = _cross_sell(parts)
    out["trailing_nrr"] = _trailing([p["trailing"] for p in parts], first["trailing"])
    out["top_expanders"] = _top(parts)
    out["concentration"] = _concentration(parts)
    return out


def _cohorts(frames: list[pd.DataFrame], like: pd.DataFrame) -> pd.DataFrame:
    stacked = pd.concat(frames, ignore_index=True)
    out = stacked.groupby(["cohort", "age"], sort=True)[_COHORT_SUMS].sum().reset_index()
    out["nrr"] = ratio(out["mrr_start"] + out["expansion"] - out["contraction"] - out["churn"], out["mrr_start"])
    out["expansion_mrr_rate"] = ratio(out["expansion"], out["mrr_start"])
    out["customers_expanded"] = out.pop("customers_expanded")
    out["customer_expansion_rate"] = ratio(out["customers_expanded"], out["customers_start"])
    out = out[list(like.columns)] if len(like.columns) else out
    out.attrs = dict(like.attrs)
    return out


def _cross_sell(parts: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    products = sorted({p for part in parts for p in part["products"]})
    at = {p: i for i, p in enumerate(products)}
    counts = np.zeros((len(products), len(products)), dtype=np.int64)
    mrr = np.zeros_like(counts)
    for part in parts:
        pairs = part["cross_sell_pairs"]
        cells = ([at[h] for h in pairs["held"]], [at[a] for a in pairs["added"]])
        np.add.at(counts, cells, pairs["customers"].to_numpy(dtype=np.int64))
        np.add.at(mrr, cells, pairs["mrr_added"].to_numpy(dtype=np.int64))
    like = parts[0]["cross_sell_pairs"]
    matrix = pd.DataFrame(counts, index=pd.Index(products, name="held"), columns=pd.Index(products, name="added"))
    tag(matrix, "cross_sell_matrix", like, kinds={"*": "count"})
    return matrix, tables._pairs(like, products, counts, mrr)


def _trailing(frames: list[pd.DataFrame], like: pd.DataFrame) -> pd.DataFrame:
    stacked = pd.concat(frames, ignore_index=True)
    out = stacked.groupby("month", sort=False)[["mrr_base", "mrr_now"]].sum().reset_index()
    out["nrr"] = ratio(out["mrr_now"], out["mrr_base"])
    out.attrs = dict(like.attrs)
    return out


def _top(parts: list[dict]) -> pd.DataFrame:
    like = parts[0]["top"]
    n = parts[0]["n"]
    stacked = pd.concat([p["top"] for p in parts], ignore_index=True)
    total = sum(p["expansion_total"] for p in parts)
    stacked["share"] = ratio(stacked["expansion"], np.full(len(stacked), total))
    stacked["customer_id"] = stacked["customer_id"].astype(str)
    out = stacked.sort_values(["expansion", "customer_id"], ascending=[False, True], kind="stable").head(n)
    out = out.reset_index(drop=True)
    out.attrs = dict(like.attrs)
    return out


def _concentration(parts: list[dict]) -> pd.DataFrame:
    top = parts[0]["top_fraction"]
    records = []
    for label in parts[0]["periods"]:
        values = [p["expansion_counts"].get(label, (np.zeros(0, np.int64), np.zeros(0, np.int64))) for p in parts]
        amounts = np.concatenate([v[0] for v in values]).astype(np.int64)
        counts = np.concatenate([v[1] for v in values]).astype(np.int64)
        distinct, where = np.unique(amounts, return_inverse=True)
        counted = np.bincount(where, weights=counts, minlength=len(distinct)).astype(np.int64)
        expanders = int(counted.sum())
        k = math.ceil(top * expanders)
        # the k largest amounts: from the largest distinct amount down, as many of each as it has
        descending, times = distinct[::-1], counted[::-1]
        taken = np.minimum(times, np.maximum(k - (np.cumsum(times) - times), 0))
        total, top_total = int((distinct * counted).sum()), int((descending * taken).sum())
        records.append({"period": label, "expanders": expanders, "top_expanders": k, "expansion": total,
                        "top_expansion": top_total})  # fmt: skip
    out = pd.DataFrame(records, columns=["period", "expanders", "top_expanders", "expansion", "top_expansion"])
    out["top_share"] = ratio(out["top_expansion"], out["expansion"])
    return tag(out, "concentration", parts[0]["summary"])


def combine_drill(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """
    Put the drill-downs of one cell in disjoint chunks of customers together (:func:`kit.drill_down` of each chunk).

    Equal to the drill-down of the whole: the same rows, in its order (the largest amount first,
    then customer, product and period), so the amounts still add up to the cell exactly.
    """
    from kit.explore import _sorted

    out = pd.concat(parts, ignore_index=True)
    keys = ["customer_id", "product"] if "product" in out.columns else ["customer_id"]
    if out["period"].nunique() > 1:
        keys.append("period")
    out = _sorted(out, keys)
    out.attrs = dict(parts[0].attrs)
    return out
