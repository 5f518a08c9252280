"""
Build the ledger frame fast: one row per customer · product · month from the parsed rows, on bit-packed integer keys.

It must equal the plain rule (sum the cents of each customer · product · month; the
attributes of the customer's largest row that month, the first in the file on ties);
a test holds the two equal.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import pandas as pd

from kit.errors import LoadError
from kit.months import MONTH_ORDINAL
from kit.sources import categorical_of


def _build_frame(rows: pd.DataFrame, amounts: np.ndarray, attributes: list[str], *, quantity: np.ndarray | None = None,
                 plans: pd.Series | None = None) -> tuple[pd.DataFrame, np.ndarray]:  # fmt: skip
    """
    Aggregate to one row per customer · product · month; attributes of the customer's largest row.

    Must equal :func:`kit.keys.ledger_frame`, the plain rule (a test holds the two equal).

    ``rows`` hold ``customer_id, product``, the attributes and ``month_ordinal`` (months since
    1970-01), which is taken out of them (``pop``) so that its memory is free once the keys
    are built. Returns the ledger frame and the positions (in ``rows``) of the rows that share their
    customer · product · month and amount with another row: the only rows that can be
    identical to another. Works on integer codes: ids and products are ranked
    in text order and packed with the month into one integer key (customer, month,
    product), the rows sorted once by it and the rows of one key added with ``reduceat``;
    no string is hashed again and the ledger's columns are read back from the sorted keys.

    ``quantity`` (int64 per row, -1 not stated) and ``plans`` (text per row, empty not stated), where
    the source has them, give the ledger's ``quantity`` (the key's sum, NA if a row did not state it)
    and ``plans`` (the key's distinct plans, sorted, joined by a line break; NA if a row did not
    state one); without them nothing more is done.
    """
    extra = [a for a in attributes] + (["currency"] if "currency" in rows.columns else [])
    customer, customers = _ranked_codes(rows["customer_id"])
    product, products = _ranked_codes(rows["product"])
    months = rows.pop(MONTH_ORDINAL).to_numpy()
    amounts = np.asarray(amounts, dtype=np.int64)
    n = len(months)
    first = int(months.min()) if n else 0
    span = int(months.max()) - first + 1 if n else 1
    n_products = max(len(products), 1)
    bound = max(len(customers), 1) * span * n_products
    if bound + abs(first) >= 2**63:
        raise LoadError(f"too many customers × months × products ({bound:,}) to index in 64 bits")
    # key = ((customer · span) + month − first) · products + product, built in place
    key = np.empty(n, dtype=np.int64)
    spare = customer if customer.dtype.itemsize >= 4 else np.empty(n, dtype=np.int32)  # for the codes below
    _in_halves(partial(_pack_keys, key, customer, months, product, span, first, n_products), n)
    del customer, product, months
    order, key = _sort_keys(key, bound)
    summed = _take(amounts, order)
    repeats = np.flatnonzero(key[1:] == key[:-1]) + 1  # rows with the key of the row before (few, if any)
    shared = _identical_candidates(key, summed, order, repeats)
    source = _largest_rows(key, order, summed, repeats, n_products) if extra else None  # one per key
    keyed = _keyed_columns(order, repeats, quantity, plans)
    del order
    if len(repeats):  # add the rows of one key into its first, then drop the others, in place
        np.add.at(summed, _run_heads(repeats), summed[repeats])
        key, summed = _drop_rows([key, summed], repeats)
    positive = summed > 0
    if not bool(positive.all()):
        keep = np.flatnonzero(positive)
        key, summed = key[keep], summed[keep]
        source = source[keep] if source is not None else None
        keyed = {name: (values[keep], *rest) for name, (values, *rest) in keyed.items()}
    del positive
    unique_key = key
    # the ledger's columns from the sorted keys, in the buffers at hand: the keys become the months
    size = len(unique_key)
    codes = spare[:size]
    product_codes = np.empty(size, dtype=_code_type(n_products))
    _in_halves(partial(_unpack_keys, unique_key, codes, product_codes, span, first, n_products), size)
    ordinals = unique_key
    del unique_key, key
    columns = {
        "customer_id": _categorical(codes, customers, ascending=True),
        "product": _categorical(product_codes, products),
        "month": pd.PeriodIndex.from_ordinals(ordinals, freq="M").array,
        "mrr_cents": summed,
    }
    if "quantity" in keyed:
        values = keyed["quantity"][0]
        columns["quantity"] = pd.arrays.IntegerArray(np.maximum(values, 0), values < 0)
    if "plans" in keyed:
        codes, categories = keyed["plans"]
        columns["plans"] = _categorical(codes, categories)
    for column in extra:
        codes, categories = _ranked_codes(rows[column])
        columns[column] = _categorical(codes[source], categories)
    return pd.DataFrame(columns, copy=False), shared


def _keyed_columns(order, repeats, quantity, plans) -> dict:
    """
    Return the ledger's ``quantity`` and ``plans`` per key (sorted rows, ``repeats`` still in), as requested.

    Returns ``{"quantity": (int64 per key, -1 not stated)}`` and ``{"plans": (codes per key, -1 not
    stated; categories)}``, one value per key once the repeated rows are dropped (the keys' first rows
    hold them).
    """
    keyed = {}
    heads = _run_heads(repeats) if len(repeats) else repeats
    if quantity is not None:
        q = _take(np.asarray(quantity, dtype=np.int64), order)
        if len(repeats):
            unknown = q < 0
            np.logical_or.at(unknown, heads, unknown[repeats])
            np.add.at(q, heads, np.maximum(q[repeats], 0))
            q[unknown] = -1
            (q,) = _drop_rows([q], repeats)
        keyed["quantity"] = (q,)
    if plans is not None:
        codes, categories = _ranked_codes(plans)
        codes = _take(codes.astype(np.int64), order)
        empty = np.flatnonzero(categories == "")
        if len(empty):  # an empty plan is not stated
            codes[codes == int(empty[0])] = -1
        if len(repeats):
            codes, categories = _plan_sets(codes, categories, heads, repeats)
            (codes,) = _drop_rows([codes], repeats)
        keyed["plans"] = (codes, categories)
    return keyed


def _plan_sets(codes, categories, heads, repeats):
    """Give each key of several rows the code of its set of plans (a new category where the set is new)."""
    texts = list(map(str, categories))
    sets: dict[int, set] = {}
    unknown = set()
    for head, row in zip(heads.tolist(), repeats.tolist(), strict=True):
        if head not in sets:
            sets[head] = {int(codes[head])}
        sets[head].add(int(codes[row]))
    labels = {}
    for head, members in sets.items():
        if -1 in members:
            unknown.add(head)
        elif len(members) > 1:
            labels[head] = "\n".join(sorted(texts[m] for m in members))
    if not labels and not unknown:
        return codes, categories
    new = sorted(set(texts) | set(labels.values()))
    rank = {text: i for i, text in enumerate(new)}
    remap = np.array([rank[t] for t in texts] + [-1], dtype=np.int64)  # -1 stays -1 (the last entry)
    codes = remap[codes]
    for head, label in labels.items():
        codes[head] = rank[label]
    for head in unknown:
        codes[head] = -1
    return codes, pd.Index(new, dtype="str")


def _pack_keys(key, customer, months, product, span: int, first: int, n_products: int, part: slice) -> None:
    """Write ``((customer · span) + month − first) · products + product`` into ``key[part]``, in place."""
    chunk = key[part]
    np.multiply(customer[part], np.int64(span), out=chunk)
    chunk -= first
    chunk += months[part]
    chunk *= n_products
    chunk += product[part]


def _unpack_keys(key, codes, product_codes, span: int, first: int, n_products: int, part: slice) -> None:
    """Read the customer and product codes of ``key[part]`` into ``codes``, ``product_codes``; keys become months."""
    chunk = key[part]
    np.floor_divide(chunk, span * n_products, out=codes[part], casting="unsafe")
    np.remainder(chunk, n_products, out=product_codes[part], casting="unsafe")
    np.floor_divide(chunk, n_products, out=chunk)
    np.remainder(chunk, span, out=chunk)
    chunk += first


#: Passes over at least this many rows are split between two threads (NumPy releases the GIL).
_PARALLEL_ROWS = 4_000_000


def _in_halves(work, n: int) -> None:
    """Run ``work(slice)`` over the two halves of ``range(n)`` in two threads (one, for short ranges)."""
    if n < _PARALLEL_ROWS:
        work(slice(0, n))
        return
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(work, (slice(0, n // 2), slice(n // 2, n))))


def _take(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``values[index]`` (``-1``: the last), the halves in two threads for long ones."""
    out = np.empty(len(index), dtype=values.dtype)
    _in_halves(lambda part: np.take(values, index[part], out=out[part], mode="wrap"), len(index))
    return out


def _run_heads(repeats: np.ndarray) -> np.ndarray:
    """For each repeated row (sorted positions), the first row of its run of equal keys."""
    new_run = np.concatenate([[True], np.diff(repeats) != 1])
    return (repeats[new_run] - 1)[np.cumsum(new_run) - 1]


def _identical_candidates(key, amounts, order, repeats) -> np.ndarray:
    """Input positions of the rows sharing their key and amount with another row (the rows of ``repeats``' runs)."""
    if not len(repeats):
        return np.empty(0, dtype=np.int64)
    rows = np.union1d(repeats, _run_heads(repeats))
    twin = pd.DataFrame({"key": key[rows], "cents": amounts[rows]}).duplicated(keep=False).to_numpy()
    return np.sort(order[rows[twin]]).astype(np.int64)


def _drop_rows(arrays: list[np.ndarray], drop: np.ndarray) -> list[np.ndarray]:
    """Remove the rows at sorted positions ``drop`` from each array, moving the rest down in place."""
    n = len(arrays[0])
    keep = np.ones(n, dtype=bool)
    keep[drop] = False
    out = []
    for array in arrays:
        written = 0
        step = 1 << 20
        for start in range(0, n, step):  # a chunk at a time: the rows kept move to ``written`` ≤ ``start``
            part = array[start : start + step][keep[start : start + step]]
            array[written : written + len(part)] = part
            written += len(part)
        out.append(array[:written])
    return out


def _largest_rows(key, order, amounts, repeats, n_products) -> np.ndarray:
    """
    For each key (sorted rows), the input row whose attributes it takes.

    The customer's largest that month, first on ties.
    """
    n = len(key)
    customer_month = key // n_products
    new_month = np.ones(n, dtype=bool)
    np.not_equal(customer_month[1:], customer_month[:-1], out=new_month[1:])
    del customer_month
    group = np.cumsum(new_month) - 1
    group_starts = np.flatnonzero(new_month)
    largest = np.maximum.reduceat(amounts, group_starts)
    candidate = np.where(amounts == largest[group], order, n)
    first_of_key = np.ones(n, dtype=bool)
    first_of_key[repeats] = False
    return np.minimum.reduceat(candidate, group_starts)[group[first_of_key]]


def _ranked_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of values as text, numbered in sorted text order, and the sorted distinct texts."""
    categories = None
    if isinstance(values.dtype, pd.CategoricalDtype) and not values.hasnans:
        codes = values.array.codes  # a view (``.cat.codes`` copies)
        categories = values.cat.categories
        if categories.dtype != "str":
            categories = categories.astype(str)
            if categories.has_duplicates:  # e.g. 1 and "1": one text
                categories = None
    if categories is None:
        codes, categories = pd.factorize(values.astype(str))
        categories = pd.Index(categories, dtype="str")
    try:  # Arrow sorts UTF-8 bytes, which is code point order, as Python does, only faster
        import pyarrow as pa
        import pyarrow.compute as pc

        texts = pa.array(categories)
        order = pc.sort_indices(texts).to_numpy()
        ordered = pd.Index(pd.array(texts.take(order), dtype="str"))
    except (ImportError, UnicodeError, ValueError, TypeError, ArithmeticError, LookupError):  # e.g. lone surrogates
        texts = np.asarray(categories, dtype=object)
        order = np.argsort(texts, kind="stable")
        ordered = pd.Index(texts[order], dtype="str")
    rank = np.empty(len(order), dtype=_code_type(len(order)))
    rank[order] = np.arange(len(order))
    return _take(rank, codes), ordered


def _present(codes: np.ndarray, size: int) -> np.ndarray:
    """Which of the codes 0 … size − 1 occur (negative codes, for missing values, are left out)."""
    used = np.zeros(size, dtype=bool)
    used[codes if not len(codes) or codes.min() >= 0 else codes[codes >= 0]] = True
    return used


def _code_type(size: int):
    """Return the smallest signed integer type for codes below ``size``."""
    return np.int8 if size < 2**7 else np.int16 if size < 2**15 else np.int32 if size < 2**31 else np.int64


def _categorical(codes: np.ndarray, categories: pd.Index, *, ascending: bool = False) -> pd.Categorical:
    """Return a categorical of the given codes, keeping only the categories that occur (in their order)."""
    distinct = 1 + np.count_nonzero(codes[1:] != codes[:-1]) if ascending and len(codes) else None
    used = None
    if distinct != len(categories):  # for sorted codes the distinct ones are where they change
        used = _present(codes, len(categories))
        used = None if used.all() else used
    if used is not None:
        remap = np.cumsum(used) - 1
        if len(codes) and codes.min() < 0:  # -1 (NA, e.g. a key's plans not stated) stays NA
            codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
        else:
            codes = remap[codes]
        categories = categories[used]
    return categorical_of(codes, categories)


def _sort_keys(key: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """
    Sort non-negative int64 keys below ``bound`` stably: return the order and the sorted keys.

    Sorted keys cost one comparison pass. Otherwise, when a key and its position fit in 63
    bits together, each key is packed with its position into one integer and the integers
    are sorted by value, in place: equal keys stay in position order, and NumPy sorts
    integers by value with SIMD, several times faster than any argsort. ``key`` is consumed.
    """
    n = len(key)
    if n < 2 or not bool((key[1:] < key[:-1]).any()):
        return np.arange(n, dtype=_code_type(n)), key
    bits = (n - 1).bit_length()
    if (int(bound) - 1).bit_length() + bits > 63:
        order = np.argsort(key, kind="stable")
        return order, key[order]
    key <<= bits
    step = 1 << 20
    for start in range(0, n, step):  # the positions, a chunk at a time (no second array of the full size)
        key[start : start + step] |= np.arange(start, min(n, start + step))
    key.sort()
    order = np.bitwise_and(key, (1 << bits) - 1, out=np.empty(n, dtype=_code_type(n)), casting="unsafe")
    key >>= bits
    return order, key
