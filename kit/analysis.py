"""
Everything one report shows, computed once: :func:`analyse` and :class:`Analysis`.

The report notebook calls one method per section; each returns escaped HTML or draws
on a given ``Axes``. Keeping the wording here lets tests check the sentences against
the numbers, and keeps loops and formatting out of the notebook.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kit import metrics, plots
from kit import narrative as nv
from kit.errors import ParameterError
from kit.ledger import Ledger, filter_customers
from kit.movements import movements as compute_movements
from kit.movements import plan_periods
from kit.params import reactivation_window
from kit.sources import is_database_url, shown_url

SEGMENT_CANDIDATES = ("size", "segment", "plan", "region")
#: Fewer periods shown than this, and the charts over time add earlier ones for context.
MIN_TREND = 6
FX_WORDS = {"monthly": "at each month's own exchange rate", "constant": "at constant exchange rates"}


def _other_fx_mode(mode: str) -> str:
    return "monthly" if mode == "constant" else "constant"


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
    upgrades: pd.DataFrame
    top: pd.DataFrame
    concentration: pd.DataFrame
    trailing: pd.DataFrame
    plan: object
    #: The summary (all periods) in the other FX mode, when the data holds several
    #: currencies: it shows how much of the figures is exchange-rate movement. None otherwise.
    fx_reference: pd.DataFrame | None = None

    @property
    def currency(self) -> str | None:
        """The reporting currency."""
        return self.ledger.currency

    # --- header and summary -------------------------------------------------------------
    def header_html(self) -> str:
        """Title, company, source, window and every parameter of the run."""
        p = self.params
        source = _source_name(p)
        window = f"{self.ledger.first_month} to {self.ledger.last_month}"
        shown = self.shown
        span = f"{shown['period'].iloc[0]} to {shown['period'].iloc[-1]}" if len(shown) else "none"
        asked = [(name, p[name]) for name in ("start", "end") if p[name]]  # labels sort as periods do
        outside = [
            f"{name} {label}"
            for name, label in asked
            if len(shown) and (label < shown["period"].iloc[0] if name == "start" else label > shown["period"].iloc[-1])
        ]
        if outside:  # a range wider than the data is cut to it, and said
            span += f" ({' and '.join(outside)} asked; the data has no period beyond these)"
        parts = [f"<h1>{nv.esc(p['title'])}</h1>"]
        if p["company"]:
            parts.append(f"<p><strong>{nv.esc(p['company'])}</strong></p>")
        parts.append(nv.paragraph(nv.esc(
            f"Data: {source} ({self.ledger.kind}), window {window}; periods reported: {span}. "
            f"Amounts in {self.currency or 'the data currency'}."
        )))  # fmt: skip
        rows = [
            ("data", source), ("kind", self.ledger.kind), ("period", p["period"]), ("netting", p["netting"]),
            ("reactivation window", "none" if reactivation_window(p["reactivation_window"]) is None
                                    else f"{p['reactivation_window']} periods"),
            ("segment breakdown", self.segment or "none"),
            ("filters", "; ".join(f"{k} = {', '.join(map(str, v)) if isinstance(v, list) else v}"
                                  for k, v in p["filters"].items()) or "none"),  # fmt: skip
            ("periods shown", f"{p['start'] or 'first'} to {p['end'] or 'last'}"),
            ("FX", f"{p['fx_mode']} ({_short(p['fx']) or ('bundled FX table' if not p['data'] else 'none')})"),
            ("reporting currency", self.currency or "not stated"), ("as of", p["as_of"] or "latest date in the data"),
            ("invalid rows", "excluded and counted" if p["lenient"] else "stop the run"),
            ("customer names", "anonymised" if p["anonymise"] else "shown"),
        ]  # fmt: skip
        parts.append("<details><summary>Parameters of this run</summary>" + nv.parameter_table(rows) + "</details>")
        return '<div class="kit-report">' + "".join(parts) + "</div>"

    def executive_html(self) -> str:
        """Headline cards and sentences for the latest period."""
        # Compare with the periods before the latest one shown, even when they are not shown.
        history = metrics.between(self.summary, None, self.params["end"]) if len(self.shown) else self.shown
        html_text = nv.executive_summary(history, period=self.params["period"], currency=self.currency)
        fx = self.fx_effect_sentence()
        if fx:
            html_text = html_text.replace("</ul>", f"<li><strong>Exchange rates.</strong> {nv.esc(fx)}</li></ul>")
        return '<div class="kit-report">' + html_text + "</div>"

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

    def fx_effect_sentence(self) -> str | None:
        """How the latest period reads in the other FX mode, when the data holds several currencies."""
        ref = self.fx_reference
        if ref is None or ref.empty or self.shown.empty:
            return None
        now, other = self.shown.iloc[-1], ref.set_index("period").loc[self.shown["period"].iloc[-1]]

        def facts(row):
            return (f"{nv.number(row['customers_expanded'])} customers expanded "
                    f"({nv.pct(row['customer_expansion_rate'])}), {nv.number(row['customers_contracted'])} "
                    f"contracted, expansion MRR {nv.money(int(row['expansion']), self.currency)}")  # fmt: skip

        mode, other_mode = self.params["fx_mode"], _other_fx_mode(self.params["fx_mode"])
        return (
            f"In {now['period']}, {FX_WORDS[mode]} (as in this report): {facts(now)}. "
            f"{FX_WORDS[other_mode].capitalize()}: "
            f"{facts(other)}. The difference is exchange-rate movement, not customer behaviour"
            + (", and this report leaves it out." if mode == "constant" else ".")
        )

    def methodology_html(self) -> str:
        """List the policies this run used."""
        p = self.params
        word = p["period"]
        items = [
            f"Periods are calendar {word}s; a {word}'s MRR is the MRR of its last month.",
            "Netting: " + ("customer (one movement per customer and period; net expansion split into upsell and "
                           "cross-sell in proportion to their gross parts)." if p["netting"] == "customer" else
                           "product (upsell, cross-sell and contraction gross per product; customer counts follow "
                           "each customer's net change)."),
            ("Reactivation: any return of a former customer is a reactivation."
             if reactivation_window(p["reactivation_window"]) is None else
             f"Reactivation: a return after at most {p['reactivation_window']} inactive {word}s in a row; a later "
             "return counts as new."),
            (f"Baseline: {self.plan.baseline}. " + ("Snapshots may start mid-history, so the first period of the "
             "file only provides starting MRR." if self.ledger.kind == "snapshots" else "Subscription periods hold "
             "the whole history; the baseline is the period before the first subscription (zero MRR).")),
            ("Currencies: " + (f"converted to {self.currency} " + ("at each month's own rate."
             if p["fx_mode"] == "monthly" else "at one rate per currency (the window's last month), so exchange "
             "rate moves create no expansion or contraction.") if len(self.ledger.quality.facts.get("currencies", "")
             .split(",")) > 1 else f"one currency ({self.currency or 'not stated'}), no conversion.")),
        ]  # fmt: skip
        if self.plan.dropped:
            items.append(f"The {word} {self.plan.dropped} is left out: its last month lies after the data window.")
        items.append("Input: amounts are read as exact decimals into integer cents (more than two decimals rounded "
                     "half-even, counted); dates are ISO or the stated format, never guessed; a row whose customer id "
                     "or product is a total label (Total, Core Total, Sum of …) or whose key fields hold a line "
                     "break is refused; columns taken for a role under another name, several snapshot dates in a "
                     "month and exchange rates converted through another base currency are noted in the appendix."
                     + (" This run was lenient: invalid rows were excluded and counted." if p.get("lenient") else
                        " This run was strict: the data held no invalid row."))  # fmt: skip
        if self.segment:
            items.append(f"Segments ({self.segment}): a customer counts in its segment at the start of the {word}; "
                         "new and reactivated customers in their segment at its end.")  # fmt: skip
        return '<div class="kit-report"><h4>This run</h4><ul>' + "".join(f"<li>{nv.esc(i)}</li>" for i in items) + \
            "</ul></div>"  # fmt: skip

    # --- results ---------------------------------------------------------------------------
    def bridge_html(self) -> str:
        """Show the bridge table, the last periods first-to-last."""
        if self.shown.empty:
            return nv.paragraph(nv.esc("The data window holds no period after the baseline: there is no movement "
                                       "to show."))  # fmt: skip
        columns = ["period", *[m for m in metrics.MONEY if m != "expansion"]]
        table = self.shown[columns].tail(12)
        intro = nv.paragraph(nv.esc(
            f"Each row reconciles exactly: end MRR = start + new + reactivation + upsell + cross-sell − contraction − "
            f"churn. The last {len(table)} of {len(self.shown)} periods are listed; the chart shows all of them."
        )) + self.trend_note_html()  # fmt: skip
        return '<div class="kit-report">' + intro + nv.table_html(
            table, money_columns=metrics.MONEY, currency=self.currency) + "</div>"  # fmt: skip

    def rates_html(self) -> str:
        """Rates table of the last periods."""
        columns = ["period", "customers_start", "customers_expanded", "customer_expansion_rate", "expansion_mrr_rate",
                   "upsell_rate", "cross_sell_rate", "nrr", "grr", "quick_ratio"]  # fmt: skip
        table = self.shown[columns].tail(12).copy()
        quick = table.pop("quick_ratio")
        table["quick_ratio"] = [("n/a" if pd.isna(q) else f"{q:.2f}") for q in quick]
        return (
            '<div class="kit-report">'
            + nv.table_html(table, rate_columns=columns[3:9], count_columns=("customers_start", "customers_expanded"))
            + "</div>"
        )

    def retention_html(self) -> str:
        """Trailing-twelve-month NRR, latest value and table."""
        t = self.trailing.dropna(subset=["nrr"])
        if len(self.shown) and len(t):  # up to the last month of the last period shown, not past the end
            t = t.loc[t["month"] <= metrics.last_month_label(self.shown["period"].iloc[-1])]
        if t.empty:
            return nv.paragraph(nv.esc("Trailing-twelve-month NRR needs 13 months of data; this window is shorter."))
        last = t.iloc[-1]
        now, base = nv.money(int(last["mrr_now"]), self.currency), nv.money(int(last["mrr_base"]), self.currency)
        text = nv.esc(f"Trailing-twelve-month NRR in {last['month']}: {nv.pct(last['nrr'])} — the MRR today of the "
                      f"customers who were paying twelve months earlier ({now}), over what they paid then "
                      f"({base}).")  # fmt: skip
        return (
            '<div class="kit-report">'
            + nv.paragraph(text)
            + nv.table_html(
                t.tail(6), money_columns=("mrr_base", "mrr_now"), rate_columns=("nrr",), currency=self.currency
            )
            + "</div>"
        )

    def segments_html(self) -> str:
        """Expansion by segment: the latest period shown, as DESIGN.md defines the rates."""
        if not self.segment or self.segments is None or self.segments.empty or self.shown.empty:
            return nv.paragraph(nv.esc("The data has no customer attribute to break expansion down by."))
        table = self.segment_latest()
        word, first, last = self.params["period"], self.shown["period"].iloc[0], self.shown["period"].iloc[-1]
        text = nv.esc(
            f"In {last}, by {self.segment}: a customer counts in its segment at the start of the {word} (new and "
            f"reactivated customers at its end), so the rows add up to the totals above."
            + (f" The chart sums expansion MRR over the {word}s {first} to {last}." if first != last else "")
        )  # fmt: skip
        return '<div class="kit-report">' + nv.paragraph(text) + nv.table_html(
            table, money_columns=("mrr_start", "expansion", "upsell", "cross_sell", "contraction", "churn"),
            rate_columns=("customer_expansion_rate", "expansion_mrr_rate", "nrr"),
            count_columns=("customers_start", "customers_expanded"), currency=self.currency) + "</div>"  # fmt: skip

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

    def cohorts_intro_html(self) -> str:
        """How to read the cohort heatmap."""
        if not self.has_cohorts:
            return nv.paragraph(nv.esc("No customer was active at the start of a period yet: no cohort to show."))
        grain = "quarter" if self.params["period"] == "month" else self.params["period"]
        text = (
            f"Each row is the {grain} in which customers first paid; each column counts {grain}s since then. A "
            f"cell is the NRR of that cohort over that {grain} (from its customers' MRR at the start of the "
            f"{grain} to its end): above 100% the cohort's expansion outweighed its contraction and churn."
        )
        if self.ledger.kind == "snapshots":
            text += " Customers already paying in the first month of the file are counted in that month's cohort."
        return nv.paragraph(nv.esc(text))

    @property
    def has_cross_sell(self) -> bool:
        """Whether any existing customer added a product."""
        return bool(self.cross_sell.to_numpy().sum())

    def cross_sell_html(self) -> str:
        """How to read the cross-sell matrix."""
        if not self.has_cross_sell:
            return nv.paragraph(nv.esc("No existing customer added a product in this window."))
        pairs = self.cross_sell.stack()
        pairs = pairs[pairs > 0].sort_values(ascending=False)
        count = int(pairs.iloc[0])
        top = [f"{held} → {added}" for held, added in pairs.index[pairs.to_numpy() == count]]
        return nv.paragraph(nv.esc(
            f"Each cell counts existing customers who, holding the row's product, started paying for the column's "
            f"product in a period. The most common path{'s' if len(top) > 1 else ''}: {' and '.join(top[:3])} "
            f"({count:,} times{' each' if len(top) > 1 else ''}). The matrix covers the whole history, not only the "
            "periods shown."
        ))  # fmt: skip

    def upgrades_html(self) -> str:
        """Plan changes of customers active at both ends of a period."""
        if self.upgrades.empty:
            return nv.paragraph(nv.esc("No plan column in the data, or no plan changed: no upgrade paths to show."))
        return '<div class="kit-report"><h4>Plan changes (most frequent)</h4>' + nv.table_html(
            self.upgrades.head(10), money_columns=("mrr_change",), count_columns=("customers",),
            currency=self.currency) + "</div>"  # fmt: skip

    def top_customers_html(self) -> str:
        """Show the customers who expanded most over the periods shown."""
        if self.top.empty:
            return nv.paragraph(nv.esc("No customer expanded in the periods shown."))
        table = self.top.copy()
        return '<div class="kit-report"><h4>Top expanding customers</h4>' + nv.table_html(
            table, money_columns=("expansion", "upsell", "cross_sell"), rate_columns=("share",),
            count_columns=("periods_expanded",), currency=self.currency) + "</div>"  # fmt: skip

    def concentration_html(self) -> str:
        """Share of expansion from the top 10% of expanders."""
        c = metrics.between(self.concentration, self.params["start"], self.params["end"])
        total = int(c["expansion"].sum())
        values = self.movements.loc[self.shown_periods_mask() & (self.movements["expansion"] > 0)]
        per_customer = np.sort(values.groupby("customer_id", observed=True)["expansion"].sum().to_numpy())[::-1]
        k = int(np.ceil(0.1 * len(per_customer)))
        share = per_customer[:k].sum() / per_customer.sum() if per_customer.sum() else float("nan")
        last = c.iloc[-1] if len(c) else None
        text = nv.esc(
            f"Over the periods shown, the top 10% of expanding customers ({k:,} of {len(per_customer):,}) brought "
            f"{nv.pct(share)} of all expansion MRR ({nv.money(total, self.currency)})."
            + (f" In {last['period']} alone: {nv.pct(last['top_share'])} from {int(last['top_expanders']):,} of "
               f"{int(last['expanders']):,} expanders." if last is not None else "")
            + (" Under product netting an expander is any customer with expansion MRR on some product, also one "
               "whose MRR fell overall, so these counts can exceed the customers counted as expanded above."
               if self.params["netting"] == "product" else "")
        )  # fmt: skip
        return '<div class="kit-report"><h4>Concentration of expansion</h4>' + nv.paragraph(text) + "</div>"

    def shown_periods_mask(self) -> pd.Series:
        """Rows of the movements in the periods shown."""
        return self.movements["period"].astype(str).isin(set(self.shown["period"]))

    # --- limitations and quality ----------------------------------------------------------------
    def limitations_html(self) -> str:
        """Say what this data set could not show."""
        q = self.ledger.quality
        items = []
        if q.rows_excluded:
            items.append(f"{q.rows_excluded:,} of {q.rows_read:,} input rows were excluded as invalid or outside the "
                         "window (see the appendix); their MRR is not in any figure.")  # fmt: skip
        if self.plan.dropped:
            items.append(f"The partial {self.params['period']} {self.plan.dropped} is not reported.")
        if self.params["period"] != "month":
            items.append(f"At {self.params['period']}ly grain, changes that reverse within a {self.params['period']} "
                         "(a churn and return, an upgrade and downgrade) are invisible.")  # fmt: skip
        currencies = q.facts.get("currencies", "")
        if "," in currencies:
            if self.params["fx_mode"] == "constant":
                text = (f"Several currencies ({currencies}) are converted at one rate per currency (the window's last "
                        "month), so the figures follow what customers bought, not the exchange-rate value of what "
                        "they paid.")  # fmt: skip
            else:
                text = (f"Several currencies ({currencies}) are converted at each month's rate, so part of the "
                        "expansion and contraction of foreign-currency customers is exchange-rate movement; run with "
                        "fx_mode = constant to measure in constant currency.")  # fmt: skip
            ref = self._reference_for(self.shown)
            if ref is not None and len(ref) and len(self.shown):
                here = self.shown["customer_expansion_rate"]
                there = ref["customer_expansion_rate"]
                text += (
                    f" Over the periods shown the customer expansion rate ranges from {nv.pct(here.min())} to "
                    f"{nv.pct(here.max())} here, and from {nv.pct(there.min())} to {nv.pct(there.max())} "
                    f"{FX_WORDS[_other_fx_mode(self.params['fx_mode'])]} (the dashed line in the rates chart)."
                )
            items.append(text)
        if self.ledger.kind == "snapshots":
            items.append("The file starts mid-history: customers active in its first month may be older, and "
                         "returns of customers who left before it count as new.")  # fmt: skip
        starts = self.shown["customers_start"]
        small = self.shown.loc[(starts > 0) & (starts < 30), "period"].tolist()
        if small:
            many = len(small) > 1
            items.append(f"{len(small)} {self.params['period']}{'s' if many else ''} start{'' if many else 's'} with "
                         f"fewer than 30 customers ({', '.join(small[:4])}{'…' if len(small) > 4 else ''}); "
                         f"{'their' if many else 'its'} rates swing widely.")  # fmt: skip
        empty = self.shown.loc[starts == 0, "period"].tolist()
        if empty:
            items.append(f"No customer was active at the start of {', '.join(empty[:4])}{'…' if len(empty) > 4 else ''}"
                         ": the rates of that period are undefined (n/a), not zero.")  # fmt: skip
        notes = q.notes
        for note in notes.itertuples():
            items.append(f"Data note: {note.note}: {nv.plural(note.count, 'row')}.")
        if not items:
            items.append("No further limitation was found in this data set.")
        return '<div class="kit-report"><h4>In this data set</h4><ul>' + "".join(
            f"<li>{nv.esc(i)}</li>" for i in items) + "</ul></div>"  # fmt: skip

    def quality_html(self) -> str:
        """Show the data-quality table, exclusions with examples, and the first problems."""
        q = self.ledger.quality
        parts = [nv.paragraph(nv.esc(
            f"Every input row is accounted for: {q.rows_read:,} read = {q.rows_used:,} used + {q.rows_excluded:,} "
            "excluded."
        )), nv.table_html(q.table())]  # fmt: skip
        if len(q.excluded):
            parts.append("<h4>Excluded rows by reason</h4>" + nv.table_html(q.excluded, count_columns=("rows",)))
        if len(q.problems):
            parts.append("<h4>First problems found</h4>" + nv.table_html(q.problems.head(20)))
        if len(q.notes):
            parts.append("<h4>Notes (valid rows worth a look)</h4>" + nv.table_html(q.notes, count_columns=("count",)))
        return '<div class="kit-report">' + "".join(parts) + "</div>"

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

    def trend_note_html(self) -> str:
        """Says when the charts over time reach before the periods of the report."""
        trend = self.trend
        if len(trend) == len(self.shown):
            return ""
        return nv.paragraph(nv.esc(
            f"This report covers {len(self.shown)} {self.params['period']}(s); for context, the charts over time "
            f"start at {trend['period'].iloc[0]}, and the {self.params['period']}s of the report are shaded."
        ))  # fmt: skip

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
            reference_label=f"the same {FX_WORDS[_other_fx_mode(self.params['fx_mode'])]}",
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

    def plot_cohorts(self, ax):
        """Cohort NRR heatmap."""
        grain = "quarter" if self.params["period"] == "month" else self.params["period"]
        return plots.cohort_heatmap(self.cohorts.loc[self.cohorts["age"] <= 12], unit=grain, ax=ax)

    def plot_cross_sell(self, ax):
        """Cross-sell matrix."""
        return plots.matrix_heatmap(self.cross_sell, ax=ax)


def analyse(ledger: Ledger, params: dict, *, fx_reference: Ledger | None = None) -> Analysis:
    """
    Compute every table of a report from a ledger and validated report parameters.

    ``fx_reference`` is the same data loaded in the other FX mode (see
    :func:`kit.report.fx_reference_ledger`); when given, the report shows how much of the
    figures is exchange-rate movement.

    Filters keep whole customers (see :func:`kit.ledger.filter_customers`); ``start``
    and ``end`` only limit the periods shown, never the history the movements use.
    """
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
    if params["segment"] and params["segment"] not in ledger.attributes:
        raise ParameterError(f"segment {params['segment']!r} is not a customer attribute of the data; it has "
                             f"{', '.join(ledger.attributes) or 'none'}")  # fmt: skip
    if len(summary) and shown.empty and (params["start"] or params["end"]):
        raise ParameterError(f"no period from {params['start'] or 'the first'} to {params['end'] or 'the last'}: "
                             f"the data has {summary['period'].iloc[0]} to {summary['period'].iloc[-1]}")  # fmt: skip
    segment = params["segment"] or next((c for c in SEGMENT_CANDIDATES if c in ledger.attributes), None)
    segments = metrics.summary(moves, by=segment) if segment else None
    label = None if params["anonymise"] else next((c for c in NAME_COLUMNS if c in ledger.attributes), None)
    # Signup cohorts by quarter for a monthly report (36 monthly columns would be unreadable),
    # measured on quarterly movements so that no cell adds up monthly starting MRRs.
    cohort_grain = "quarter" if params["period"] == "month" else params["period"]
    cohort_moves = (
        moves if cohort_grain == params["period"] else compute_movements(ledger, **{**options, "period": cohort_grain})
    )
    shown_moves = moves.loc[moves["period"].astype(str).isin(set(shown["period"]))]
    return Analysis(
        params=params,
        ledger=ledger,
        summary=summary,
        shown=shown,
        movements=moves,
        segment=segment,
        segments=segments,
        cohorts=metrics.cohorts(ledger, cohort_moves, cohort=cohort_grain),
        cross_sell=metrics.cross_sell_matrix(
            ledger, period=params["period"], reactivation_window=options["reactivation_window"]
        ),  # fmt: skip
        upgrades=metrics.upgrade_paths(moves, ledger),
        top=metrics.top_expanders(shown_moves, n=10, label=label),
        concentration=metrics.concentration(moves),
        trailing=metrics.trailing_nrr(ledger),
        plan=plan,
        fx_reference=None
        if fx_reference is None
        else metrics.summarize(filter_customers(fx_reference, params["filters"]), **options),
    )


def _short(path: str) -> str:
    return Path(path).name if path and not is_database_url(path) else path


def _source_name(params: dict) -> str:
    data = params["data"]
    if not data:
        return "bundled sample (data/sample_subscriptions.csv)"
    if is_database_url(data):
        return f"{shown_url(data)} ({'table ' + params['table'] if params['table'] else 'query'})"
    return Path(data).name
