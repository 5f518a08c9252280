"""
The ledger, movements and summary frames, declared as pandera models: the contracts between the stages.

Each model is the column contract of docs/definitions.md ("The ledger", "Movements", "Summary") written
as a :class:`pandera.pandas.DataFrameModel`: a field per column with its dtype, its bounds and
its meaning, and a named check per rule that ties the columns together. Validate a frame
with every failure reported at once::

    Movements.validate(frame, lazy=True)  # raises pandera's SchemaErrors, see .failure_cases

The rules the checks hold (money in integer cents throughout, contraction and churn stored as
positive amounts):

- ledger: one row per customer · product · month, ``mrr_cents > 0``, sorted by customer,
  month, product; the other columns are categorical customer attributes (``currency`` among them).
- movements: each row's bridge ``mrr_end = mrr_start + new + reactivation + upsell +
  cross_sell − contraction − churn``; ``expansion = upsell + cross_sell``; the class follows
  ``S = mrr_start`` and ``E = mrr_end`` (new and reactivation ``S = 0 < E``, churn
  ``E = 0 < S``, expansion ``0 < S < E``, contraction ``0 < E < S``, flat ``0 < S = E``); a
  new, reactivated or churned row carries its whole amount and nothing else.
- summary: each period's bridge as above; ``customers_end = customers_start +
  customers_new + customers_reactivated − customers_churned``; every rate equals its
  definition, NaN where its denominator is zero.

The parsed rows of each kind (:func:`parsed_rows`), before they become the ledger, are a
pandera schema too; the loader (:mod:`kit.kinds`) runs it lazily and turns each failure
into a row error.

Full validation is for tests and for a user who edits frames; the engine does not run it
(its own walk checks the bridge). The public functions that take a frame a user may have
built check its structure only, with :func:`require` (the columns they read, money as int64),
at a cost independent of the number of rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.engines import pandas_engine
from pandera.typing import Series

from kit.errors import ParameterError
from kit.parse.limits import MAX_AMOUNT
from kit.rules import AMOUNTS, CLASSES, bridge_end, ratio
from kit.subscriptions import BILLING_PERIODS

MOVEMENTS_FIX = "pass the output of kit.movements(ledger)"
SUMMARY_FIX = "pass outputs of kit.summarize(ledger) or kit.summary(movements)"
_NUMERIC = ("int64", "float64")


def _bridge(df: pd.DataFrame) -> pd.Series:
    """``mrr_start + new + reactivation + upsell + cross_sell − contraction − churn == mrr_end``, per row."""
    return bridge_end(df["mrr_start"], df) == df["mrr_end"]


def _attributes_categorical(df: pd.DataFrame, declared) -> bool:
    """Whether every column not declared by the model is categorical."""
    return all(isinstance(df[c].dtype, pd.CategoricalDtype) for c in df.columns if c not in declared)


def _same_rate(df: pd.DataFrame, column: str, numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """Whether ``df[column]`` equals ``numerator / denominator`` (both NaN where the denominator is zero)."""
    expected = ratio(numerator.to_numpy(), denominator.to_numpy())
    actual = df[column].to_numpy(dtype=np.float64)
    return pd.Series((actual == expected) | (np.isnan(actual) & np.isnan(expected)), index=df.index)


class Ledger(pa.DataFrameModel):
    """
    The ledger frame (``Ledger.frame``): one row per customer · product · month, the engine's input.

    Attribute columns (``segment``, ``region``, ``plan``, …, and ``currency`` where the data
    has one) follow the four declared ones; each is categorical, the value of the
    customer's largest row of that month.
    """

    customer_id: Series[pd.CategoricalDtype] = pa.Field(description="The customer (categorical, ranked in text order).")
    product: Series[pd.CategoricalDtype] = pa.Field(description="The product (categorical); one product 'all' if none.")
    month: Series[pd.PeriodDtype] = pa.Field(
        dtype_kwargs={"freq": "M"}, description="The calendar month (period[M]) whose last day the MRR is measured on."
    )
    mrr_cents: Series[np.int64] = pa.Field(
        gt=0, description="MRR in integer cents of the reporting currency; a month without a row means zero."
    )
    quantity: Series[pd.Int64Dtype] | None = pa.Field(
        ge=0, nullable=True, description="Sum of the key's quantities (seats); NA where not stated; only if the source "
        "has a quantity column."
    )  # fmt: skip
    plans: Series[pd.CategoricalDtype] | None = pa.Field(
        nullable=True, description="The key's plans, sorted, joined by a line break; NA where not stated; only if the "
        "source has a plan column."
    )  # fmt: skip

    class Config:
        """Attribute columns are allowed; the key is unique."""

        name = "ledger"
        strict = False
        unique = ["customer_id", "product", "month"]

    @pa.dataframe_check(error="rows not sorted by customer, month, product")
    def sorted_by_key(cls, df: pd.DataFrame) -> bool:
        """Check the rows are sorted by customer (category order), month, product (category order)."""
        key = pd.DataFrame({
            "c": df["customer_id"].cat.codes.to_numpy(),
            "m": df["month"].array.asi8,
            "p": df["product"].cat.codes.to_numpy(),
        })  # fmt: skip
        return bool(pd.MultiIndex.from_frame(key).is_monotonic_increasing)

    @pa.dataframe_check(error="attribute columns must be categorical")
    def attributes_categorical(cls, df: pd.DataFrame) -> bool:
        """Check every attribute column is categorical."""
        return _attributes_categorical(df, ("customer_id", "product", "month", "mrr_cents", "quantity", "plans"))


_MONEY = {"ge": 0}


class _Bridge(pa.DataFrameModel):
    """The checks movements and the summary share: the bridge reconciles, expansion is the sum of its parts."""

    @pa.dataframe_check(error="bridge: mrr_start + new + reactivation + upsell + cross_sell - contraction - churn "
                              "!= mrr_end")  # fmt: skip
    def bridge(cls, df: pd.DataFrame) -> pd.Series:
        """Check each row's MRR bridge (a customer's, or a period's) reconciles exactly."""
        return _bridge(df)

    @pa.dataframe_check(error="expansion != upsell + cross_sell")
    def expansion_parts(cls, df: pd.DataFrame) -> pd.Series:
        """Check expansion is the sum of its parts."""
        return df["expansion"] == df["upsell"] + df["cross_sell"]


class Movements(_Bridge):
    """
    The movements frame (:func:`kit.movements.movements`): one row per customer · period in which it was active.

    A row exists where the customer had MRR at the start or the end of the period. Money in
    integer cents, every amount positive or zero (contraction and churn as amounts lost).
    Attribute columns (as of the start of the period; for new and reactivated customers,
    the end) follow, categorical.
    """

    customer_id: Series[pd.CategoricalDtype] = pa.Field(description="The customer (the ledger's categories).")
    period: Series[pd.CategoricalDtype] = pa.Field(
        description="The period label (2024-03, 2024-Q1, 2024): an ordered categorical of every row period."
    )
    class_: Series[pd.CategoricalDtype] = pa.Field(
        alias="class", isin=list(CLASSES), description="The net class in the period (docs/definitions.md, Movements)."
    )
    mrr_start: Series[np.int64] = pa.Field(**_MONEY, description="S: MRR at the end of the previous period.")
    mrr_end: Series[np.int64] = pa.Field(**_MONEY, description="E: MRR at the end of the period.")
    new: Series[np.int64] = pa.Field(**_MONEY, description="E of a customer never active before.")
    reactivation: Series[np.int64] = pa.Field(**_MONEY, description="E of a customer active in an earlier period.")
    upsell: Series[np.int64] = pa.Field(**_MONEY, description="More on products held at the start.")
    cross_sell: Series[np.int64] = pa.Field(**_MONEY, description="Products not held at the start.")
    contraction: Series[np.int64] = pa.Field(
        **_MONEY, description="Less while still active (netting='product': every product decrease)."
    )
    churn: Series[np.int64] = pa.Field(**_MONEY, description="S of a customer who left (E = 0).")
    expansion: Series[np.int64] = pa.Field(**_MONEY, description="upsell + cross_sell.")

    class Config:
        """Attribute columns are allowed; one row per customer · period."""

        name = "movements"
        strict = False
        unique = ["customer_id", "period"]

    @pa.dataframe_check(error="class does not follow mrr_start and mrr_end")
    def class_of_ends(cls, df: pd.DataFrame) -> pd.Series:
        """Check the class follows S and E: new/reactivation 0 = S < E, churn E = 0 < S, and so on."""
        s, e, c = df["mrr_start"], df["mrr_end"], df["class"].astype(object)
        return (
            (c.isin(["new", "reactivation"]) & (s == 0) & (e > 0))
            | ((c == "churn") & (s > 0) & (e == 0))
            | ((c == "expansion") & (s > 0) & (e > s))
            | ((c == "contraction") & (e > 0) & (e < s))
            | ((c == "flat") & (s > 0) & (e == s))
        )

    @pa.dataframe_check(error="new, reactivation and churn rows carry their whole amount and nothing else")
    def class_amounts(cls, df: pd.DataFrame) -> pd.Series:
        """Check new = E on new rows, reactivation = E on reactivated rows, churn = S on churned rows, else 0."""
        c = df["class"].astype(object)
        others = df["upsell"] + df["cross_sell"] + df["contraction"]
        whole = (
            ((c == "new") & (df["new"] == df["mrr_end"]) & (df["reactivation"] == 0) & (df["churn"] == 0))
            | ((c == "reactivation") & (df["reactivation"] == df["mrr_end"]) & (df["new"] == 0) & (df["churn"] == 0))
            | ((c == "churn") & (df["churn"] == df["mrr_start"]) & (df["new"] == 0) & (df["reactivation"] == 0))
        )
        active = ~c.isin(["new", "reactivation", "churn"]) & (df["new"] == 0) & (df["reactivation"] == 0)
        return (whole & (others == 0)) | (active & (df["churn"] == 0))

    @pa.dataframe_check(error="attribute columns must be categorical")
    def attributes_categorical(cls, df: pd.DataFrame) -> bool:
        """Check every attribute column is categorical."""
        return _attributes_categorical(df, ("customer_id", "period", "class", "mrr_start", "mrr_end", *AMOUNTS,
                                            "expansion"))  # fmt: skip


_COUNT = {"ge": 0}
_RATE = {"nullable": True}


class Summary(_Bridge):
    """
    The summary frame (:func:`kit.metrics.summarize`, :func:`kit.metrics.summary`): one row per period (and segment).

    Column names are the contract of the CLI, the notebooks and the tests; with ``by=`` a
    segment column (text) follows ``period``. Money in integer cents (contraction and churn
    positive), counts of customers by their net class, rates as float64 and NaN (never 0 or
    inf) where the denominator is zero.
    """

    period: Series[str] = pa.Field(description="The period label: 2024-03, 2024-Q1 or 2024.")
    mrr_start: Series[np.int64] = pa.Field(**_MONEY, description="MRR at the end of the previous period.")
    new: Series[np.int64] = pa.Field(**_MONEY, description="MRR of new customers.")
    reactivation: Series[np.int64] = pa.Field(**_MONEY, description="MRR of returning customers.")
    upsell: Series[np.int64] = pa.Field(**_MONEY, description="Expansion on products already held.")
    cross_sell: Series[np.int64] = pa.Field(**_MONEY, description="Expansion by products not held at the start.")
    expansion: Series[np.int64] = pa.Field(**_MONEY, description="upsell + cross_sell.")
    contraction: Series[np.int64] = pa.Field(**_MONEY, description="MRR lost by customers who stayed.")
    churn: Series[np.int64] = pa.Field(**_MONEY, description="MRR lost by customers who left.")
    mrr_end: Series[np.int64] = pa.Field(**_MONEY, description="MRR at the end of the period.")
    customers_start: Series[np.int64] = pa.Field(**_COUNT, description="Customers with MRR at the start.")
    customers_end: Series[np.int64] = pa.Field(**_COUNT, description="Customers with MRR at the end.")
    customers_new: Series[np.int64] = pa.Field(**_COUNT, description="Customers classed new.")
    customers_reactivated: Series[np.int64] = pa.Field(**_COUNT, description="Customers classed reactivation.")
    customers_expanded: Series[np.int64] = pa.Field(**_COUNT, description="Customers with 0 < S < E (net).")
    customers_contracted: Series[np.int64] = pa.Field(**_COUNT, description="Customers with 0 < E < S (net).")
    customers_churned: Series[np.int64] = pa.Field(**_COUNT, description="Customers with E = 0 < S.")
    customer_expansion_rate: Series[np.float64] = pa.Field(**_RATE, description="customers_expanded / customers_start.")
    expansion_mrr_rate: Series[np.float64] = pa.Field(**_RATE, description="expansion / mrr_start.")
    upsell_rate: Series[np.float64] = pa.Field(**_RATE, description="upsell / mrr_start.")
    cross_sell_rate: Series[np.float64] = pa.Field(**_RATE, description="cross_sell / mrr_start.")
    nrr: Series[np.float64] = pa.Field(
        **_RATE, description="(mrr_start + expansion - contraction - churn) / mrr_start."
    )
    grr: Series[np.float64] = pa.Field(**_RATE, description="(mrr_start - contraction - churn) / mrr_start.")
    quick_ratio: Series[np.float64] = pa.Field(
        **_RATE, description="(new + reactivation + expansion) / (contraction + churn)."
    )

    class Config:
        """A segment column may follow ``period``."""

        name = "summary"
        strict = False

    @pa.dataframe_check(error="one row per period (and segment)")
    def one_row_per_period(cls, df: pd.DataFrame) -> bool:
        """Check no period (· segment) has two rows."""
        keys = ["period", *(c for c in df.columns if c not in Summary.to_schema().columns)]
        return not bool(df.duplicated(keys).any())

    @pa.dataframe_check(error="customers_end != customers_start + customers_new + customers_reactivated "
                              "- customers_churned")  # fmt: skip
    def customer_bridge(cls, df: pd.DataFrame) -> pd.Series:
        """Check the customer counts reconcile like the money."""
        flow = df["customers_start"] + df["customers_new"] + df["customers_reactivated"] - df["customers_churned"]
        return flow == df["customers_end"]

    @pa.dataframe_check(error="a rate differs from its definition (NaN where the denominator is zero)")
    def rates_defined(cls, df: pd.DataFrame) -> pd.Series:
        """Check each rate equals its definition, as docs/definitions.md states it."""
        start, lost = df["mrr_start"], df["contraction"] + df["churn"]
        same = [
            _same_rate(df, "customer_expansion_rate", df["customers_expanded"], df["customers_start"]),
            _same_rate(df, "expansion_mrr_rate", df["expansion"], start),
            _same_rate(df, "upsell_rate", df["upsell"], start),
            _same_rate(df, "cross_sell_rate", df["cross_sell"], start),
            _same_rate(df, "nrr", start + df["expansion"] - lost, start),
            _same_rate(df, "grr", start - lost, start),
            _same_rate(df, "quick_ratio", df["new"] + df["reactivation"] + df["expansion"], lost),
        ]
        return pd.Series(np.logical_and.reduce(same), index=df.index)


# --- the parsed rows of each kind, before the ledger (kit.kinds validates them while loading) ---


def parsed_rows(kind: str) -> pa.DataFrameSchema:
    """
    Return the pandera schema of the parsed rows of ``kind``; each check's error is the reason a user reads.

    The rows a loader has parsed from a source (:mod:`kit.kinds`), before they become the
    ledger: amounts in cents from 0 to :data:`kit.parse.MAX_AMOUNT` (in major units), and for
    subscription periods a known billing period, a quantity of 0 or more, an interval count of
    1 or more and an end not before the start. The loader runs it lazily and reports every
    failing row with its check's error.

    Parameters
    ----------
    kind : {"snapshots", "subscriptions"}

    Returns
    -------
    pandera.pandas.DataFrameSchema

    Examples
    --------
    >>> rows = pd.DataFrame({"mrr_cents": [1250, -5]})
    >>> try:
    ...     parsed_rows("snapshots").validate(rows, lazy=True)
    ... except pa.errors.SchemaErrors as exc:
    ...     print(exc.failure_cases[["index", "check"]].to_dict("records"))
    [{'index': 1, 'check': 'negative amount (credits and refunds are not MRR)'}]
    >>> parsed_rows("subscriptions").name
    'subscription rows'
    """
    money_checks = [
        pa.Check(lambda s: s >= 0, error="negative amount (credits and refunds are not MRR)"),
        pa.Check(lambda s: s <= MAX_AMOUNT * 100, error=f"amount above {MAX_AMOUNT:,}"),
    ]
    if kind == "snapshots":
        return pa.DataFrameSchema({"mrr_cents": pa.Column("int64", money_checks)}, name="snapshot rows")
    return pa.DataFrameSchema(
        {
            "amount_cents": pa.Column("int64", money_checks),
            "billing_period": pa.Column(
                checks=pa.Check(lambda s: s.isin(BILLING_PERIODS), error=f"not one of {', '.join(BILLING_PERIODS)}")
            ),
            "quantity": pa.Column("int64", pa.Check(lambda s: s >= 0, error="negative quantity")),
            "billing_interval_count": pa.Column(
                "int64", pa.Check(lambda s: s >= 1, error="billing_interval_count must be 1 or more")
            ),
            "end_date": pa.Column("datetime64[ns]", nullable=True),
        },
        checks=[pa.Check(lambda df: ~(df["end_date"] < df["start_date"]), error="end_date before start_date")],
        name="subscription rows",
    )


def require(frame, model, columns, *, function: str, fix: str | None = None) -> None:
    """
    Check that ``frame`` has ``columns`` of ``model``, money and counts with the model's dtype.

    The structure only (names and dtypes, never a row), so the cost does not grow with the
    frame. Integer and float columns must have the model's dtype; the others (ids, labels,
    classes) need only be present, as the functions read them as text too. A column not in
    the model (a segment, a label) is checked for presence; ``None`` in ``columns`` is skipped.

    Parameters
    ----------
    frame : DataFrame
    model : DataFrameModel class or {"ledger", "movements", "summary"}
    columns : list of str
        The columns the caller reads.
    function : str
        The caller's name, for the message.
    fix : str, optional
        How to fix it; by default, which function's output to pass.

    Raises
    ------
    ParameterError
        Naming the function, the missing columns and the wrong dtypes, and the fix.

    Examples
    --------
    >>> require(pd.DataFrame({"period": ["2024-01"]}), "movements", ["period", "expansion"], function="concentration")
    Traceback (most recent call last):
    ...
    kit.errors.ParameterError: concentration() needs movements with columns period, expansion: missing expansion; \
pass the output of kit.movements(ledger)
    """
    schema = _schema(model)
    fix = fix if fix is not None else _FIXES.get(schema.name, "")
    columns = [c for c in columns if c is not None]
    if not isinstance(frame, pd.DataFrame):
        raise ParameterError(f"{function}() needs a DataFrame of {schema.name}, not {type(frame).__name__}; {fix}")
    problems = _problems(frame, schema, columns)
    if problems:
        raise ParameterError(f"{function}() needs {schema.name} with columns {', '.join(columns)}: "
                             f"{'; '.join(problems)}; {fix}")  # fmt: skip


def _schema(model) -> pa.DataFrameSchema:
    """Return the schema of a model given as a class or by name."""
    return (_MODELS[model] if isinstance(model, str) else model).to_schema()


def _problems(frame: pd.DataFrame, schema: pa.DataFrameSchema, columns: list[str]) -> list[str]:
    """List the missing columns (as one item) and the numeric columns whose dtype is not the schema's."""
    missing = [c for c in columns if c not in frame.columns]
    problems = [f"missing {', '.join(missing)}"] if missing else []
    for c in columns:
        declared = schema.columns.get(c)
        numeric = declared is not None and str(declared.dtype) in _NUMERIC
        if numeric and c not in missing and not declared.dtype.check(pandas_engine.Engine.dtype(frame[c].dtype)):
            problems.append(f"{c} is {frame[c].dtype}, not {declared.dtype}")
    return problems


def require_each(frames, model, columns, *, function: str, fix: str | None = None) -> list[pd.DataFrame]:
    """Check every frame of ``frames`` as :func:`require` does; return them as a list (a generator is read once)."""
    if isinstance(frames, pd.DataFrame):
        name = _schema(model).name
        raise ParameterError(f"{function}() needs a list of {name} frames, not one DataFrame; put it in a list")
    frames = list(frames)
    for frame in frames:
        require(frame, model, columns, function=function, fix=fix)
    return frames


_MODELS = {"ledger": Ledger, "movements": Movements, "summary": Summary}
_FIXES = {"movements": MOVEMENTS_FIX, "summary": SUMMARY_FIX}
