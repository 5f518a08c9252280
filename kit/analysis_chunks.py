"""
A report's tables from chunks of customers: the report under a memory limit, equal to the whole's.

The report parameter ``memory_limit`` (``kit report --memory-limit 2GiB``) loads the data in
chunks of customers (:mod:`kit.chunks`: a stable hash of ``customer_id``) instead of as one
ledger. Each chunk is loaded, filtered and measured with the kit's own functions, exactly as
:func:`kit.analysis.analyse` measures the whole (:func:`chunk_parts`); the chunks' parts are then
combined into one :class:`~kit.analysis.Analysis` (:func:`analysis_of_parts`), which the report's
sections, charts and workbook read as they read the whole's.

Plain function it must equal: ``analyse(load_ledger(...), params)``. ``tests/test_analysis_chunks.py``
holds every section of the report (its HTML) and every table equal, chunked and whole, on the
bundled sample (several currencies, an FX reference, names, plans, quantities) and on random
ledgers, for every grain and netting.

How each part combines (movements are customer-local; :mod:`kit.partials` has the tables
shared with ``kit summary``):

==========================  ===============================================================================
part                        how the chunks combine
==========================  ===============================================================================
summary, segments, FX       plain sums per period (and segment), rates recomputed (:func:`kit.metrics.combine`)
cause bridge                plain sums per period, rates recomputed
upgrade paths               plain sums per (from plan, to plan), sorted as the whole sorts them
cohorts, cross-sell,        as in :mod:`kit.partials`
trailing NRR, top
expanders, concentration
concentration facts         each chunk's customers' expansion over the periods shown (disjoint customers)
cause drill-down            each chunk's largest rows of each expansion cause, sorted together
                            (:func:`kit.partials.combine_drill`), the names of their customers beside
==========================  ===============================================================================

What a chunked analysis does not hold: the ledger and the movements (``run.ledger`` is a
:class:`LedgerFacts`, ``run.movements`` is None); an analyst exploring in a notebook loads
the ledger whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kit import metrics, partials
from kit.currency import data_currencies
from kit.errors import ParameterError
from kit.ledger import _shown_filters, check_filters, filter_chunk
from kit.movements import movements as compute_movements
from kit.movements import plan_periods
from kit.params import reactivation_window
from kit.rules import ratio
from kit.tables import cross_sell_tables

#: Rows of each cause's drill-down a chunk keeps (the report shows five).
DRILL_ROWS = 5


@dataclass
class LedgerFacts:
    """What a chunked analysis knows of the whole ledger: its window, kind, currency, attributes and data quality."""

    kind: str
    first_month: pd.Period
    last_month: pd.Period
    as_of: object
    currency: str | None
    attributes: list
    quality: object
    fx_reference: None = None


def chunk_parts(ledger, params: dict) -> dict:
    """
    Return one chunk's parts of the report: :func:`kit.analysis.analyse`'s tables of its customers.

    ``ledger`` is a chunk's (its customers, the whole source's window); ``params`` the validated
    report parameters. A chunk none of whose customers the filters keep gives ``{"none": True, ...}``
    with its currencies, window and filter values; the filters are checked on every chunk's values
    together (:func:`analysis_of_parts`), as the whole checks them.
    """
    from kit.analysis import cohort_grain, customer_names, shown_columns
    from kit.bridges import causes as cause_bridge
    from kit.bridges import drill
    from kit.bridges import inputs as cause_inputs

    currencies = data_currencies(ledger)
    reference = ledger.fx_reference
    facts = LedgerFacts(ledger.kind, ledger.first_month, ledger.last_month, ledger.as_of, ledger.currency,
                        list(ledger.attributes), None)  # fmt: skip
    ledger, known = filter_chunk(ledger, params["filters"])  # the whole's filters: checked on every chunk's values
    if ledger is None:  # none of this chunk's customers is kept
        return {"none": True, "currencies": currencies, "facts": facts, "filter_values": known}
    window = reactivation_window(params["reactivation_window"])
    options = {"period": params["period"], "netting": params["netting"], "reactivation_window": window}
    moves = compute_movements(ledger, **options)
    summary = metrics.summary(moves)
    shown = metrics.between(summary, params["start"], params["end"])
    shown_labels = set(shown["period"])
    segment, label = shown_columns(params, ledger.attributes)
    if params["segment"] and params["segment"] not in ledger.attributes:
        segment = None  # the combined analysis says so (the whole's error)
    grain = cohort_grain(params["period"])
    cohort_moves = moves if grain == params["period"] else compute_movements(ledger, **{**options, "period": grain})
    in_shown = moves["period"].astype(str).isin(shown_labels).to_numpy()
    shown_moves = moves.loc[in_shown]
    _, pairs = cross_sell_tables(ledger, period=params["period"], reactivation_window=window)
    causes = cause_bridge(ledger, period=params["period"], reactivation_window=window)
    causes = causes.loc[causes["period"].astype(str).isin(shown_labels)].reset_index(drop=True)
    expanding = moves.loc[moves["expansion"] > 0, ["period", "expansion"]]
    counts = {str(p): np.unique(g["expansion"].to_numpy(), return_counts=True)
              for p, g in expanding.groupby("period", observed=False, sort=True)}  # fmt: skip
    shown_expanding = shown_moves.loc[shown_moves["expansion"] > 0]
    per_customer = shown_expanding.groupby("customer_id", observed=True)["expansion"].sum().to_numpy()
    drills, names = {}, None
    if len(causes):
        from kit.analysis import Analysis

        last = str(causes["period"].iloc[-1])
        for cell in Analysis.EXPANSION_PARTS:
            rows = drill(ledger, last, cell, grain=params["period"], reactivation_window=window)
            drills[cell] = _small(rows.head(DRILL_ROWS), ["customer_id"])
        if label and label in moves:
            names = customer_names(moves, label)
            wanted = {str(c) for rows in drills.values() for c in rows["customer_id"]}
            names = names.loc[names.index.isin(wanted)]
    return {
        "currencies": currencies,
        "facts": facts,
        "filter_values": known,
        "summary": summary,
        "segment": segment,
        "segments": metrics.summary(moves, by=segment) if segment else None,
        "label": label,
        "cohorts": metrics.cohorts(ledger, cohort_moves, cohort=grain),
        "products": list(ledger.frame["product"].cat.categories),
        "cross_sell_pairs": pairs,
        "upgrades": metrics.upgrade_paths(moves, ledger),
        "top": _small(metrics.top_expanders(shown_moves, n=10, label=label), ["customer_id", label]),
        "n": 10,
        "expansion_total": int(shown_expanding["expansion"].sum()),
        "expansion_counts": counts,
        "periods": [str(p) for p in summary["period"]],
        "top_fraction": 0.10,
        "trailing": metrics.trailing_nrr(ledger),
        "plan": plan_periods(ledger, params["period"]),
        "fx_reference": None if reference is None else _reference_summary(reference, params, options),
        "causes": causes,
        "cause_inputs": cause_inputs(ledger),
        "shown_expansion": per_customer,
        "drills": drills,
        "names": names,
    }


def _small(frame: pd.DataFrame, columns: list) -> pd.DataFrame:
    """
    Return the few rows a chunk keeps with their ids and names as text.

    As categoricals they would keep every customer of the chunk as a category: held for every chunk
    until they are combined, they grew a report's memory chunk after chunk.
    """
    texts = {c: str for c in columns if c and c in frame.columns}
    out = frame.astype(texts) if texts else frame
    out.attrs = dict(frame.attrs)
    return out


def _reference_summary(reference, params: dict, options: dict):
    kept, _ = filter_chunk(reference, params["filters"])
    return None if kept is None else metrics.summarize(kept, **options)


def analysis_of_parts(parts: list[dict], params: dict, quality):
    """
    Combine chunks' parts (:func:`chunk_parts`) into the whole's :class:`~kit.analysis.Analysis`.

    ``quality`` is the whole's data-quality record (:func:`kit.chunks.combine_quality`). Raises what
    :func:`kit.analysis.analyse` raises of the whole: a filter matching no customer of any chunk, a
    segment that is no attribute, a ``start`` to ``end`` range that holds no period.
    """
    from kit.analysis import Analysis, check_shown

    currencies = tuple(sorted({c for p in parts for c in p["currencies"]}))
    facts = parts[0]["facts"]
    facts.quality = quality
    filters = params["filters"]
    known = {column: sorted({v for p in parts for v in p["filter_values"].get(column, [])}) for column in filters}
    check_filters(filters, known, facts.attributes)
    kept = [p for p in parts if "none" not in p]
    if not kept:
        raise ParameterError(f"no customer matches all the filters ({_shown_filters(filters)})")
    first = kept[0]
    summary = metrics.combine([p["summary"] for p in kept])
    shown = metrics.between(summary, params["start"], params["end"])
    check_shown(params, summary, shown, facts.attributes)
    segment = first["segment"]
    cross_sell, pairs = partials._cross_sell(kept)
    # the whole's reference exists when the whole has several currencies: then every chunk's counts
    references = [p["fx_reference"] for p in kept if p["fx_reference"] is not None] if len(currencies) > 1 else []
    if references and len(references) < len(kept):  # cannot be: chunks are loaded with fx_reference="always"
        raise ValueError("a chunk without its FX reference: the other FX mode's figures would miss its customers")
    drills = None
    if first["drills"]:
        drills = {cell: partials.combine_drill([p["drills"][cell] for p in kept]).head(DRILL_ROWS)
                  for cell in first["drills"]}  # fmt: skip
    names = [p["names"] for p in kept if p["names"] is not None]
    shown_expansion = np.concatenate([p["shown_expansion"] for p in kept])
    return Analysis(
        params=params,
        ledger=facts,
        summary=summary,
        shown=shown,
        movements=None,
        segment=segment,
        segments=metrics.combine([p["segments"] for p in kept], by=segment) if segment else None,
        cohorts=partials._cohorts([p["cohorts"] for p in kept], first["cohorts"]),
        cross_sell=cross_sell,
        cross_sell_pairs=pairs,
        upgrades=_upgrades([p["upgrades"] for p in kept]),
        top=partials._top(kept),
        concentration=partials._concentration(kept),
        trailing=partials._trailing([p["trailing"] for p in kept], first["trailing"]),
        plan=first["plan"],
        currencies=currencies,
        fx_reference=metrics.combine(references) if references else None,
        causes=_causes([p["causes"] for p in kept]),
        cause_inputs=first["cause_inputs"],
        name_column=first["label"],
        shown_expansion=shown_expansion,
        drills=drills,
        drill_names=pd.concat(names) if names else None,
    )


def _upgrades(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Add the chunks' upgrade paths, sorted as :func:`kit.tables.upgrade_paths` sorts them."""
    like = frames[0]
    stacked = pd.concat([f for f in frames if len(f)] or [like], ignore_index=True)
    if stacked.empty:  # the whole's empty table is typed where some customer was active at both ends
        return next((f for f in frames if f["from_plan"].dtype != object), like)
    out = stacked.groupby(["from_plan", "to_plan"]).agg(customers=("customers", "sum"),
                                                        mrr_change=("mrr_change", "sum"))  # fmt: skip
    out = out.reset_index().sort_values(["customers", "mrr_change"], ascending=False).reset_index(drop=True)
    out.attrs = dict(like.attrs)
    return out


def _causes(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Add the chunks' cause bridges per period, the rates recomputed over ``mrr_start``."""
    from kit.bridges import COUNTS, EXPANSION, MONEY

    like = frames[0]
    sums = [*MONEY, *COUNTS, *EXPANSION]
    stacked = pd.concat(frames, ignore_index=True)
    out = stacked.groupby("period", sort=False)[sums].sum().reset_index()
    for column in sums:
        out[column] = out[column].astype(np.int64)
    for name in ("seats", "price", "plan", "cross_sell"):
        out[f"{name}_rate"] = ratio(out[name], out["mrr_start"])
    out = out[list(like.columns)]
    out.attrs = dict(like.attrs)
    return out


def analyse_source(params: dict, *, memory_limit=None, chunks: int | None = None, spill_folder=None):
    """
    Load the report's data (whole, or in chunks of customers under a memory limit) and compute its tables.

    Parameters
    ----------
    params : dict
        Validated report parameters (:func:`kit.report.validate_parameters`); their ``memory_limit``
        (``"2GiB"``; empty: the whole at once) chooses the chunk count.
    memory_limit : int or str, optional
        Wins over the parameter.
    chunks : int, optional
        The chunk count, given directly (wins over both).
    spill_folder : str or Path, optional
        Where a chunked read's spill files go (default: the system's temporary folder).

    Returns
    -------
    Analysis
        Equal, section by section, to ``analyse(load_ledger(**load_options(params), fx_reference=True), params)``.
    """
    from kit import chunks as _chunks
    from kit.analysis import analyse
    from kit.ledger import load_ledger
    from kit.parallel import _partition, run_chunk, settle
    from kit.report import load_options

    load = {**load_options(params), "fx_reference": True}
    limit = memory_limit if memory_limit is not None else (params.get("memory_limit") or None)
    if limit is None and chunks is None:
        return analyse(load_ledger(**load), params)
    source = load.pop("source")
    chunk_load = {**load, "fx_reference": "always"}  # a chunk of one currency of a source with several needs one too

    def run(part, buckets, last_try=False):
        result = run_chunk(
            part, buckets, chunk_load, [], last_try=last_try, work=lambda ledger: [chunk_parts(ledger, params)]
        )
        _release_memory()  # the chunk's ledger is gone: its memory back to the system, not kept by the allocators
        return result

    with _partition(source, limit, chunks, 1, load, spill_folder, bytes_per_row=_chunks.REPORT_BYTES_PER_ROW) as part:
        results = [run(part, [b]) for b in part.buckets()]
        results = settle(results, lambda group, last_try: run(part, group, last_try), part.name)
    from kit.parallel import _check_currencies

    _check_currencies(part.name, results)
    quality = _chunks.combine_quality([r.quality for r in results], name=part.name, details=part.details,
                                      window=results[0].window)  # fmt: skip
    return analysis_of_parts([r.tables[0] for r in results], params, quality)


def _release_memory() -> None:
    """
    Give the memory a chunk held back to the system.

    Arrow's pool and glibc's heap keep freed memory for reuse; over dozens of chunks the heap's
    free pieces grew the process by about 10–40 MB a chunk (measured at 1M and 5M customers).
    ``malloc_trim`` hands them back (elsewhere than glibc: nothing to do).
    """
    import ctypes
    import gc

    gc.collect()
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        pass
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
