"""
Encode Arrow text columns fast into categoricals: one hash table, halves in threads, ids as fixed-width bytes.

A speed-up apart from the rules (see :mod:`kit._fast`): :func:`text_categorical` must equal
pyarrow's plain ``pc.dictionary_encode(column.combine_chunks()).to_pandas()`` (each
distinct string once, in first-seen order, missing values as missing), whatever the chunks,
halves and widths; tests/test_fast_arrow.py holds the two equal. The rule it serves is
"text columns as categoricals" of :func:`kit.sources.parquet.read_parquet` and
:func:`kit.sources.csv.read_csv`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from kit.sources.table import categorical_of


def balanced_cut(sizes: list[int]) -> int:
    """
    Return where to cut a list of parts (1 … len − 1) into two runs of about equal total size.

    Any cut gives the same categorical (:func:`encoded_halves` equals the plain encoding of
    the whole column); this one gives the two threads equal work.
    """
    totals = np.cumsum(sizes)
    return int(min(max(np.searchsorted(totals, totals[-1] / 2) + 1, 1), len(sizes) - 1))


#: Text columns of at least this many rows are dictionary-encoded in two halves at once.
PARALLEL_TEXT_ROWS = 4_000_000


def text_categorical(column) -> pd.Series:
    """
    Return a text column as a categorical, each string hashed once, the codes copied once.

    Must equal the plain ``pc.dictionary_encode(column.combine_chunks()).to_pandas()``:
    the same values, categories in first-seen order, missing values as missing.

    Arrow encodes a chunked column with one hash table and gives every chunk the same
    dictionary: the chunks' indices are codes into it. A long column is encoded in two
    halves in two threads (see :func:`encoded_halves`).
    """
    import pyarrow as pa

    if len(column) == 0:
        return pa.chunked_array([], type=pa.dictionary(pa.int32(), column.type)).to_pandas()
    if len(column) >= PARALLEL_TEXT_ROWS and column.num_chunks >= 2:
        middle = balanced_cut([len(chunk) for chunk in column.chunks])
        halves = [column.chunks[:middle], column.chunks[middle:]]
        return encoded_halves(lambda chunks: pa.chunked_array(chunks, type=column.type), halves)
    return encoded_halves(lambda whole: whole, [column])


def encoded_halves(read, parts: list) -> pd.Series:
    """
    Read (``read(part)``) and dictionary-encode the parts of one text column in threads.

    Must equal the plain ``pc.dictionary_encode(whole).to_pandas()`` of the parts read and
    concatenated in order (``whole``), however the column is cut into parts.

    The parts' dictionaries (each distinct string once per part) are encoded once more to
    map every part's codes onto one dictionary, in column order.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    def encode(part):
        column = read(part)
        fixed = fixed_width(column)
        if fixed is None:
            return pc.dictionary_encode(column)
        # ids of one width (C0000001, UUIDs, …) hash faster as fixed-size binary; the dictionary back to text
        encoded = pc.dictionary_encode(fixed)
        if not one_dictionary(encoded):
            return pc.dictionary_encode(column)
        dictionary = encoded.chunk(0).dictionary.cast(column.type)
        return pa.chunked_array([pa.DictionaryArray.from_arrays(c.indices, dictionary) for c in encoded.chunks])

    if len(parts) > 1:
        with ThreadPoolExecutor(len(parts)) as pool:
            encoded = list(pool.map(encode, parts))
    else:
        encoded = [encode(parts[0])]
    kind = encoded[0].type.value_type
    if not all(one_dictionary(e) for e in encoded if e.num_chunks):
        whole = pa.chunked_array([c.dictionary.take(c.indices) for e in encoded for c in e.chunks], type=kind)
        return pc.dictionary_encode(whole.combine_chunks()).to_pandas()
    encoded = [e for e in encoded if e.num_chunks]
    if len(encoded) == 1:
        dictionary, mappings = encoded[0].chunk(0).dictionary, [None]
    else:
        merged = pc.dictionary_encode(pa.chunked_array([e.chunk(0).dictionary for e in encoded], type=kind))
        if not one_dictionary(merged):
            whole = pa.chunked_array([c.dictionary.take(c.indices) for e in encoded for c in e.chunks], type=kind)
            return pc.dictionary_encode(whole.combine_chunks()).to_pandas()
        dictionary = merged.chunk(0).dictionary
        mappings = [chunk.indices.to_numpy() for chunk in merged.chunks]
        # the first part's dictionary comes first, in its order: its codes stand as they are
        mappings = [None if np.array_equal(m, np.arange(len(m))) else m for m in mappings]
    codes = np.empty(sum(len(e) for e in encoded), dtype=np.int32)
    starts = np.cumsum([0] + [len(e) for e in encoded])

    def convert(i):  # the part's codes into its stretch of ``codes``
        at = int(starts[i])
        for chunk in encoded[i].chunks:
            indices = chunk.indices
            missing = indices.null_count > 0
            index = (pc.fill_null(indices, -1) if missing else indices).to_numpy(zero_copy_only=False)
            out = codes[at : at + len(index)]
            if mappings[i] is None:
                out[:] = index
            else:
                np.take(mappings[i], index, out=out)
                if missing:
                    out[index < 0] = -1
            at += len(index)

    if len(encoded) > 1:
        with ThreadPoolExecutor(len(encoded)) as pool:
            list(pool.map(convert, range(len(encoded))))
    else:
        convert(0)
    categories = pd.Index(pd.array(dictionary, dtype="str"))
    return pd.Series(categorical_of(codes, categories), copy=False)  # a dictionary's values are distinct


def fixed_width(column):
    """
    Return the text column as fixed-size binary (the same buffers) when all its values have one byte length, else None.

    Where it returns a column, its values must equal the plain ``[s.encode() for s in
    column.to_pylist()]``; a null (no bytes) or two widths give None.
    """
    import pyarrow as pa

    if not pa.types.is_string(column.type) or not column.num_chunks:
        return None
    width, chunks = None, []
    for chunk in column.chunks:
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32, count=chunk.offset + len(chunk) + 1)[chunk.offset :]
        lengths = np.diff(offsets)  # every slot, nulls too, must take the width for the same buffers to serve
        if not len(lengths):
            return None
        width = int(lengths[0]) if width is None else width
        if width == 0 or not (lengths == width).all():
            return None
        data = chunk.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
        chunks.append(pa.Array.from_buffers(pa.binary(width), len(chunk), [chunk.buffers()[0], data], chunk.null_count))
    return pa.chunked_array(chunks, type=pa.binary(width))


def one_dictionary(encoded) -> bool:
    """
    Tell whether every chunk of a dictionary-encoded column holds the very same dictionary (its buffers).

    True only where the plain ``all(c.dictionary.equals(first) for c in encoded.chunks)``
    holds: a cheap, conservative test. False only sends the caller the plain way.
    """
    if not encoded.num_chunks:
        return False
    first = encoded.chunk(0).dictionary
    return all(
        len(c.dictionary) == len(first)
        and all(a is b or (a is not None and b is not None and a.address == b.address)
                for a, b in zip(c.dictionary.buffers(), first.buffers(), strict=False))
        for c in encoded.chunks
    )  # fmt: skip
