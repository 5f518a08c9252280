"""
Parse amounts into exact cents, text and typed values alike.

Money is exact: text goes through :class:`decimal.Decimal` and is rounded half-even to
the cent; floats (Parquet, Excel) are scaled and rounded to the nearest cent, and only
values near a half cent, where binary floating point could tip the rounding, go through
their shortest decimal representation. No money ever passes ``int(float)``.

Thousands separators are accepted only where asked for (``thousands=","``) and only in
well-formed groups: western grouping (the default) is a leading group of 1–3 digits, then
groups of exactly three (``1,234``, ``12,345,678.90``); Indian grouping
(``thousands_grouping="indian"``) is a last group of three and groups of two before it
(``12,34,567.00``). A grouped number starts with a digit other than 0, and no separator
follows the decimal mark. An amount without any separator is read as it is (``1234``).
Anything else (``1,2``, ``12,00,0``) is a row error naming the form, never a guess.
A space as the separator (``thousands=" "``, or NBSP or narrow NBSP) accepts any of the
three between groups: ``1 200,50`` is written with U+00A0 or U+202F by French locales.

An ambiguous decimal mark is a column error (:func:`check_decimal_mark`, raising
:class:`AmbiguousDecimalMark`): when no thousands separator is stated and every text amount
of the column written with the decimal mark is shaped like grouped thousands (``1.200``,
``12.500``, ``1.000.000``: a first group of 1–3 digits not starting with 0, then groups
of exactly three), and at least one value is, the mark may as well separate thousands
(``1.200`` 1.20 or 1,200?) and is never guessed: a single distinct value repeated over a
customer's months (``1.200`` each month) is as ambiguous as many. One amount written otherwise
(``12.50``, ``0.125``, ``1234.500``) shows the mark is decimal. Values of three zero
decimals (``2.000``) count as ambiguous too. Stating any thousands separator
(``thousands=","`` for prices of three decimals) settles it and disables the check.

Amounts above :data:`MAX_AMOUNT` (either sign) become the sentinel
:data:`TOO_LARGE_CENTS`, so the schema reports them as row errors; integer columns are
bounded before they are scaled to cents (``-2**63`` never wraps round).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import pandas as pd

from kit._fast import decimals as fast_decimals
from kit.parse.distinct import _by_distinct, factorize
from kit.parse.limits import MAX_AMOUNT, TOO_LARGE_CENTS

CENT = Decimal("0.01")


#: The ways ``thousands`` may group digits.
THOUSANDS_GROUPINGS = ("western", "indian")

_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_CURRENCY_MARKS = re.compile(r"^[\s$€£¥]*|[\s$€£¥]*$|^[A-Z]{3}\s+|\s+[A-Z]{3}$")


class AmbiguousDecimalMark(ValueError):
    """An amount column's decimal mark may as well separate thousands (see :func:`check_decimal_mark`)."""


def parse_money(
    series: pd.Series,
    *,
    decimal: str = ".",
    thousands: str | None = None,
    currency_symbols: bool = False,
    thousands_grouping: str = "western",
) -> tuple[np.ndarray, np.ndarray]:
    """
    Parse amounts in major units into integer cents, rounded half-even.

    Parameters
    ----------
    series : Series
        Text (``"12.50"``), integers, floats or Arrow decimals.
    decimal : str
        The decimal mark of text amounts (``"."`` or ``","``).
    thousands : str, optional
        A thousands separator accepted in text amounts, in well-formed groups only (off
        by default, so ``"1,200"`` is an error rather than a guess).
    currency_symbols : bool
        Accept and drop currency symbols or ISO codes around text amounts (``$1200``).
    thousands_grouping : {"western", "indian"}
        How ``thousands`` groups digits: ``1,234,567`` (default) or ``12,34,567``.

    Returns
    -------
    cents : ndarray of int64
        Zero where the value is invalid; :data:`TOO_LARGE_CENTS` above the limit.
    reasons : ndarray of object
        ``None`` where the value parsed, otherwise the problem.

    Examples
    --------
    >>> parse_money(pd.Series(["0.29", "2.675", "abc"]))[0].tolist()
    [29, 268, 0]
    >>> parse_money(pd.Series(["1,234.50", "1,2"]), thousands=",")[0].tolist()
    [123450, 0]
    """
    dtype = series.dtype
    if isinstance(dtype, pd.ArrowDtype) and "decimal" in str(dtype):
        return _money_from_arrow_decimal(series)
    if pd.api.types.is_integer_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
        return _money_from_integers(series)
    if pd.api.types.is_float_dtype(dtype):
        return _money_from_floats(series.to_numpy(dtype=float, na_value=np.nan))
    text = _TextOptions(decimal, thousands, currency_symbols, thousands_grouping)

    def one(value):
        return _money_from_value(value, text)

    values, reasons, codes = _by_distinct(series, one)
    reasons[codes < 0] = "missing amount"
    values[codes < 0] = 0
    return values.astype(np.int64), reasons


#: Space-like thousands separators: with any of them stated, all three are accepted.
SPACES = (" ", "\u00a0", "\u202f")
_SPACED_GROUPS = re.compile(r"\d[ \u00a0\u202f]\d{3}(?!\d)")
_MARK_EXAMPLES = 3


def check_decimal_mark(
    series: pd.Series,
    *,
    decimal: str = ".",
    thousands: str | None = None,
    currency_symbols: bool = False,
    distinct: tuple[np.ndarray, pd.Series] | None = None,
) -> None:
    """
    Refuse a text amount column whose decimal mark may as well separate thousands.

    The rule is in the module docstring: with no ``thousands`` stated, at least one text
    amount written with ``decimal`` and every such amount shaped like grouped thousands
    raise :class:`AmbiguousDecimalMark`, whose message says how to settle it.
    Each distinct value is looked at once, and the first amount written otherwise ends the
    look. Numeric columns (Parquet, Excel, SQL numbers) hold no marks and are not checked.
    ``distinct``: ``factorize(series)`` when the caller has it already (it is then not
    computed again; see :func:`kit.parse.distinct.factorize`).

    >>> check_decimal_mark(pd.Series(["1.200", "2.500", "12.50"]))  # 12.50: the mark is decimal
    >>> try:
    ...     check_decimal_mark(pd.Series(["1.200", "2.500", "1200"]))
    ... except AmbiguousDecimalMark as exc:
    ...     print(str(exc)[:44])
    the decimal mark '.' is ambiguous: every amo
    """
    if thousands:
        return
    dtype = series.dtype
    if isinstance(dtype, pd.ArrowDtype) and "decimal" in str(dtype) or (
            pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype)):  # fmt: skip
        return
    _, uniques = factorize(series) if distinct is None else distinct
    mark = re.escape(decimal)
    written = re.compile(rf"[+-]?[0-9{mark}]*{mark}[0-9{mark}]*")  # only digits, a sign and the mark
    grouped = re.compile(rf"[+-]?[1-9][0-9]{{0,2}}(?:{mark}[0-9]{{3}})+")
    examples: list[str] = []
    count = 0
    for value in uniques.tolist():
        if not isinstance(value, str) or decimal not in value:
            continue
        text = value.strip()
        if currency_symbols:
            text = _CURRENCY_MARKS.sub("", text)
        if not written.fullmatch(text):
            continue  # another form (a row error, or the other mark): no evidence either way
        if not grouped.fullmatch(text):
            return  # 12.50, 0.125, 1234.500: the mark is decimal
        count += 1
        if len(examples) < _MARK_EXAMPLES:
            examples.append(text)
    if not count:
        return
    other = "," if decimal == "." else "."
    shown = ", ".join(repr(e) for e in examples)
    raise AmbiguousDecimalMark(
        f"the decimal mark {decimal!r} is ambiguous: every amount written with it has groups of three digits after "
        f"it ({shown}{', …' if count > len(examples) else ''}), as thousands do; if {decimal!r} separates thousands, "
        f"pass thousands={decimal!r}, decimal={other!r} (CLI --thousands {decimal} --decimal {other}); if these are "
        f"amounts with three decimals, state the thousands separator: thousands={other!r} (CLI --thousands {other})"
    )


def parse_money_problems(
    series: pd.Series,
    *,
    decimal: str = ".",
    thousands: str | None = None,
    currency_symbols: bool = False,
    thousands_grouping: str = "western",
    distinct: tuple[np.ndarray, pd.Series] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """
    Parse like :func:`parse_money`, returning only the problems: ``cents, positions, reasons``.

    ``positions`` are the rows that failed and ``reasons`` why; at millions of rows this
    spares a per-row array of reasons that are nearly all ``None``. ``distinct``:
    ``factorize(series)`` when the caller has it already (used for a text column).
    """
    small = fast_decimals.small_decimals(series)
    if small is not None:
        cents, missing = fast_decimals.money_from_small_decimals(*small)
        positions = np.flatnonzero(missing)
        return cents, positions, np.full(len(positions), "missing amount", dtype=object)
    dtype = series.dtype
    if dtype == np.dtype(object) or isinstance(dtype, pd.CategoricalDtype):  # text: each distinct value parsed once
        options = _TextOptions(decimal, thousands, currency_symbols, thousands_grouping)
        return _money_problems_by_distinct(series, options, distinct)
    cents, reasons = parse_money(series, decimal=decimal, thousands=thousands, currency_symbols=currency_symbols,
                                 thousands_grouping=thousands_grouping)  # fmt: skip
    positions = np.flatnonzero(pd.notna(reasons))
    return cents, positions, reasons[positions]


def _money_problems_by_distinct(series: pd.Series, options: _TextOptions, distinct=None):
    """
    :func:`parse_money_problems` of a text column (object or categorical), as :func:`parse_money` would give it.

    Without a per-row array of objects: each distinct value's cents and reason are
    taken by the rows' codes (integers), and only the failing rows get a reason.
    """
    codes, uniques = factorize(series) if distinct is None else distinct
    cents_u = np.zeros(len(uniques) + 1, dtype=np.int64)
    reasons_u = np.full(len(uniques) + 1, None, dtype=object)
    reasons_u[-1] = "missing amount"  # code -1: the last
    rest = np.arange(len(uniques))
    if _plain_options(options) and _all_text(uniques):
        simple, cents = _simple_amounts(uniques)
        cents_u[: len(uniques)][simple] = cents
        rest = np.flatnonzero(~simple)
    values = uniques.tolist()
    for i in rest.tolist():  # the others, one by one, as parse_money reads them
        cents_u[i], reasons_u[i] = _money_from_value(values[i], options)
    positions = np.flatnonzero(pd.notna(reasons_u)[codes])
    return cents_u[codes], positions, reasons_u[codes[positions]]


class _TextOptions:
    """How text amounts are written: decimal mark, thousands separator and grouping, currency marks."""

    def __init__(self, decimal: str, thousands: str | None, currency_symbols: bool, grouping: str = "western"):
        if grouping not in THOUSANDS_GROUPINGS:
            raise ValueError(f"thousands_grouping must be one of {', '.join(THOUSANDS_GROUPINGS)}, not {grouping!r}")
        if thousands in SPACES:  # NBSP and narrow NBSP stand for a space (see the module docstring)
            thousands = " "
        self.decimal, self.thousands, self.currency_symbols = decimal, thousands, currency_symbols
        self.grouping = grouping
        self.groups = None
        if thousands:
            sep = re.escape(thousands)
            lead, rest = (r"[1-9]\d?", rf"(?:{sep}\d\d)*{sep}\d{{3}}") if grouping == "indian" else (
                r"[1-9]\d{0,2}", rf"(?:{sep}\d{{3}})+")  # fmt: skip
            self.groups = re.compile(lead + rest)
            example = f"12{thousands}34{thousands}567" if grouping == "indian" else f"1{thousands}234{thousands}567"
            self.bad_groups = (f"not a number (thousands separator {thousands!r} in malformed groups; "
                               f"expected e.g. {example})")  # fmt: skip
            self.indian_hint = (f"{self.bad_groups[:-1]}; for Indian grouping pass thousands_grouping='indian', "
                                "CLI --thousands-grouping indian)")  # fmt: skip
            self.indian = re.compile(rf"[1-9]\d?(?:{sep}\d\d)+{sep}\d{{3}}")


def _plain_number(text: str, options: _TextOptions):
    """
    Return ``(plain, reason)``: the text as a plain number (``-1234.5``), or ``None`` and why not.

    ``text`` is stripped and not empty; the grouping rules are in the module docstring.
    """
    cleaned = text
    if options.currency_symbols:
        cleaned = _CURRENCY_MARKS.sub("", cleaned)
    decimal, thousands = options.decimal, options.thousands
    if thousands == " ":  # a space stated: NBSP and narrow NBSP are read as one
        cleaned = cleaned.replace("\u00a0", " ").replace("\u202f", " ")
    if thousands and thousands in cleaned:
        sign = cleaned[:1] if cleaned[:1] in "+-" else ""
        whole, mark, fraction = cleaned[len(sign) :].partition(decimal)
        if thousands in fraction or not options.groups.fullmatch(whole):
            western = options.grouping == "western" and options.indian.fullmatch(whole) and thousands not in fraction
            return None, options.indian_hint if western else options.bad_groups
        cleaned = sign + whole.replace(thousands, "") + mark + fraction
    if decimal != ".":
        if "." in cleaned and thousands != ".":
            return None, f"not a number (the decimal mark is {decimal!r})"
        cleaned = cleaned.replace(decimal, ".")
    if not _PLAIN_NUMBER.match(cleaned):
        return None, f"not a number{_money_hint(text, decimal, thousands, options.currency_symbols)}"
    return cleaned, None


def _money_from_value(value, options: _TextOptions):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return _cents_of(Decimal(int(value)))
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return 0, "missing amount"
        if not np.isfinite(value):
            return 0, "amount is not finite"
        return _cents_of(Decimal(repr(float(value))))
    if isinstance(value, Decimal):
        return _cents_of(value) if value.is_finite() else (0, "amount is not finite")
    text = str(value).strip()
    if text == "" or text.lower() in {"nan", "null", "none", "na", "n/a"}:
        return 0, "missing amount"
    if text.lower().lstrip("+-") in {"inf", "infinity"}:
        return 0, "amount is not finite"
    plain, reason = _plain_number(text, options)
    if plain is None:
        return 0, reason
    return _cents_of(Decimal(plain))


def rounded_positions(
    series: pd.Series,
    *,
    decimal: str = ".",
    thousands: str | None = None,
    currency_symbols: bool = False,
    thousands_grouping: str = "western",
    distinct: tuple[np.ndarray, pd.Series] | None = None,
) -> np.ndarray:
    """
    Return the rows whose amount parses and has more than two decimals (so it is rounded to the cent).

    Decimals are counted under the same options as :func:`parse_money`: ``1.200,00`` with
    ``decimal=","`` and ``thousands="."`` has two, ``2,675`` with ``decimal=","`` three.
    Text, and Python decimals or floats in a text column, are counted; numeric columns
    (Parquet, Excel floats) are not. ``distinct``: ``factorize(series)`` when the caller has
    it already.

    >>> rounded_positions(pd.Series(["1.200,00", "2,675", "3"]), decimal=",", thousands=".").tolist()
    [1]
    """
    dtype = series.dtype
    if isinstance(dtype, pd.ArrowDtype) and "decimal" in str(dtype) or (
            pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype)):  # fmt: skip
        return np.empty(0, dtype=np.int64)
    options = _TextOptions(decimal, thousands, currency_symbols, thousands_grouping)

    def one(value) -> bool:
        if isinstance(value, bool) or isinstance(value, (int, np.integer)):
            return False
        if isinstance(value, (float, np.floating)):
            value = Decimal(repr(float(value))) if np.isfinite(value) else Decimal(0)
        if isinstance(value, Decimal):
            return value.is_finite() and value.as_tuple().exponent < -2
        text = str(value).strip()
        if not text:
            return False
        plain, reason = _plain_number(text, options)
        return plain is not None and len(plain.partition(".")[2]) > 2

    codes, uniques = factorize(series) if distinct is None else distinct  # each distinct value once (-1: missing)
    if _plain_options(options) and _all_text(uniques):  # the same test, vectorised (see _rounded_plain)
        flags = np.append(_rounded_plain(uniques), False)
    else:
        flags = np.array([one(u) for u in uniques.tolist()] + [False], dtype=bool)
    return np.flatnonzero(flags[codes])


def _simple_amounts(texts: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """
    Return the texts written as plain ``-123.45`` (at most 12 digits and 2 decimals, spaces around), and their cents.

    Converted by Arrow: what :func:`_money_from_value` gives them, vectorised.

    Any other text (more decimals, signs, separators, other digits) is left to it.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    stripped = texts.astype(str).str.strip()
    simple = stripped.str.fullmatch(r"-?[0-9]{1,12}(\.[0-9]{1,2})?").to_numpy(dtype=bool, na_value=False)
    decimals = pc.cast(pa.array(stripped[simple].tolist(), type=pa.string()), pa.decimal128(16, 2))
    low = np.frombuffer(decimals.buffers()[1], dtype="<i8")[2 * decimals.offset :: 2][: len(decimals)]
    return simple, low.astype(np.int64)  # the unscaled value is the cents; under 10**14 it fits the low word


def _plain_options(options: _TextOptions) -> bool:
    """Whether text amounts are read with the default options (``.`` decimal mark, no separator, no marks)."""
    return options.decimal == "." and not options.thousands and not options.currency_symbols


def _all_text(values: pd.Series) -> bool:
    return values.dtype != object or all(isinstance(v, str) for v in values.tolist())


def _rounded_plain(texts: pd.Series) -> np.ndarray:
    """
    Under the default options, which texts are plain numbers with more than two decimals.

    Equal to ``rounded_positions``' per-value test there: a plain number matches
    ``_PLAIN_NUMBER`` once stripped, and has more than two decimals when more than two
    digits follow its point (tested against it in tests/test_input_numbers.py).
    """
    stripped = texts.astype(str).str.strip()
    return stripped.str.fullmatch(r"[+-]?(\d+\.\d{3,}|\.\d{3,})").to_numpy(dtype=bool, na_value=False)


def _money_hint(text: str, decimal: str, thousands: str | None, currency_symbols: bool) -> str:
    if not currency_symbols and re.search(r"[$€£¥]", text):
        return " (currency symbols are accepted only with currency_symbols=True, CLI --currency-symbols)"
    if thousands not in SPACES and _SPACED_GROUPS.search(text):
        return " (for a space between thousands, NBSP included, pass thousands=' ', CLI --thousands ' ')"
    if re.fullmatch(r"[+-]?\d+,\d{1,2}", text) and decimal == ".":
        return " (for a decimal comma pass decimal=',', CLI --decimal ,)"
    if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", text) and not thousands:
        return " (for thousands separators pass thousands=',', CLI --thousands ,)"
    return ""


def _cents_of(amount: Decimal):
    if abs(amount) > MAX_AMOUNT:
        return (TOO_LARGE_CENTS if amount > 0 else -TOO_LARGE_CENTS), None
    return int(amount.quantize(CENT, rounding=ROUND_HALF_EVEN) * 100), None


def _money_from_integers(series: pd.Series):
    """
    Cents of an integer column (any width, signed or not, nullable): bounded before scaling.

    The bound is tested on the integers as they are, so ``-2**63`` (whose absolute value
    int64 cannot hold) or a large unsigned value is a row error, never wrapped round.
    """
    unsigned = pd.api.types.is_unsigned_integer_dtype(series.dtype)
    missing = series.isna().to_numpy()
    values = series.to_numpy(dtype=np.uint64 if unsigned else np.int64, na_value=0)
    high = values > MAX_AMOUNT
    low = (values < -MAX_AMOUNT) if values.dtype.kind == "i" else np.zeros(len(values), dtype=bool)
    bounded = np.where(high | low, 0, values).astype(np.int64)
    cents = bounded * 100
    cents[high] = TOO_LARGE_CENTS
    cents[low] = -TOO_LARGE_CENTS
    reasons = np.full(len(values), None, dtype=object)
    reasons[missing] = "missing amount"
    return cents, reasons


def _money_from_floats(values: np.ndarray):
    reasons = np.full(len(values), None, dtype=object)
    missing = np.isnan(values)
    infinite = np.isinf(values)
    reasons[missing] = "missing amount"
    reasons[infinite] = "amount is not finite"
    finite = np.where(missing | infinite, 0.0, values)
    big = np.abs(finite) > MAX_AMOUNT
    scaled = np.where(big, 0.0, finite) * 100.0
    cents = np.rint(scaled)
    # Only near a half cent can binary rounding differ from decimal half-even: redo those exactly.
    near_tie = np.abs(np.abs(scaled - np.floor(scaled)) - 0.5) < 1e-3
    for i in np.flatnonzero(near_tie & ~big):
        cents[i] = int(Decimal(repr(float(finite[i]))).quantize(CENT, rounding=ROUND_HALF_EVEN) * 100)
    cents = cents.astype(np.int64)
    cents[big] = np.sign(finite[big]).astype(np.int64) * TOO_LARGE_CENTS
    return cents, reasons


def _money_from_arrow_decimal(series: pd.Series):
    small = fast_decimals.small_decimals(series)
    if small is not None:
        cents, missing = fast_decimals.money_from_small_decimals(*small)
    else:
        cents, missing = _arrow_decimal_cents(series)
    reasons = np.full(len(cents), None, dtype=object)
    reasons[missing] = "missing amount"
    return cents, reasons


def _arrow_decimal_cents(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """
    Return the cents and missing flags of an Arrow decimal column: half-even to the cent, bounded.

    The plain rule, for any precision and scale (pyarrow's own decimal arithmetic); the
    speed-up :func:`kit._fast.decimals.money_from_small_decimals` must equal it where it applies.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.chunked_array(series.array._pa_array).combine_chunks()
    missing = arr.is_null().to_numpy(zero_copy_only=False)
    as_float = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
    big = np.abs(np.nan_to_num(as_float)) > MAX_AMOUNT
    bounded = pc.if_else(pa.array(big | missing), pa.scalar(Decimal(0), arr.type), arr)
    rounded = pc.round(bounded, ndigits=2, round_mode="half_to_even")
    wide = pc.cast(rounded, pa.decimal128(18, 2))  # bounded above: at most 10**12 with 2 decimals
    cents = pc.cast(pc.multiply(wide, pa.scalar(Decimal(100), pa.decimal128(3, 0))), pa.int64())
    cents = cents.to_numpy(zero_copy_only=False).astype(np.int64)
    cents[big] = np.sign(as_float[big]).astype(np.int64) * TOO_LARGE_CENTS
    return cents, missing
