"""
Distinct values of a raw column: codes, stripped text, each value parsed once.

Each parser takes a column as read (text, or native types from Parquet, Excel or SQL)
and returns the typed values together with a *reason* per row: ``None`` where the value
parsed, otherwise a short sentence naming the problem. Text is parsed once per distinct
value, so a column of 20 million rows with a few thousand distinct values costs little.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _by_distinct(series: pd.Series, parse_one) -> tuple[list, np.ndarray]:
    """Apply ``parse_one`` to each distinct value; return per-row (values, reasons)."""
    codes, uniques = _pandas_factorize(series)
    parsed = [parse_one(u) for u in uniques]
    values = np.array([p[0] for p in parsed] + [None], dtype=object)
    reasons = np.array([p[1] for p in parsed] + [None], dtype=object)
    return values[codes], reasons[codes], codes


def factorize(series: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """
    Return codes of a column's values and its distinct values, each once (code -1: missing).

    Arrow columns (from Parquet) are encoded by Arrow, with one hash table over all their
    chunks: several times faster than :func:`pandas.factorize`, used for the others.

    >>> codes, uniques = factorize(pd.Series(["b", "a", None, "b"]))
    >>> codes.tolist(), uniques.tolist()
    ([0, 1, -1, 0], ['b', 'a'])
    """
    if isinstance(series.dtype, pd.CategoricalDtype):  # already encoded: its codes and categories, if all are used
        codes = series.cat.codes.to_numpy()
        used = np.zeros(len(series.cat.categories) + 1, dtype=bool)
        used[codes] = True  # code -1 (missing) marks the extra last entry
        if used[:-1].all():
            return codes, pd.Series(series.cat.categories)
    if isinstance(series.dtype, pd.ArrowDtype):
        import pyarrow as pa
        import pyarrow.compute as pc

        try:
            chunks = pc.dictionary_encode(pa.chunked_array(series.array._pa_array)).chunks
        except pa.ArrowNotImplementedError:  # a type Arrow cannot encode (decimal64, …): value by value below
            chunks = []
        if chunks and all(c.dictionary is chunks[0].dictionary or c.dictionary.equals(chunks[0].dictionary)
                          for c in chunks[1:]):  # fmt: skip
            codes = np.empty(len(series), dtype=np.int32)
            at = 0
            for chunk in chunks:
                indices = chunk.indices
                if indices.null_count:
                    indices = pc.fill_null(indices, -1)
                codes[at : at + len(chunk)] = indices.to_numpy(zero_copy_only=False)
                at += len(chunk)
            dictionary = pa.chunked_array([chunks[0].dictionary], type=series.dtype.pyarrow_dtype)
            return codes, pd.Series(pd.arrays.ArrowExtensionArray(dictionary))
    codes, uniques = _pandas_factorize(series)
    return codes, pd.Series(uniques)


def _pandas_factorize(series: pd.Series):
    """:func:`pandas.factorize`, value by value where pandas cannot factorize the type (an Arrow decimal64, …)."""
    try:
        return pd.factorize(series, use_na_sentinel=True)
    except (TypeError, NotImplementedError, ValueError):
        return pd.factorize(series.astype(object), use_na_sentinel=True)


def clean_text(series: pd.Series) -> pd.Series:
    """Return text values stripped of surrounding spaces; numbers from typed sources as their plain text."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        original = series.cat.categories
        if original.inferred_type == "string":  # text: strip it, and rename only if something changed
            changed = _any_to_strip(original)
            if changed:
                texts = original.tolist()
                stripped = [text.strip() for text in texts]
                # strip returns the same str if unchanged
                changed = any(a is not b for a, b in zip(stripped, texts, strict=True))
            categories = pd.Index(stripped, dtype=original.dtype) if changed else original
        else:
            categories, changed = original.map(_text_of), True
        if changed and categories.has_duplicates:  # two categories collapse after stripping
            return pd.Series(np.asarray(categories)[series.cat.codes], index=series.index).where(series.notna(), "")
        renamed = series.cat.rename_categories(categories) if changed else series
        if not renamed.hasnans:
            return renamed
        return (renamed if "" in categories else renamed.cat.add_categories([""])).fillna("")
    values, _, codes = _by_distinct(series, lambda v: (_text_of(v), None))
    values[codes < 0] = ""
    return pd.Series(values, index=series.index, dtype=object)


def _any_to_strip(texts: pd.Index) -> bool:
    """
    Whether some text begins or ends with whitespace (as ``str.strip`` sees it).

    Looks at the distinct first and last characters only (Arrow slices them out), so a
    million ids cost a few milliseconds; True when it cannot tell.
    """
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        array = pa.array(texts)
        ends = pa.chunked_array([pc.utf8_slice_codeunits(array, 0, 1), pc.utf8_slice_codeunits(array, -1)])
        return any(char is not None and char.strip() != char for char in pc.unique(ends).to_pylist())
    except Exception:  # not text Arrow can read: the caller strips every value
        return True


def _text_of(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
