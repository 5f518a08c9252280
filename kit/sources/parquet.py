"""
Read Parquet files into raw tables; text columns as categoricals.

Typed columns are read exactly or refused: nested values (list, struct, map) and
``float16`` are a LoadError naming the column; binary columns are decoded as UTF-8 and
named in the details (``columns note``). Text with few distinct values comes through the
file's own dictionaries; text with many is dictionary-encoded once over the whole column
(in two halves at once from :data:`kit._fast.arrow.PARALLEL_TEXT_ROWS` rows): the Arrow
buffer work is in :mod:`kit._fast.arrow`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from kit._fast import arrow
from kit.errors import LoadError
from kit.rules import EXACT  # integers beyond it are not exact in float64, pandas' form of a column with nulls
from kit.sources.table import RawTable, RowNumbers, _with_normalised_columns


def read_parquet(path: Path) -> RawTable:
    """
    Read a Parquet file; text columns as categoricals (each distinct string hashed once).

    Text with few distinct values (products, plans) comes through the file's own
    dictionaries. Text with many (customer ids), whose dictionaries writers give up on, is
    read as plain strings and dictionary-encoded once over the whole column: decoding it
    chunk by chunk into dictionaries and unifying them costs several times more. Such a
    column is read and encoded in two halves of the row groups at once, in two threads.
    The other columns are read one at a time, each released once converted (a
    multi-threaded read of the whole table holds and touches much more memory).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    name = path.name
    try:
        parquet = pq.ParquetFile(path)
        schema = parquet.schema_arrow
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise LoadError(f"{name}: not a readable Parquet file ({exc})") from None
    _check_parquet_types(name, schema, pa)
    try:
        few = _few_distinct(path, parquet, [f.name for f in schema if _is_text(f.type)])
        reader = pq.ParquetFile(path, read_dictionary=few)
        rows = parquet.metadata.num_rows
        row_groups = parquet.metadata.num_row_groups
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise LoadError(f"{name}: not a readable Parquet file ({exc})") from None
    if rows == 0:
        raise LoadError(f"{name}: the file has columns but no rows")
    names = schema.names
    columns = {}
    decoded: list[str] = []  # binary columns read as UTF-8 text
    if len(set(names)) == len(names):
        for i, column_name in enumerate(names):
            kind = schema.field(i).type
            if _is_text(kind) and column_name not in few and rows >= arrow.PARALLEL_TEXT_ROWS and row_groups >= 2:
                sizes = [parquet.metadata.row_group(g).num_rows for g in range(row_groups)]
                middle = arrow.balanced_cut(sizes)
                halves = [list(range(middle)), list(range(middle, row_groups))]
                columns[i] = arrow.encoded_halves(partial(_read_row_groups, path, name, column_name), halves)
            else:
                column = _read_column(reader, name, column_name, kind, pa)
                columns[i] = _column_to_pandas(_flat_column(name, column_name, column, pa, decoded), pa)
    else:
        arrow_table = _read_columns(reader, name, None)
        while arrow_table.num_columns:  # column by column, each Arrow column released once converted
            column_name = names[len(columns)]
            column = _flat_column(name, column_name, arrow_table.column(0), pa, decoded)
            columns[len(columns)] = _column_to_pandas(column, pa)
            arrow_table = arrow_table.remove_column(0)
    # give the memory of the read (the strings, above all) back, for the steps after to reuse
    pa.default_memory_pool().release_unused()
    frame = pd.DataFrame(columns, copy=False)
    frame.columns = names
    frame = _with_normalised_columns(frame, name)
    details = {"format": "Parquet"}
    if decoded:
        details["columns note"] = f"binary columns read as UTF-8 text: {', '.join(decoded)}"
    return RawTable(frame, name, RowNumbers(len(frame)), details)


def _check_parquet_types(name: str, schema, pa) -> None:
    """
    Refuse columns the kit cannot read exactly, before any is read.

    Nested values (list, struct, map, union, a dictionary of them) are no cell the kit can
    read, and half-precision floats (``float16``, about 3 significant digits) hold no
    amount exactly: both are a LoadError naming the column and its type, whether or not
    the kit needs the column (leaving one out silently would drop data).
    """
    for field_ in schema:
        kind = field_.type
        value = kind.value_type if pa.types.is_dictionary(kind) else kind
        if pa.types.is_nested(value):
            raise LoadError(
                f"{name}: column {field_.name!r} holds nested values ({kind}), which the kit cannot read; "
                "the kit reads columns of text, numbers and dates: write the file without it, or flatten it"
            )
        if pa.types.is_float16(value):
            raise LoadError(
                f"{name}: column {field_.name!r} is float16 (half precision, about 3 significant digits), "
                "too coarse to be read exactly; write it as float64 or decimal"
            )


def _flat_column(name: str, column_name: str, column, pa, decoded: list[str]):
    """
    Return a flat Arrow column in a form :func:`_column_to_pandas` keeps exact.

    Binary columns (writers that do not mark text as UTF-8) are decoded as UTF-8 text, and
    listed in ``decoded``; bytes that are not UTF-8 are a LoadError. ``uint64`` columns are
    read as ``int64`` when they fit; integers that neither ``int64`` nor (with nulls) float64
    holds exactly are read as Python integers.
    """
    import pyarrow.compute as pc

    kind = column.type
    value = kind.value_type if pa.types.is_dictionary(kind) else kind
    if pa.types.is_binary(value) or pa.types.is_large_binary(value) or pa.types.is_fixed_size_binary(value):
        text = pa.large_string() if pa.types.is_large_binary(value) else pa.string()
        try:
            if pa.types.is_dictionary(kind):
                column = column.cast(pa.dictionary(kind.index_type, text))
            else:
                column = column.cast(pa.binary() if pa.types.is_fixed_size_binary(value) else value).cast(text)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise LoadError(f"{name}: column {column_name!r} holds bytes ({kind}) that are not UTF-8 text; "
                            "the kit reads columns of text, numbers and dates") from None  # fmt: skip
        decoded.append(column_name)
        return column
    if pa.types.is_integer(kind) and len(column):
        low, high = pc.min_max(column).values()
        low, high = low.as_py(), high.as_py()
        if low is None:  # only nulls
            return column
        beyond = max(abs(low), abs(high))
        if beyond > np.iinfo(np.int64).max or (column.null_count and beyond > EXACT):
            return pd.Series(column.to_pylist(), dtype=object)  # None where null (read as empty)
        if pa.types.is_uint64(kind):
            return column.cast(pa.int64())
    return column


def _read_row_groups(path: Path, name: str, column: str, row_groups: list[int]):
    """One column of some row groups, from a reader of its own (one per thread)."""
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).read_row_groups(row_groups, columns=[column]).column(0)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise LoadError(f"{name}: not a readable Parquet file ({exc})") from None


def _read_column(reader, name: str, column: str, arrow_type, pa):
    """
    One column of a Parquet file.

    Decimals of up to 18 digits are read batch by batch as ``decimal64`` (8 bytes a value,
    exact), not as ``decimal128`` (16 bytes).
    """
    if not (pa.types.is_decimal128(arrow_type) and arrow_type.precision <= 18):
        return _read_columns(reader, name, [column]).column(0)
    narrow = pa.decimal64(arrow_type.precision, arrow_type.scale)
    try:
        values = np.empty(reader.metadata.num_rows, dtype=np.int64)
        at = 0
        for batch in reader.iter_batches(batch_size=1 << 20, columns=[column]):
            array = batch.column(0)
            if array.null_count:  # nulls: Arrow's own cast keeps them
                parts = [b.column(0).cast(narrow) for b in reader.iter_batches(batch_size=1 << 20, columns=[column])]
                return pa.chunked_array([pa.concat_arrays(parts)], type=narrow)
            # up to 18 digits, the unscaled value is the low word of the 128-bit two's complement
            words = np.frombuffer(array.buffers()[1], dtype="<i8", count=2 * (array.offset + len(array)))
            values[at : at + len(array)] = words[2 * array.offset :: 2]
            at += len(array)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise LoadError(f"{name}: not a readable Parquet file ({exc})") from None
    return pa.chunked_array([pa.Array.from_buffers(narrow, at, [None, pa.py_buffer(values[:at])])], type=narrow)


def _read_columns(reader, name: str, columns: list[str] | None):
    try:
        return reader.read(columns=columns)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise LoadError(f"{name}: not a readable Parquet file ({exc})") from None


def _is_text(arrow_type) -> bool:
    import pyarrow as pa

    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def _few_distinct(path: Path, parquet, text_columns: list[str]) -> list[str]:
    """Text columns whose first row group holds at most one distinct value in four rows."""
    import pyarrow.parquet as pq

    if not text_columns or parquet.metadata.num_row_groups == 0:
        return text_columns
    sample = pq.ParquetFile(path, read_dictionary=text_columns).read_row_group(0, columns=text_columns)
    few = []
    for column_name in text_columns:
        column = sample.column(column_name)
        distinct = sum(len(chunk.dictionary) for chunk in column.chunks)
        if distinct * 4 <= max(sample.num_rows, 1):
            few.append(column_name)
    return few


def _column_to_pandas(column, pa) -> pd.Series:
    """
    One Arrow column as pandas.

    Text as a categorical, decimals exact and dates (``date32``) as they are (Arrow dtypes,
    no copy; :mod:`kit.parse` reads them), times as datetime64.
    """
    if isinstance(column, pd.Series):  # already pandas (see _flat_column)
        return column
    if _is_text(column.type):
        return arrow.text_categorical(column)
    if pa.types.is_dictionary(column.type):
        column = column.unify_dictionaries() if column.num_chunks > 1 else column
        return (column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)).to_pandas()
    if pa.types.is_decimal(column.type) or pa.types.is_date32(column.type):
        return pd.Series(pd.arrays.ArrowExtensionArray(column))
    return pa.table({"x": column}).to_pandas(date_as_object=False)["x"]
