"""The Arrow speed-ups (kit/_fast/arrow.py, kit/_fast/decimals.py) equal the plain computations they name."""

from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from kit._fast import arrow, decimals
from kit.parse.limits import MAX_AMOUNT, TOO_LARGE_CENTS
from kit.parse.money import _arrow_decimal_cents


def plain_categorical(column) -> pd.Series:
    """The plain encoding :func:`kit._fast.arrow.text_categorical` names."""
    return pc.dictionary_encode(column.combine_chunks()).to_pandas()


def _text_columns():
    rng = np.random.default_rng(3)
    ids = [f"C{c:07d}" for c in rng.integers(0, 300, 4000)]  # one width: the fixed-size binary path
    words = [str(w) for w in rng.choice(["Core", "API", "Analytics", "", " x "], 4000)]  # several widths
    with_nulls = [None if i % 11 == 0 else v for i, v in enumerate(ids)]
    yield "ids", pa.chunked_array([pa.array(ids[i : i + 700]) for i in range(0, 4000, 700)])
    yield "words", pa.chunked_array([pa.array(words[:1]), pa.array(words[1:2500]), pa.array(words[2500:])])
    yield "nulls", pa.chunked_array([pa.array(with_nulls[:1000]), pa.array(with_nulls[1000:])])
    yield "one-chunk", pa.chunked_array([pa.array(["b", "a", "b", None])])
    yield "empty-chunks", pa.chunked_array([pa.array([], pa.string()), pa.array(["a", "b"]), pa.array([], pa.string())])
    yield "sliced", pa.chunked_array([pa.array(ids[:900]).slice(3, 500), pa.array(ids[900:1500]).slice(1)])
    yield (
        "large_string",
        pa.chunked_array([pa.array(words[:2000], pa.large_string()), pa.array(words[2000:], pa.large_string())]),
    )


@pytest.mark.parametrize("halves_from", [0, 10**12], ids=["in-halves", "whole"])
@pytest.mark.parametrize(("name", "column"), list(_text_columns()), ids=[n for n, _ in _text_columns()])
def test_text_categorical_equals_the_plain_dictionary_encoding(monkeypatch, halves_from, name, column):
    monkeypatch.setattr(arrow, "PARALLEL_TEXT_ROWS", halves_from)
    fast = arrow.text_categorical(column)
    plain = plain_categorical(column)
    assert fast.tolist() == plain.tolist()
    assert list(fast.cat.categories) == list(plain.cat.categories)  # first-seen order
    assert (fast.cat.codes.to_numpy() == plain.cat.codes.to_numpy()).all()
    pd.testing.assert_series_equal(fast, plain, check_categorical=True)


@pytest.mark.parametrize(("name", "column"), list(_text_columns()), ids=[n for n, _ in _text_columns()])
def test_encoded_halves_equal_the_plain_encoding_of_the_whole(name, column):
    chunks = column.chunks
    for cut in range(1, len(chunks)):
        parts = [chunks[:cut], chunks[cut:]]
        fast = arrow.encoded_halves(lambda part: pa.chunked_array(part, type=column.type), parts)
        pd.testing.assert_series_equal(fast, plain_categorical(column))


def test_fixed_width_holds_the_same_bytes_or_declines():
    column = pa.chunked_array([pa.array(["ab", "cd"]).slice(1), pa.array(["ef", "gh"])])
    fixed = arrow.fixed_width(column)
    assert fixed.type == pa.binary(2)
    assert fixed.to_pylist() == [s.encode() for s in column.to_pylist()]
    assert arrow.fixed_width(pa.chunked_array([pa.array(["ab", None])])) is None
    assert arrow.fixed_width(pa.chunked_array([pa.array(["ab"]), pa.array(["abc"])])) is None


def test_one_dictionary_is_true_only_where_the_dictionaries_are_equal():
    column = pa.chunked_array([pa.array(["a", "b"]), pa.array(["b", "c"])])
    encoded = pc.dictionary_encode(column)
    assert arrow.one_dictionary(encoded)
    assert all(c.dictionary.equals(encoded.chunk(0).dictionary) for c in encoded.chunks)
    apart = pa.chunked_array([pc.dictionary_encode(chunk) for chunk in column.chunks])
    assert not arrow.one_dictionary(apart)


def _decimal_series(values, kind, chunk=None):
    chunk = chunk or max(len(values), 1)
    arrays = [pa.array(values[i : i + chunk], type=kind) for i in range(0, len(values), chunk)] or [pa.array([], kind)]
    return pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array(arrays, type=kind)))


def _decimal_cases():
    rng = np.random.default_rng(11)
    cents = [int(c) for c in rng.integers(-(10**9), 10**9, 3000)]
    two = [Decimal(c).scaleb(-2) for c in cents]
    with_nulls = [None if i % 7 == 0 else v for i, v in enumerate(two)]
    big = [Decimal(MAX_AMOUNT) + Decimal("0.01"), Decimal(-MAX_AMOUNT) - 1, Decimal(MAX_AMOUNT), Decimal("-0.01")]
    yield "decimal128(18,2)", two, pa.decimal128(18, 2), None
    yield "chunked-with-nulls", with_nulls, pa.decimal128(18, 2), 400
    yield "beyond-the-limit", big * 3, pa.decimal128(16, 2), 5
    yield "scale-0", [Decimal(c // 100) for c in cents] + [Decimal(MAX_AMOUNT + 1)], pa.decimal128(14, 0), None
    yield "scale-1", [Decimal(c // 10).scaleb(-1) for c in cents] + [None], pa.decimal128(15, 1), 999
    yield "empty", [], pa.decimal128(18, 2), None
    if hasattr(pa, "decimal64"):
        yield "decimal64(18,2)", with_nulls, pa.decimal64(18, 2), 1000
        yield "decimal64-one-chunk", two, pa.decimal64(18, 2), None


@pytest.mark.parametrize(("name", "values", "kind", "chunk"), list(_decimal_cases()),
                         ids=[c[0] for c in _decimal_cases()])  # fmt: skip
def test_small_decimals_read_from_the_buffers_equal_the_plain_rounding(name, values, kind, chunk):
    series = _decimal_series(values, kind, chunk)
    small = decimals.small_decimals(series)
    assert small is not None
    fast_cents, fast_missing = decimals.money_from_small_decimals(*small)
    plain_cents, plain_missing = _arrow_decimal_cents(series)
    assert fast_cents.dtype == plain_cents.dtype == np.int64
    assert fast_cents.tolist() == plain_cents.tolist()
    assert fast_missing.tolist() == plain_missing.tolist()
    if name == "beyond-the-limit":
        assert fast_cents[:2].tolist() == [TOO_LARGE_CENTS, -TOO_LARGE_CENTS]


def test_decimals_the_speed_up_does_not_take_go_the_plain_way():
    assert decimals.small_decimals(_decimal_series([Decimal("1.234")], pa.decimal128(10, 3))) is None
    assert decimals.small_decimals(_decimal_series([Decimal("1.23")], pa.decimal128(38, 2))) is None
    assert decimals.small_decimals(pd.Series([1.5])) is None
