"""
The summary's tally in threads: a large ledger summed in chunks of whole customers, the sums added.

Plain function it must equal: the tally of the whole ledger in one call (``tally(ledger)``).
The movements are customer-local (see :func:`kit.movements.split_customers`), so the sums
of disjoint customers add up to the sums of all of them;
``tests/test_scale.py::test_summary_in_chunks_of_customers_equals_the_summary_in_one`` holds the two
equal. This is tuning, not a rule: :data:`PARALLEL_ROWS` and the thread count change the
time taken, never a number.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from kit.ledger import Ledger

#: Ledgers of more than this many rows are summarised in chunks of whole customers of about
#: this many rows, in threads: a chunk's arrays stay within the CPU's caches (one pass over
#: 20 million rows at once takes several times longer than over 20 chunks).
PARALLEL_ROWS = 1_000_000


def customer_parts(ledger: Ledger) -> list[Ledger]:
    """
    Split a large ledger into contiguous runs of whole customers of about PARALLEL_ROWS rows.

    Only a ledger sorted by customer (as loaded) is split: its parts are views, not copies.
    """
    frame = ledger.frame
    if len(frame) <= PARALLEL_ROWS:
        return [ledger]
    codes = frame["customer_id"].array.codes
    if bool((codes[1:] < codes[:-1]).any()):
        return [ledger]
    parts = -(-len(codes) // max(PARALLEL_ROWS, 1))
    cuts = [0]
    for i in range(1, parts):
        at = int(np.searchsorted(codes, codes[len(codes) * i // parts], side="left"))  # where that customer starts
        if at > cuts[-1]:
            cuts.append(at)
    cuts.append(len(codes))
    return [Ledger(frame.iloc[a:b], ledger.kind, ledger.first_month, ledger.last_month, ledger.currency,
                   ledger.quality) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]  # fmt: skip


def cpus() -> int:
    """Return the CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def in_chunks(ledger: Ledger, tally: Callable[[Ledger], dict]) -> dict:
    """
    Return ``tally(ledger)``, computed on chunks of whole customers in threads and added.

    Parameters
    ----------
    ledger : Ledger
    tally : callable
        Maps a ledger to ``{period index: {column: int64 array by group}}``; customer-local.

    Returns
    -------
    dict
        Equal to ``tally(ledger)``.
    """
    parts = customer_parts(ledger)
    if len(parts) == 1:
        return tally(ledger)
    # customer-local: chunks of customers in threads (NumPy releases the GIL), their sums added
    with ThreadPoolExecutor(min(cpus(), 4)) as pool:
        chunks = list(pool.map(tally, parts))
    return {k: {name: sum(chunk[k][name] for chunk in chunks) for name in chunks[0][k]} for k in chunks[0]}
