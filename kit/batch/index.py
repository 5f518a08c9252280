"""
The index page of a batch: every report with its headline numbers, then the failures.

The page is the Jinja2 template ``kit/templates/pages/batch_index.html.j2`` (autoescape:
every text from the data or the config reaches it escaped); this module turns the
reports' records (``NAME.json``) into its rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from kit.periods import ADJECTIVES

#: The headline rates of a record, in the index's column order, and their headers.
RATES = ("customer_expansion_rate", "expansion_mrr_rate", "nrr", "grr")
RATE_NAMES = ("Customer expansion rate", "Expansion MRR rate", "NRR", "GRR")


def index_html(records: list[dict], *, source: str = "") -> str:
    """
    Render the index page: every report with its headline numbers, then the failures.

    The page is ``kit/templates/pages/batch_index.html.j2``; every text from the data or the config reaches it
    escaped (the template escapes all values).

    Parameters
    ----------
    records : list of dict
        The reports' records (``NAME.json``, see :func:`kit.batch.run.run_one`), in the
        config's order: ``name``, ``status`` (``"ok"`` or ``"failed"``), ``html``,
        ``parameters``, ``headline``, ``error``, ``failed_notebook``; ``kept`` and
        ``headline_error`` when set.
    source : str, optional
        The config's file name, shown in the title and the summary line.

    Returns
    -------
    str
        The whole HTML page: published reports linked with their scope and headline
        numbers, then the failed ones with their error and failed notebook.

    Examples
    --------
    >>> page = index_html([{"name": "a", "status": "failed", "html": None, "error": "no <data>",
    ...                     "failed_notebook": None, "parameters": {"period": "quarter"}}], source="b.toml")
    >>> "Failed reports (1)" in page, "no &lt;data&gt;" in page, "quarterly" in page
    (True, True, True)
    """
    from kit import narrative as nv
    from kit.templating import render

    ok = [r for r in records if r["status"] == "ok"]
    failed = [r for r in records if r["status"] != "ok"]
    updated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    summary = (f"{source + ': ' if source else ''}{nv.plural(len(records), 'report')}, {len(ok)} published, "
               f"{len(failed)} failed. Headline numbers are those of each report's latest period shown. "
               f"Updated {updated}.")  # fmt: skip
    return render("batch_index.html.j2", title=f"Expansion reports{': ' + source if source else ''}",
                  summary=summary, rate_names=RATE_NAMES, reports=[_report_row(r) for r in ok],
                  failures=[_failure_row(r) for r in failed]) + "\n"  # fmt: skip


def _report_row(record: dict) -> dict:
    """Give the index row of a published report: its link, title, scope and headline numbers as text."""
    from kit import narrative as nv

    p, h = record.get("parameters") or {}, record.get("headline") or {}
    note = " · kept from an earlier run" if record.get("kept") else ""
    if record.get("headline_error"):
        note += f" · numbers unavailable: {record['headline_error']}"
    money = nv.money(h["expansion"], h.get("currency")) if h.get("expansion") is not None else "n/a"
    return {"href": quote(record["html"]), "title": p.get("title") or record["name"], "name": record["name"],
            "note": note, "scope": _scope(p), "period": h.get("period") or "none", "money": money,
            "rates": [nv.pct(h.get(k)) for k in RATES]}  # fmt: skip


def _failure_row(record: dict) -> dict:
    """Give the index row of a failed report: its name, scope, error and the failed notebook's link."""
    notebook = record.get("failed_notebook")
    return {"name": record["name"], "scope": _scope(record.get("parameters") or {}), "error": record.get("error") or "",
            "notebook": notebook, "href": quote(notebook) if notebook else None}  # fmt: skip


def _scope(params: dict) -> str:
    """
    Describe what a report covers in one line.

    >>> _scope({"period": "quarter", "filters": {"size": ["SMB"]}, "start": "2025-Q1", "end": "2025-Q1"})
    'quarterly; size = SMB; 2025-Q1'
    """
    parts = [ADJECTIVES.get(params.get("period"), str(params.get("period")))]
    for column, values in (params.get("filters") or {}).items():
        parts.append(f"{column} = {', '.join(map(str, values)) if isinstance(values, list) else values}")
    start, end = params.get("start") or "", params.get("end") or ""
    if start or end:
        parts.append(start if start == end else f"{start or 'first'} to {end or 'last'}")
    return "; ".join(parts)
