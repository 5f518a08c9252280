"""
Read small Arrow decimals fast: cents straight from the buffers, without decimal arithmetic.

A speed-up apart from the rules (see :mod:`kit._fast`): where :func:`small_decimals`
applies (at most 2 decimals, 18 digits in cents), :func:`money_from_small_decimals` must
equal the plain rule :func:`kit.parse.money._arrow_decimal_cents` (pyarrow's decimal
rounding, half-even to the cent, bounded by :data:`kit.parse.limits.MAX_AMOUNT`);
tests/test_fast_arrow.py holds the two equal.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kit.parse.limits import MAX_AMOUNT, TOO_LARGE_CENTS


def small_decimals(series: pd.Series):
    """
    Return ``(chunked array, scale)`` of Arrow decimals with at most 2 decimals and 18 digits in cents, else None.

    None sends the caller to the plain rule, :func:`kit.parse.money._arrow_decimal_cents`.
    """
    dtype = series.dtype
    if not (isinstance(dtype, pd.ArrowDtype) and "decimal" in str(dtype)):
        return None
    import pyarrow as pa

    chunked = pa.chunked_array(series.array._pa_array)
    kind = chunked.type
    small = pa.types.is_decimal128(kind) or (hasattr(pa.types, "is_decimal64") and pa.types.is_decimal64(kind))
    if small and kind.scale <= 2 and kind.precision + 2 - kind.scale <= 18:
        return chunked, kind.scale
    return None


def money_from_small_decimals(chunked, scale: int):
    """
    Return the cents and missing flags of Arrow decimals with at most 2 decimals and 18 digits in cents: exact.

    Must equal the plain :func:`kit.parse.money._arrow_decimal_cents` of the same column
    (values beyond the limit as ``±TOO_LARGE_CENTS``, missing ones as 0 and flagged).

    Such a value's unscaled integer fits in 64 bits: all of a ``decimal64``, the low word of
    a ``decimal128``'s two's complement (little-endian), so the cents are that word times
    ``10 ** (2 - scale)``, read straight from the buffer (a read-only view of it when it
    already holds exactly the cents).
    """
    n = len(chunked)
    stride = chunked.type.byte_width // 8  # 2 words a value for decimal128, 1 for decimal64
    chunks = chunked.chunks
    if len(chunks) == 1 and stride == 1 and scale == 2 and not chunks[0].null_count:
        # one chunk of decimal64 cents: the buffer is the answer, read-only, when all are in range
        chunk = chunks[0]
        cents = np.frombuffer(chunk.buffers()[1], dtype="<i8", count=chunk.offset + n)[chunk.offset :]
        if n == 0 or (cents.min() >= -MAX_AMOUNT * 100 and cents.max() <= MAX_AMOUNT * 100):
            return cents, np.zeros(n, dtype=bool)
    cents = np.empty(n, dtype=np.int64)
    missing = np.zeros(n, dtype=bool)
    wide = np.zeros(n, dtype=np.int8)  # decimal128 values that do not fit in 64 bits (data beyond its precision)
    at = 0
    for chunk in chunks:
        size = len(chunk)
        words = np.frombuffer(chunk.buffers()[1], dtype="<i8", count=stride * (chunk.offset + size))
        low = words[stride * chunk.offset :: stride]
        cents[at : at + size] = low
        if stride == 2:  # the high word must be the low word's sign extension, else the low word alone wraps
            high = words[stride * chunk.offset + 1 :: stride]
            beyond = high != (low >> 63)
            if beyond.any():
                wide[at : at + size][beyond] = np.where(high[beyond] < 0, -1, 1)
        if chunk.null_count:
            missing[at : at + size] = chunk.is_null().to_numpy(zero_copy_only=False)
        at += size
    if missing.any():
        cents[missing] = 0
        wide[missing] = 0
    limit = MAX_AMOUNT * 10**scale  # the bound before scaling to cents: the product cannot wrap
    big = (cents > limit) | (cents < -limit) | (wide != 0)
    sign = np.where(wide != 0, wide, np.sign(cents))
    if big.any():
        cents[big] = 0
    if scale < 2:
        cents *= 10 ** (2 - scale)
    if big.any():
        cents[big] = sign[big] * TOO_LARGE_CENTS
    return cents, missing
