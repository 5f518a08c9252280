"""
The rules several stages share, written once: a leaf module that imports no other stage.

- The movement classes and amounts (docs/definitions.md, "Movements"): :data:`CLASSES`, :data:`AMOUNTS`.
- The bridge: ``mrr_end = mrr_start + new + reactivation + upsell + cross_sell − contraction
  − churn``, exactly, in cents (:func:`bridge_end`). The engine's walk checks it per period
  (:func:`kit.movements.check_bridge`), the frame contracts per row
  (:class:`kit.contracts.Movements`, :class:`kit.contracts.Summary`).
- Exact sums: float64 holds every integer up to :data:`EXACT` (2**53) exactly; a sum of
  cents is trusted only while it stays below it (:func:`exact_total`, :func:`check_exact`).
  The loader refuses a customer · product · month whose rows add up past it, the engine a
  ledger whose total does, and the Parquet reader keeps integer columns with nulls past it
  as Python integers (not float64).
- A rate whose denominator is zero is NaN, never 0 or inf (:func:`ratio`).

:mod:`kit.contracts` reads only this module of the kit's stages, so it imports neither the
engine nor the loaders.
"""

from __future__ import annotations

import numpy as np

from kit.errors import KitError, ParameterError

#: The movement classes, in the order of their codes (0 flat … 5 churn).
CLASSES = ("flat", "new", "reactivation", "expansion", "contraction", "churn")
#: The money columns of a movement besides ``mrr_start`` and ``mrr_end``.
AMOUNTS = ("new", "reactivation", "upsell", "cross_sell", "contraction", "churn")
#: float64 holds every integer of at most this magnitude exactly (2**53); sums of cents stay below it.
EXACT = 2**53


def bridge_end(start, amounts):
    """
    Return the bridge's ``mrr_end``: ``start + new + reactivation + upsell + cross_sell − contraction − churn``.

    Parameters
    ----------
    start : int or Series
        MRR at the start, in cents.
    amounts : mapping
        The cents of each name of :data:`AMOUNTS` (a dict of integers, or a frame of columns).

    Returns
    -------
    int or Series
        Of the type of ``start``.

    Examples
    --------
    >>> bridge_end(100, {"new": 5, "reactivation": 0, "upsell": 3, "cross_sell": 2, "contraction": 1, "churn": 10})
    99
    """
    return (start + amounts["new"] + amounts["reactivation"] + amounts["upsell"] + amounts["cross_sell"]
            - amounts["contraction"] - amounts["churn"])  # fmt: skip


def exact_total(total) -> bool:
    """
    Tell whether a sum of cents (exact, or as float64 summed it) lies below :data:`EXACT`, where sums stay exact.

    Parameters
    ----------
    total : int, float or ndarray
        A sum of non-negative cents.

    Returns
    -------
    bool or ndarray of bool

    Examples
    --------
    >>> exact_total(2**53 - 1), exact_total(2**53), exact_total(float(2**53))
    (True, False, False)
    """
    return total < EXACT


def check_exact(amount: np.ndarray) -> None:
    """
    Raise a :class:`~kit.errors.KitError` when the cents add up to 2**53 or more (float64 sums would not be exact).

    Parameters
    ----------
    amount : ndarray of int64
        Cents (a ledger's ``mrr_cents``).

    Raises
    ------
    KitError
        When their total is not below :data:`EXACT`.

    Examples
    --------
    >>> check_exact(np.array([1, 2, 3]))
    >>> check_exact(np.array([2**52, 2**52]))
    Traceback (most recent call last):
    ...
    kit.errors.KitError: the ledger's total MRR exceeds 2**53 cents; sums would not be exact
    """
    if not exact_total(amount.sum(dtype=np.float64)):
        raise KitError("the ledger's total MRR exceeds 2**53 cents; sums would not be exact")


def ratio(numerator, denominator) -> np.ndarray:
    """
    Divide element-wise; NaN where the denominator is zero.

    Parameters
    ----------
    numerator, denominator : array-like
        Broadcast against each other.

    Returns
    -------
    ndarray of float64

    Examples
    --------
    >>> ratio(np.array([1, 1]), np.array([4, 0])).tolist()
    [0.25, nan]
    """
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def check_count(value, name: str, unit: str) -> int:
    """
    Return ``value`` as an int when it is a whole number ≥ 1 (not a bool, float or text); else raise.

    >>> check_count(4, "last", "periods")
    4
    >>> check_count(0, "n", "customers")
    Traceback (most recent call last):
    ...
    kit.errors.ParameterError: n must be a whole number of customers ≥ 1, not 0
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParameterError(f"{name} must be a whole number of {unit} ≥ 1, not {value!r}")
    return int(value)
