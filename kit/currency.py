"""
Convert amounts into the reporting currency, and read FX tables.

See :mod:`kit.ledger` ("FX tables and their base") for the rule: rates are the value of one
unit in the table's base; amounts convert in exact fractions, rounded half-even to the cent
once; ``fx_mode="constant"`` uses the window's last month's rates for every month.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd

from kit import parse
from kit.errors import LoadError, ParameterError
from kit.kinds import _serial_dates
from kit.months import month_ordinals, ordinal_to_str
from kit.sources import read_source
from kit.subscriptions import divide_half_even


def _convert_currency(ctx, rows, months, fx, fx_mode, currency, last):
    """
    Convert the rows' MRR into the reporting currency; return ``reporting, amounts, rows, months``.

    See the module docstring ("FX tables and their base") for the rule. Rows whose converted
    amount passes the amount limit are row errors (in quarantine: excluded, and dropped
    from the returned rows).
    """
    amounts = rows["mrr_cents"].to_numpy(dtype=np.int64)
    if "currency" not in rows.columns:
        if fx is not None:
            raise ParameterError(f"{ctx.raw.name}: an FX table was given but the data has no currency column")
        return currency, amounts, rows, months
    present = sorted(set(rows["currency"].astype(str)))
    ctx.currencies = present
    if fx is None:
        return _only_currency(ctx.raw.name, present, currency), amounts, rows, months
    rates = load_fx(fx)
    reporting = (currency or _infer_reporting(rates, present)).upper()
    through = _fx_base(rates, reporting, _fx_name(fx))  # None: the table is based on the reporting currency
    last_m = int(month_ordinals(np.array([last.to_timestamp()], dtype="datetime64[ns]"))[0])
    need_months = np.full(len(months), last_m) if fx_mode == "constant" else months
    need = pd.DataFrame({"currency": rows["currency"].astype(str).to_numpy(), "m": need_months})
    foreign = (need["currency"] != reporting).to_numpy()
    pairs = need.loc[foreign].drop_duplicates()
    table = rates.set_index(["currency", "m"])["rate"]
    _check_rates_listed(rates, table, pairs, reporting, through)
    converted = amounts.copy()
    idx = np.flatnonzero(foreign)
    if len(idx):
        factors = _factors(table, pairs, reporting, through)
        keys = zip(need["currency"].to_numpy()[idx].tolist(), need["m"].to_numpy()[idx].tolist(), strict=True)
        values = [
            divide_half_even(a * factors[k][0], factors[k][1]) for a, k in zip(amounts[idx].tolist(), keys, strict=True)
        ]
        values = np.array(values, dtype=object)
        over = values > parse.MAX_AMOUNT * 100
        values[over] = 0
        converted[idx] = values.astype(np.int64)
        if through is not None:
            label = f"the FX table's base {through}" if through != _CROSS_RATES else "the FX table's cross rates"
            ctx.note(f"amounts converted to {reporting} through {label} (amount × rate of its currency / rate of "
                     f"{reporting})", np.unique(ctx.frame.index.get_indexer(rows.index[idx])))  # fmt: skip
        if over.any():
            positions = ctx.frame.index.get_indexer(rows.index[idx[over]])
            dropped = ctx.refuse_late("mrr" if "mrr" in ctx.frame.columns else "amount", positions,
                                      f"amount above {parse.MAX_AMOUNT:,} after conversion to {reporting}")  # fmt: skip
            keep = ~rows.index.isin(dropped)
            rows, converted, months = rows.loc[keep], converted[keep], np.asarray(months)[keep]
    return reporting, converted, rows, months


def _only_currency(name: str, present: list[str], currency: str | None) -> str:
    """Return the data's one currency, the reporting one without an FX table; refuse several, or another one."""
    if not present:  # no row in force at any month's end: no amount to convert (the window is all zero)
        return currency.upper() if currency else None
    if len(present) == 1 and (currency is None or currency.upper() == present[0]):
        return present[0]
    raise LoadError(
        f"{name}: several currencies ({', '.join(present)}) and no FX table; "
        "pass fx= a table of currency, month, rate (CLI --fx FILE)"
        if len(present) > 1
        else f"{name}: the data is in {present[0]}, not {currency}; pass an FX table (CLI --fx FILE)"
    )


def _check_rates_listed(rates: pd.DataFrame, table: pd.Series, pairs: pd.DataFrame, reporting: str, through) -> None:
    """Refuse a table without a rate for a (currency, month) converted, or for the reporting currency's months."""
    missing = [(c, m) for c, m in pairs.itertuples(index=False) if (c, m) not in table.index]
    if through is not None:  # the reporting currency's rate is needed in each month converted
        missing += [(reporting, m) for m in sorted(set(pairs["m"])) if (reporting, m) not in table.index]
    if not missing:
        return
    shown = ", ".join(f"{c} {ordinal_to_str(m)}" for c, m in missing[:10])
    more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
    if through == _CROSS_RATES:
        raise LoadError(f"FX table: no rate for {shown}{more} " + _cross_rates_hint(rates, reporting, missing))
    how = f"; the table is based on {through}, so amounts convert through {reporting}'s rate" if through else ""
    raise LoadError(f"FX table: no rate for {shown}{more} (reporting currency {reporting}{how})")


def _factors(table: pd.Series, pairs: pd.DataFrame, reporting: str, through) -> dict:
    """Return (currency, month) -> (numerator, denominator) of the exact conversion factor."""
    factors = {}
    for c, m in pairs.itertuples(index=False):
        num, den = table[(c, m)].as_integer_ratio()
        if through is not None:
            r_num, r_den = table[(reporting, m)].as_integer_ratio()
            num, den = num * r_den, den * r_num
        factors[(c, m)] = (num, den)
    return factors


def _cross_rates_hint(rates: pd.DataFrame, reporting: str, missing: list[tuple[str, int]]) -> str:
    """
    Say what a table of cross rates is taken to mean, and what to fix.

    A table of cross rates has no currency at 1, and the reporting one not at 1.
    """
    listed = rates.loc[rates["currency"] == reporting].sort_values("m")
    shown = ", ".join(
        f"{r:g} in {ordinal_to_str(m)}" for r, m in zip(listed["rate"].head(3), listed["m"].head(3), strict=True)
    )
    shown += ", …" if len(listed) > 3 else ""
    absent = ", ".join(dict.fromkeys(c for c, _ in missing if c != reporting)) or reporting
    return (
        f"(reporting currency {reporting}): no currency is at rate 1 in every month and {reporting}'s rate is not 1 "
        f"({shown}), so the rates are read as cross rates, each the value of one unit in a common base the table "
        f"does not list, and amounts convert as amount × rate of their currency / rate of {reporting}.\n"
        f"Add the missing rates ({absent}) in that same base; or, if the rates are the value of one unit in "
        f"{reporting}, give {reporting} rate 1 in every month (or leave {reporting} out of the table)."
    )


def _fx_name(fx) -> str:
    return "FX table" if isinstance(fx, pd.DataFrame) else f"FX table {fx}"


_CROSS_RATES = "(cross rates)"  # _fx_base: no listed base; amounts convert through the reporting currency's rates


def _fx_base(rates: pd.DataFrame, reporting: str, name: str) -> str | None:
    """
    Return the currency to convert through, or None where rates are already in the reporting currency.

    None when the reporting currency is at 1 wherever the table lists it, or when the table
    lists neither it nor any currency at 1 in every month. Otherwise the table's base (the
    one currency at 1 in every month), or :data:`_CROSS_RATES` for a table without one: amounts
    convert at cross rates through the reporting currency's own rates, which must be listed.
    """
    at_one = rates.groupby("currency")["rate"].apply(lambda r: bool((r == 1).all()))
    ones = sorted(at_one[at_one].index)
    if reporting in at_one.index:
        if at_one[reporting]:
            return None
        return ones[0] if len(ones) == 1 else _CROSS_RATES
    if not ones:
        return None
    if len(ones) == 1:
        raise LoadError(
            f"{name}: the table is based on {ones[0]} (rate 1 in every month) and has no rates for {reporting}, "
            f"the reporting currency; add {reporting} rates (the value of one {reporting} in {ones[0]}) "
            f"or report in {ones[0]} (currency=, CLI --currency)"
        )
    raise LoadError(
        f"{name}: no consistent base: {', '.join(ones)} are all at rate 1 and {reporting}, the reporting currency, "
        f"is not listed; add {reporting} rates or report in one of them (currency=, CLI --currency)"
    )


def _infer_reporting(rates: pd.DataFrame, present: list[str]) -> str:
    at_one = rates.groupby("currency")["rate"].apply(lambda r: bool((r == 1).all()))
    ones = sorted(at_one[at_one].index)
    if len(ones) == 1:
        return ones[0]
    missing = [c for c in present if c not in set(rates["currency"])]
    if len(missing) == 1:
        return missing[0]
    raise ParameterError(
        "cannot tell the reporting currency from the FX table; pass currency= (CLI --currency), "
        f"e.g. one of {', '.join(present)}"
    )


def load_fx(fx) -> pd.DataFrame:
    """
    Read an FX table into ``currency, m, rate`` (``m``: months since 1970-01; ``rate``: Decimal).

    One unit of ``currency`` is worth ``rate`` units of the table's base (see
    :mod:`kit.ledger`, "FX tables and their base"). Errors name the file and rows: unknown
    columns, unparseable months, zero or negative or non-numeric rates, two rates for one
    currency · month.

    Parameters
    ----------
    fx : str, Path or DataFrame
        A file (CSV, Excel, Parquet, …) or a frame with columns ``currency, month, rate``;
        ``month`` as ``YYYY-MM`` or any date in the month.

    Returns
    -------
    DataFrame
        ``currency`` (upper case), ``m`` (int64 month ordinal) and ``rate`` (``Decimal``),
        one row per input row.

    Raises
    ------
    LoadError
        A missing column, an invalid month or rate (the first five, with their rows), or
        two rates for one currency · month.

    Examples
    --------
    >>> fx = pd.DataFrame({"currency": ["eur", "EUR", "USD"], "month": ["2024-01", "2024-02", "2024-01"],
    ...                    "rate": ["1.10", "1.08", "1"]})
    >>> load_fx(fx)
      currency    m  rate
    0      EUR  648  1.10
    1      EUR  649  1.08
    2      USD  648     1
    >>> load_fx(fx.assign(rate=["1.10", "0", "1"]))
    Traceback (most recent call last):
    ...
    kit.errors.LoadError: the DataFrame: invalid FX rows: row 2, column rate: '0' is not a positive number
    """
    raw = read_source(fx)
    missing = [c for c in ("currency", "month", "rate") if c not in raw.frame.columns]
    if missing:
        raise LoadError(
            f"{raw.name}: the FX table needs columns currency, month, rate; missing {', '.join(missing)} "
            f"(columns found: {', '.join(raw.frame.columns)})"
        )
    frame = raw.frame
    try:
        days, reasons = parse.parse_dates(frame["month"], what="month", serial_dates=_serial_dates(raw))
    except parse.MixedDateFormats as exc:
        raise LoadError(f"{raw.name}, column month: {exc}") from None
    problems = [f"row {raw.row_numbers[i]}, column month: {frame['month'].iloc[i]!r} {reasons[i]}"
                for i in np.flatnonzero(pd.notna(reasons))]  # fmt: skip
    rates = []
    for i, value in enumerate(frame["rate"].to_numpy()):
        text = repr(float(value)) if isinstance(value, float) else str(value).strip()
        try:
            rate = Decimal(text)
        except InvalidOperation:
            rate = None
        if rate is None or not rate.is_finite() or rate <= 0:
            problems.append(f"row {raw.row_numbers[i]}, column rate: {text!r} is not a positive number")
        rates.append(rate)
    if problems:
        more = f" and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise LoadError(f"{raw.name}: invalid FX rows: {'; '.join(problems[:5])}{more}")
    out = pd.DataFrame({
        "currency": parse.clean_text(frame["currency"]).astype(str).str.upper().to_numpy(),
        "m": month_ordinals(days),
        "rate": rates,
    })  # fmt: skip
    dup = out.duplicated(["currency", "m"], keep=False)
    if dup.any():
        first = out.loc[dup].iloc[0]
        raise LoadError(f"{raw.name}: two rates for {first['currency']} {ordinal_to_str(first['m'])}")
    return out


def data_currencies(ledger) -> tuple[str, ...]:
    """
    Return the currencies of a ledger's data, sorted: empty when the data has no currency column.

    The list the loader kept (``ledger.quality.currencies``), which the report's sentences
    join, rather than the data-quality table's text split again; for a ledger built by hand
    without it, the currencies of its rows.
    """
    if ledger.quality.currencies:
        return tuple(ledger.quality.currencies)
    if "currency" not in ledger.frame.columns:
        return ()
    return tuple(sorted(set(ledger.frame["currency"].astype(str))))
