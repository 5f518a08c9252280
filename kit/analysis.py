"""
Everything one report shows, computed once: :func:`analyse` and :class:`Analysis`.

An :class:`Analysis` holds the report's tables and computes its facts (plain values and
tables); it writes no sentence and no HTML. The words are :mod:`kit.narrative`'s, the HTML
comes from the templates under ``kit/templates/sections`` (:func:`kit.report.section` puts
the three together, one call per section), and the ``plot_*`` methods draw on a given
``Axes``. Tests check the facts against the numbers and the sentences against the facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kit import metrics, plots
from kit import narrative as nv
from kit.currency import data_currencies
from kit.errors import ParameterError
from kit.ledger import Ledger, filter_customers
from kit.movements import movements as compute_movements
from kit.movements import plan_periods
from kit.params import reactivation_window
from kit.periods import end_month, start_month, start_months
from kit.sources import is_database_url, shown_url
from kit.tables import cross_sell_tables

SEGMENT_CANDIDATES = ("size", "segment", "plan", "region")
#: Fewer periods shown than this, and the charts over time add earlier ones for context.
MIN_TREND = 6


def cohort_grain(period: str) -> str:
    """
    Return the grain of a report's signup cohorts: quarters in a monthly report, else the report's grain.

    36 monthly columns would be unreadable.

    >>> cohort_grain("month"), cohort_grain("quarter"), cohort_grain("year")
    ('quarter', 'quarter', 'year')
    """
    return "quarter" if period == "month" else period


NAME_COLUMNS = ("customer_name", "name", "company")


@dataclass
class Analysis:
    """The tables of one report (money in cents) and the parameters that made them."""

    params: dict
    ledger: Ledger
    summary: pd.DataFrame
    shown: pd.DataFrame
    movements: pd.DataFrame
    segment: str | None
    segments: pd.DataFrame | None
    cohorts: pd.DataFrame
    cross_sell: pd.DataFrame
    #: The same cells as ``held, added, customers, mrr_added`` (``cross_sell_matrix(values="both")``).
    cross_sell_pairs: pd.DataFrame
    upgrades: pd.DataFrame
    top: pd.DataFrame
    concentration: pd.DataFrame
    trailing: pd.DataFrame
    plan: object
    #: The currencies of the data (before filters), sorted; one or none: no conversion.
    currencies: tuple[str, ...] = ()
    #: The summary (all periods) in the other FX mode, when the data holds several
    #: currencies: it shows how much of the figures is exchange-rate movement. None otherwise.
    fx_reference: pd.DataFrame | None = None
    #: The cause bridge (:func:`kit.bridges.causes`) of the periods shown, same grain, window and filters.
    causes: pd.DataFrame | None = None
    #: What the cause bridge can measure on this ledger (:func:`kit.bridges.inputs`).
    cause_inputs: dict | None = None
    #: The column of customer names shown beside ids (None when anonymised or the data has none).
    name_column: str | None = None
    #: A chunked analysis (:mod:`kit.analysis_chunks`) holds no movements: each expander's expansion over the
    #: periods shown, the cause drill-downs' largest rows by cause and their customers' names stand in for them.
    shown_expansion: np.ndarray | None = None
    drills: dict | None = None
    drill_names: pd.Series | None = None

    @property
    def currency(self) -> str | None:
        """The reporting currency."""
        return self.ledger.currency

    # --- header and summary -------------------------------------------------------------
    @property
    def source(self) -> str:
        """The data, named for people: a file's name, a database's hidden URL and table, or the sample."""
        return _source_name(self.params)

    @property
    def fx_file(self) -> str:
        """The FX table as named in the header: a file's name or a URL, empty when none was given."""
        return _short(self.params["fx"])

    @property
    def several_currencies(self) -> bool:
        """Whether the data holds more than one currency (converted into the reporting one)."""
        return len(self.currencies) > 1

    @property
    def window(self) -> int | None:
        """The reactivation window in periods, None for no limit."""
        return reactivation_window(self.params["reactivation_window"])

    def shown_bounds(self) -> tuple[str, str] | tuple[None, None]:
        """Return the first and last period shown, or (None, None)."""
        if self.shown.empty:
            return None, None
        return self.shown["period"].iloc[0], self.shown["period"].iloc[-1]

    def outside_range(self) -> list[str]:
        """Return the asked bounds (``start X``, ``end Y``) beyond the periods the data has."""
        first, last = self.shown_bounds()
        if first is None:
            return []
        out = []
        for name, bound in (("start", self.params["start"]), ("end", self.params["end"])):
            if bound and (start_month(bound) < start_month(first) if name == "start"
                          else end_month(bound) > end_month(last)):  # fmt: skip
                out.append(f"{name} {bound}")
        return out

    def executive_history(self) -> pd.DataFrame:
        """Return the summary up to the last period shown: the latest is compared with those before, shown or not."""
        return metrics.between(self.summary, None, self.params["end"]) if len(self.shown) else self.shown

    def headline(self) -> dict:
        """
        Give the headline numbers of the latest period shown, as plain JSON types.

        ``period``, ``currency``, ``expansion`` (expansion MRR in integer cents) and the
        rates ``customer_expansion_rate``, ``expansion_mrr_rate``, ``nrr``, ``grr`` (None
        where undefined). The notebook's last cell displays them so a batch can index the
        report without computing it again.
        """
        rates = ("customer_expansion_rate", "expansion_mrr_rate", "nrr", "grr")
        out = {"period": None, "currency": self.currency, "expansion": None, **dict.fromkeys(rates)}
        if len(self.shown):
            last = self.shown.iloc[-1]
            out.update(period=str(last["period"]), expansion=int(last["expansion"]))
            out.update({key: None if pd.isna(last[key]) or np.isinf(last[key]) else float(last[key]) for key in rates})
        return out

    def fx_comparison(self) -> tuple[pd.Series, pd.Series] | None:
        """Return the latest period shown in this FX mode and in the other one (several currencies), or None."""
        ref = self.fx_reference
        if ref is None or ref.empty or self.shown.empty:
            return None
        return self.shown.iloc[-1], ref.set_index("period").loc[self.shown["period"].iloc[-1]]

    # --- results ---------------------------------------------------------------------------
    def bridge_table(self) -> pd.DataFrame:
        """Return the bridge of the last 12 periods shown, first to last."""
        columns = ["period", *[m for m in metrics.MONEY if m != "expansion"]]
        return self.shown[columns].tail(12)

    #: Columns of the rates table; those from ``customer_expansion_rate`` to ``grr`` are rates.
    RATE_COLUMNS = ("period", "customers_start", "customers_expanded", "customer_expansion_rate",
                    "expansion_mrr_rate", "upsell_rate", "cross_sell_rate", "nrr", "grr", "quick_ratio")  # fmt: skip

    def rates_table(self) -> pd.DataFrame:
        """Return the rates of the last 12 periods shown; the quick ratio as text (two decimals or n/a)."""
        table = self.shown[list(self.RATE_COLUMNS)].tail(12).copy()
        quick = table.pop("quick_ratio")
        table["quick_ratio"] = [("n/a" if pd.isna(q) else f"{q:.2f}") for q in quick]
        return table

    def retention_table(self) -> pd.DataFrame:
        """Trailing-twelve-month NRR where defined, up to the last month of the last period shown."""
        t = self.trailing.dropna(subset=["nrr"])
        if len(self.shown) and len(t):  # not past the end: compared as month ordinals
            t = t.loc[start_months(t["month"].astype(str)) <= end_month(self.shown["period"].iloc[-1])]
        return t

    def segment_latest(self) -> pd.DataFrame:
        """Per segment, the latest period shown: its amounts, counts and rates."""
        seg = self.segments.loc[self.segments["period"].astype(str) == self.shown["period"].iloc[-1]]
        columns = [
            self.segment,
            "mrr_start",
            "expansion",
            "upsell",
            "cross_sell",
            "contraction",
            "churn",
            "customers_start",
            "customers_expanded",
            "customer_expansion_rate",
            "expansion_mrr_rate",
            "nrr",
        ]
        return seg[columns].sort_values("expansion", ascending=False).reset_index(drop=True)

    def segment_totals(self) -> pd.DataFrame:
        """Per segment: expansion, upsell and cross-sell summed over the periods shown (for the chart)."""
        seg = metrics.between(self.segments, self.params["start"], self.params["end"])
        sums = seg.groupby(self.segment, observed=True)[["expansion", "upsell", "cross_sell"]].sum().reset_index()
        return sums.sort_values("expansion", ascending=False).reset_index(drop=True)

    @property
    def has_cohorts(self) -> bool:
        """Whether the cohort table has any cell."""
        return not self.cohorts.empty

    @property
    def has_cross_sell(self) -> bool:
        """Whether any existing customer added a product."""
        return bool(self.cross_sell.to_numpy().sum())

    def cross_sell_top(self) -> tuple[list[tuple[str, str]], int]:
        """Return the most common (held, added) product paths of the cross-sell matrix, and how often each was."""
        pairs = self.cross_sell.stack()
        pairs = pairs[pairs > 0].sort_values(ascending=False)
        count = int(pairs.iloc[0])
        return [(held, added) for held, added in pairs.index[pairs.to_numpy() == count]], count

    def concentration_facts(self) -> dict:
        """
        Expansion of the top 10% of expanders over the periods shown.

        ``top`` and ``expanders`` (customers), ``share`` of expansion MRR, ``total`` (cents),
        and ``latest``: the concentration row of the last period (or None).
        """
        c = metrics.between(self.concentration, self.params["start"], self.params["end"])
        if self.shown_expansion is not None:  # a chunked analysis: its chunks' expanders, put together
            per_customer = np.sort(self.shown_expansion)[::-1]
        else:
            values = self.movements.loc[self.shown_periods_mask() & (self.movements["expansion"] > 0)]
            per_customer = np.sort(values.groupby("customer_id", observed=True)["expansion"].sum().to_numpy())[::-1]
        k = int(np.ceil(0.1 * len(per_customer)))
        share = per_customer[:k].sum() / per_customer.sum() if per_customer.sum() else float("nan")
        return {"top": k, "expanders": len(per_customer), "share": share, "total": int(c["expansion"].sum()),
                "latest": c.iloc[-1] if len(c) else None}  # fmt: skip

    def shown_periods_mask(self) -> pd.Series:
        """Rows of the movements in the periods shown."""
        return self.movements["period"].astype(str).isin(set(self.shown["period"]))

    # --- causes ------------------------------------------------------------------------------
    #: The parts of the product-netting expansion, largest cause first when they tie: cell of :func:`kit.causes`.
    EXPANSION_PARTS = ("expansion_seats", "expansion_plan", "expansion_price", "cross_sell", "expansion_unattributed")

    @property
    def has_causes(self) -> bool:
        """Whether the cause bridge has a period shown."""
        return self.causes is not None and not self.causes.empty

    def causes_table(self) -> pd.DataFrame:
        """Return the cause bridge of the last 12 periods shown, first to last (money in cents)."""
        from kit.bridges import MONEY

        return self.causes[["period", *MONEY]].tail(12).reset_index(drop=True)

    def cause_facts(self) -> dict:
        """Return the latest period's cause figures: ``period``, ``expansion`` and its parts, as ints."""
        last = self.causes.iloc[-1]
        return {"period": str(last["period"]), "expansion": int(last["expansion"]),
                **{name: int(last[name]) for name in self.EXPANSION_PARTS}}  # fmt: skip

    def largest_cause(self) -> str | None:
        """Return the part of the latest period's expansion with the largest amount, None when all are zero."""
        facts = self.cause_facts()
        best = max(self.EXPANSION_PARTS, key=lambda name: facts[name])
        return best if facts[best] > 0 else None

    def cause_drill(self, n: int = 5) -> pd.DataFrame:
        """Return the top ``n`` rows of :func:`kit.bridges.drill` behind the latest period's largest cause."""
        from kit.bridges import drill

        cell = self.largest_cause()
        if cell is None:
            return pd.DataFrame()
        if self.drills is not None:  # a chunked analysis: the chunks' largest rows, sorted together
            rows = self.drills[cell].head(n)
        else:
            rows = drill(self.ledger, self.cause_facts()["period"], cell, grain=self.params["period"],
                         reactivation_window=self.window).head(n)  # fmt: skip
        columns = [c for c in ("customer_id", "product", "mrr_start", "mrr_end", "amount", "changed") if c in rows]
        rows = pd.DataFrame(rows[columns])
        if self.drill_names is not None:
            rows.insert(
                1, self.name_column, rows["customer_id"].astype(str).map(self.drill_names).astype(str).to_numpy()
            )
        elif self.name_column and self.movements is not None and self.name_column in self.movements:
            names = customer_names(self.movements, self.name_column)
            rows.insert(1, self.name_column, rows["customer_id"].map(names).astype(str).to_numpy())
        return rows.reset_index(drop=True)

    def plot_causes(self, ax):
        """Draw the cause bridge's changes on customers active at both ends, per period shown."""
        if not self.has_causes:
            ax.set_axis_off()
            return ax
        return plots.causes_over_time(self.causes, currency=self.currency, ax=ax)

    # --- limitations ---------------------------------------------------------------------------
    def rate_ranges(self) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """Return the customer expansion rate's (lowest, highest) over the periods shown, here and in the other mode."""
        ref = self._reference_for(self.shown)
        if ref is None or not len(ref) or not len(self.shown):
            return None
        here, there = self.shown["customer_expansion_rate"], ref["customer_expansion_rate"]
        return (here.min(), here.max()), (there.min(), there.max())

    def small_periods(self) -> list[str]:
        """Return the periods shown that start with some customers but fewer than 30."""
        starts = self.shown["customers_start"]
        return self.shown.loc[(starts > 0) & (starts < 30), "period"].tolist()

    def empty_periods(self) -> list[str]:
        """Return the periods shown that start with no customer (their rates are undefined)."""
        return self.shown.loc[self.shown["customers_start"] == 0, "period"].tolist()

    # --- charts ----------------------------------------------------------------------------
    @property
    def trend(self) -> pd.DataFrame:
        """
        Give the periods the charts over time draw.

        Those shown, or, when fewer than :data:`MIN_TREND` are shown, up to 12 periods ending with the last one
        shown, so a one-quarter report still shows where that quarter sits (the shown ones are shaded).
        """
        if len(self.shown) >= MIN_TREND or self.shown.empty:
            return self.shown
        history = metrics.between(self.summary, None, self.shown["period"].iloc[-1])
        return history.tail(max(12, len(self.shown))).reset_index(drop=True)

    def _reference_for(self, table: pd.DataFrame) -> pd.DataFrame | None:
        if self.fx_reference is None:
            return None
        return self.fx_reference.set_index("period").reindex(table["period"]).reset_index()

    def _shade(self, ax, table: pd.DataFrame) -> None:
        if len(table) == len(self.shown) or self.shown.empty:
            return
        labels = table["period"].astype(str).tolist()
        first, last = labels.index(self.shown["period"].iloc[0]), labels.index(self.shown["period"].iloc[-1])
        ax.axvspan(first - 0.5, last + 0.5, color="#fdf1c7", zorder=0, lw=0)

    def plot_waterfall(self, ax):
        """Waterfall of the latest period shown."""
        if self.shown.empty:
            ax.set_axis_off()
            return ax
        return plots.waterfall(self.shown.iloc[-1], currency=self.currency, ax=ax)

    def plot_bridge(self, ax):
        """Movements over time."""
        plots.bridge_over_time(self.trend, currency=self.currency, ax=ax)
        self._shade(ax, self.trend)
        return ax

    def plot_split(self, ax):
        """Upsell and cross-sell over time."""
        plots.expansion_split(self.trend, currency=self.currency, ax=ax)
        self._shade(ax, self.trend)
        return ax

    def plot_rates(self, ax):
        """Both expansion rates over time."""
        plots.rates_over_time(
            self.trend,
            reference=self._reference_for(self.trend),
            reference_label=nv.fx_reference_label(self.params["fx_mode"]),
            ax=ax,
        )
        self._shade(ax, self.trend)
        return ax

    def plot_retention(self, ax):
        """NRR and GRR over time."""
        plots.retention_over_time(self.trend, ax=ax)
        self._shade(ax, self.trend)
        return ax

    def plot_segments(self, ax):
        """Expansion by segment."""
        if self.shown.empty:
            ax.set_axis_off()
            return ax
        first, last = self.shown["period"].iloc[0], self.shown["period"].iloc[-1]
        span = last if first == last else f"{first} to {last}, summed"
        return plots.segment_bars(self.segment_totals(), self.segment, currency=self.currency,
                                  title=f"Expansion MRR by {self.segment}, {span}", ax=ax)  # fmt: skip

    @property
    def cohort_grain(self) -> str:
        """The grain of the signup cohorts (see :func:`cohort_grain`)."""
        return cohort_grain(self.params["period"])

    def plot_cohorts(self, ax):
        """Cohort NRR heatmap."""
        return plots.cohort_heatmap(self.cohorts.loc[self.cohorts["age"] <= 12], unit=self.cohort_grain, ax=ax)

    def plot_cross_sell(self, ax):
        """Cross-sell matrix."""
        return plots.matrix_heatmap(self.cross_sell, ax=ax)


def analyse(ledger: Ledger, params: dict, *, fx_reference: Ledger | None = None) -> Analysis:
    """
    Compute every table of a report from a ledger and validated report parameters.

    Filters keep whole customers (see :func:`kit.ledger.filter_customers`); ``start``
    and ``end`` only limit the periods shown, never the history the movements use.

    Parameters
    ----------
    ledger : Ledger
        The data, loaded with :func:`kit.ledger.load_ledger` (before any filter).
    params : dict
        Validated report parameters (:func:`kit.report.validate_parameters`).
    fx_reference : Ledger, optional
        The same data in the other FX mode (default: ``ledger.fx_reference``, which
        ``load_ledger(..., fx_reference=True)`` attaches; see
        :func:`kit.report.fx_reference_ledger`); when there is one, the report shows how much
        of the figures is exchange-rate movement.

    Returns
    -------
    Analysis
        The report's tables and facts; :func:`kit.report.section` writes its sections.

    Raises
    ------
    ParameterError
        A ``segment`` that is no customer attribute of the data, a ``start`` to ``end``
        range that holds no period of the data, or a filter matching no customer.

    Examples
    --------
    >>> import kit
    >>> from kit.report import load_options, validate_parameters
    >>> params = validate_parameters({"period": "year", "start": "2025"})
    >>> run = analyse(kit.load_ledger(**load_options(params)), params)
    >>> run.shown["period"].tolist(), run.segment, run.currencies
    (['2025'], 'size', ('EUR', 'USD'))
    """
    currencies = data_currencies(ledger)
    reference = fx_reference if fx_reference is not None else ledger.fx_reference  # before the filter drops it
    ledger = filter_customers(ledger, params["filters"])
    options = {
        "period": params["period"],
        "netting": params["netting"],
        "reactivation_window": reactivation_window(params["reactivation_window"]),
    }
    plan = plan_periods(ledger, params["period"])
    moves = compute_movements(ledger, **options)
    summary = metrics.summary(moves)
    shown = metrics.between(summary, params["start"], params["end"])
    check_shown(params, summary, shown, ledger.attributes)
    segment, label = shown_columns(params, ledger.attributes)
    segments = metrics.summary(moves, by=segment) if segment else None
    grain = cohort_grain(params["period"])  # measured on movements of that grain: no cell adds monthly starts
    cohort_moves = moves if grain == params["period"] else compute_movements(ledger, **{**options, "period": grain})
    shown_moves = moves.loc[moves["period"].astype(str).isin(set(shown["period"]))]
    cross_sell, cross_sell_pairs = cross_sell_tables(
        ledger, period=params["period"], reactivation_window=options["reactivation_window"]
    )  # one walk for the matrix the report shows and the pairs its workbook writes
    from kit.bridges import causes as cause_bridge
    from kit.bridges import inputs as cause_inputs

    cause_table = cause_bridge(ledger, period=params["period"], reactivation_window=options["reactivation_window"])
    cause_table = cause_table.loc[cause_table["period"].astype(str).isin(set(shown["period"]))].reset_index(drop=True)
    return Analysis(
        params=params,
        ledger=ledger,
        summary=summary,
        shown=shown,
        movements=moves,
        segment=segment,
        segments=segments,
        cohorts=metrics.cohorts(ledger, cohort_moves, cohort=grain),
        cross_sell=cross_sell,
        cross_sell_pairs=cross_sell_pairs,
        upgrades=metrics.upgrade_paths(moves, ledger),
        top=metrics.top_expanders(shown_moves, n=10, label=label),
        concentration=metrics.concentration(moves),
        trailing=metrics.trailing_nrr(ledger),
        plan=plan,
        currencies=currencies,
        fx_reference=None
        if reference is None
        else metrics.summarize(filter_customers(reference, params["filters"]), **options),
        causes=cause_table,
        cause_inputs=cause_inputs(ledger),
        name_column=label,
    )


def shown_columns(params: dict, attributes) -> tuple[str | None, str | None]:
    """Return the report's segment column (asked, or the first candidate the data has) and its names column."""
    segment = params["segment"] or next((c for c in SEGMENT_CANDIDATES if c in attributes), None)
    label = None if params["anonymise"] else next((c for c in NAME_COLUMNS if c in attributes), None)
    return segment, label


def customer_names(moves: pd.DataFrame, column: str) -> pd.Series:
    """Return each customer's name (its first movement's ``column``), indexed by id as text."""
    first = moves.drop_duplicates("customer_id")
    return pd.Series(first[column].to_numpy(), index=first["customer_id"].astype(str).to_numpy())


def check_shown(params: dict, summary: pd.DataFrame, shown: pd.DataFrame, attributes) -> None:
    """Refuse a ``segment`` that is no customer attribute, and a ``start`` to ``end`` range holding no period."""
    if params["segment"] and params["segment"] not in attributes:
        raise ParameterError(f"segment {params['segment']!r} is not a customer attribute of the data; it has "
                             f"{', '.join(attributes) or 'none'}")  # fmt: skip
    if len(summary) and shown.empty and (params["start"] or params["end"]):
        raise ParameterError(f"no period from {params['start'] or 'the first'} to {params['end'] or 'the last'}: "
                             f"the data has {summary['period'].iloc[0]} to {summary['period'].iloc[-1]}")  # fmt: skip


def _short(path: str) -> str:
    return Path(path).name if path and not is_database_url(path) else path


def _source_name(params: dict) -> str:
    data = params["data"]
    if not data:
        return "bundled sample (data/sample_subscriptions.csv)"
    if is_database_url(data):
        return f"{shown_url(data)} ({'table ' + params['table'] if params['table'] else 'query'})"
    return Path(data).name
