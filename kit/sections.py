"""
The report's sections: facts from :class:`kit.analysis.Analysis`, words from :mod:`kit.narrative`, HTML from templates.

:func:`section` is the notebook's one call per section (``section(run, "bridge")``); each
section's template lives in ``kit/templates/sections/`` and is rendered with autoescape,
so every text from the data reaches the page escaped. Nothing here computes a figure.
"""

from __future__ import annotations

from markupsafe import Markup

from kit import metrics
from kit import narrative as nv
from kit.templating import render


def section(run, name: str) -> str:
    """
    Return the HTML of one section of a report, escaped by its template.

    Parameters
    ----------
    run : kit.analysis.Analysis
        The computed report.
    name : str
        One of :data:`SECTIONS`: ``header``, ``executive``, ``methodology``, ``bridge``,
        ``rates``, ``retention``, ``segments``, ``cohorts_intro``, ``cross_sell``,
        ``upgrades``, ``top_customers``, ``concentration``, ``limitations``, ``quality``, ``causes``.

    Returns
    -------
    str
        HTML for ``IPython.display.HTML``; every text from the data is escaped.

    Raises
    ------
    KeyError
        For a name that is no section.

    Examples
    --------
    >>> import kit
    >>> from kit.report import load_options, validate_parameters
    >>> params = validate_parameters({"period": "year"})
    >>> run = kit.analyse(kit.load_ledger(**load_options(params)), params)
    >>> section(run, "header")[:42]
    '<div class="kit-report"><h1>Expansion reve'
    """
    return SECTIONS[name](run)


def _markup(text: str):
    """Mark HTML the kit rendered from escaped parts (a table, cards) as safe to put into a section."""
    return Markup(text)  # noqa: S704 - rendered by kit.templating, every value escaped


def _render(name: str, **values) -> str:

    return render(f"sections/{name}.html.j2", **values)


def _note(text: str) -> str:
    return _render("note", text=text)


def _header(run) -> str:

    p, ledger = run.params, run.ledger
    span = nv.reported_span(*run.shown_bounds(), run.outside_range())
    data = nv.data_sentence(source=run.source, kind=ledger.kind, window=f"{ledger.first_month} to {ledger.last_month}",
                            span=span, currency=run.currency)  # fmt: skip
    rows = nv.parameter_rows(p, source=run.source, kind=ledger.kind, segment=run.segment, currency=run.currency,
                             fx_file=run.fx_file, window=run.window)  # fmt: skip
    return _render("header", title=p["title"], company=p["company"], data=data,
                   parameters=_markup(nv.parameter_table(rows)))  # fmt: skip


def _executive(run) -> str:

    summary = nv.executive_summary(run.executive_history(), period=run.params["period"], currency=run.currency)
    items = list(summary["items"])
    compared = run.fx_comparison()
    if compared is not None and items:
        now, other = compared
        items.append(("Exchange rates.", nv.fx_effect_sentence(now["period"], run.params["fx_mode"], now, other,
                                                               run.currency)))  # fmt: skip
    return _render("executive", empty=nv.NO_COMPLETE_PERIOD, items=items, cards=_markup(nv.cards(summary["cards"])))


def _methodology(run) -> str:

    p = run.params
    items = nv.methodology_items(
        period=p["period"], netting=p["netting"], window=run.window, window_text=p["reactivation_window"],
        baseline=run.plan.baseline, snapshots=run.ledger.kind == "snapshots", currency=run.currency,
        fx_mode=p["fx_mode"], several_currencies=run.several_currencies, dropped=run.plan.dropped,
        lenient=bool(p.get("lenient")), segment=run.segment,
        source_format=str(run.ledger.quality.details.get("format", "")),
    )  # fmt: skip
    return _render("methodology", heading="This run", items=items)


def _bridge(run) -> str:

    if run.shown.empty:
        return _note(nv.NO_MOVEMENT)
    table = run.bridge_table()
    trend = run.trend
    note = "" if len(trend) == len(run.shown) else nv.trend_note(len(run.shown), run.params["period"],
                                                                  trend["period"].iloc[0])  # fmt: skip
    return _render("bridge", intro=nv.bridge_intro(len(table), len(run.shown)), trend_note=note,
                   table=_markup(nv.table_html(table, money_columns=metrics.MONEY, currency=run.currency)))  # fmt: skip


def _table(heading: str = "", text: str = "", **table) -> str:

    frame = table.pop("frame")
    return _render("with_table", heading=heading, text=text, table=_markup(nv.table_html(frame, **table)))


def _rates(run) -> str:
    columns = run.RATE_COLUMNS
    return _table(frame=run.rates_table(), rate_columns=columns[3:9],
                  count_columns=("customers_start", "customers_expanded"))  # fmt: skip


def _retention(run) -> str:

    t = run.retention_table()
    if t.empty:
        return _note(nv.NO_TRAILING_NRR)
    last = t.iloc[-1]
    text = nv.retention_sentence(last["month"], last["nrr"], int(last["mrr_now"]), int(last["mrr_base"]), run.currency)
    return _table(text=text, frame=t.tail(6), money_columns=("mrr_base", "mrr_now"), rate_columns=("nrr",),
                  currency=run.currency)  # fmt: skip


def _segments(run) -> str:

    if not run.segment or run.segments is None or run.segments.empty or run.shown.empty:
        return _note(nv.NO_SEGMENT)
    first, last = run.shown_bounds()
    return _table(
        text=nv.segments_sentence(run.segment, run.params["period"], first, last), frame=run.segment_latest(),
        money_columns=("mrr_start", "expansion", "upsell", "cross_sell", "contraction", "churn"),
        rate_columns=("customer_expansion_rate", "expansion_mrr_rate", "nrr"),
        count_columns=("customers_start", "customers_expanded"), currency=run.currency,
    )  # fmt: skip


def _cohorts_intro(run) -> str:

    if not run.has_cohorts:
        return _note(nv.NO_COHORT)
    return _note(nv.cohorts_sentence(run.cohort_grain, snapshots=run.ledger.kind == "snapshots"))


def _cross_sell(run) -> str:

    if not run.has_cross_sell:
        return _note(nv.NO_CROSS_SELL)
    return _note(nv.cross_sell_sentence(*run.cross_sell_top()))


def _upgrades(run) -> str:

    if run.upgrades.empty:
        return _note(nv.NO_UPGRADES)
    return _table(heading="Plan changes (most frequent)", frame=run.upgrades.head(10), money_columns=("mrr_change",),
                  count_columns=("customers",), currency=run.currency)  # fmt: skip


def _top_customers(run) -> str:

    if run.top.empty:
        return _note(nv.NO_TOP_CUSTOMERS)
    return _table(heading="Top expanding customers", frame=run.top, money_columns=("expansion", "upsell", "cross_sell"),
                  rate_columns=("share",), count_columns=("periods_expanded",), currency=run.currency)  # fmt: skip


def _concentration(run) -> str:
    text = nv.concentration_sentence(**run.concentration_facts(), currency=run.currency,
                                     product_netting=run.params["netting"] == "product")  # fmt: skip
    return _render("paragraph", heading="Concentration of expansion", text=text)


#: The words of a cause of expansion, for the drill-down's heading.
CAUSE_WORDS = {"expansion_seats": "added seats", "expansion_plan": "plan upgrades", "expansion_price": "price rises",
               "cross_sell": "cross-sell", "expansion_unattributed": "unattributed changes"}  # fmt: skip


def _causes(run) -> str:

    if not run.has_causes:
        return _note(nv.NO_MOVEMENT)
    from kit.bridges import MONEY

    facts = run.cause_facts()
    text = nv.causes_sentence(**facts, currency=run.currency, customer_netting=run.params["netting"] == "customer")
    missing = (run.cause_inputs or {}).get("missing", [])
    note = nv.causes_missing_note(missing) if missing else ""
    table = nv.table_html(run.causes_table(), money_columns=MONEY, currency=run.currency)
    cell, heading, drill = run.largest_cause(), "", ""
    if cell is not None:
        heading = f"Customers behind the largest cause in {facts['period']}: {CAUSE_WORDS[cell]} (top 5)"
        drill = nv.table_html(run.cause_drill(5), money_columns=("mrr_start", "mrr_end", "amount"),
                              currency=run.currency)  # fmt: skip
    return _render("causes", note=note, text=text, table=_markup(table), drill_heading=heading,
                   drill=_markup(drill))  # fmt: skip


def _limitations(run) -> str:

    q = run.ledger.quality
    items = nv.limitations_items(
        rows_excluded=q.rows_excluded, rows_read=q.rows_read, dropped=run.plan.dropped, period=run.params["period"],
        currencies=list(run.currencies), fx_mode=run.params["fx_mode"], rate_ranges=run.rate_ranges(),
        snapshots=run.ledger.kind == "snapshots", small=run.small_periods(), empty=run.empty_periods(),
        notes=[(note.note, note.count) for note in q.notes.itertuples()],
    )  # fmt: skip
    return _render("limitations", heading="In this data set", items=items)


def _quality(run) -> str:

    q = run.ledger.quality
    parts = []
    if len(q.excluded):
        parts.append(("Excluded rows by reason", nv.table_html(q.excluded, count_columns=("rows",))))
    if len(q.problems):
        parts.append(("First problems found", nv.table_html(q.problems.head(20))))
    if len(q.notes):
        parts.append(("Notes (valid rows worth a look)", nv.table_html(q.notes, count_columns=("count",))))
    return _render("quality", accounted=nv.accounted_sentence(q.rows_read, q.rows_used, q.rows_excluded),
                   table=_markup(nv.table_html(q.table())), parts=[(h, _markup(t)) for h, t in parts])  # fmt: skip


#: The report's sections by name: each turns an Analysis into HTML (see :func:`section`).
SECTIONS = {
    "header": _header, "executive": _executive, "methodology": _methodology, "bridge": _bridge, "rates": _rates,
    "retention": _retention, "segments": _segments, "cohorts_intro": _cohorts_intro, "cross_sell": _cross_sell,
    "upgrades": _upgrades, "top_customers": _top_customers, "concentration": _concentration,
    "limitations": _limitations, "quality": _quality, "causes": _causes,
}  # fmt: skip
