"""Analysis computes the report's tables and facts; kit.report.section turns them into escaped HTML."""

from __future__ import annotations

import re

import pandas as pd
import pytest

import kit
from kit import config
from kit.analysis import cohort_grain
from kit.report import SECTIONS, load_options, section, validate_parameters


@pytest.fixture(scope="module")
def sample_ledger() -> kit.Ledger:
    return kit.load_ledger(**load_options(validate_parameters({})))


def _run(ledger, **values):
    params = validate_parameters(values)
    return kit.analyse(ledger, params, fx_reference=kit.report.fx_reference_ledger(ledger, params))


def test_analysis_writes_no_html_or_sentence():
    source = (config.ROOT / "kit" / "analysis.py").read_text(encoding="utf-8")
    assert not re.search(r"def \w+_html\b", source)
    assert "<p>" not in source and "<div" not in source and "esc(" not in source


def test_every_section_renders_and_escapes_text_from_the_parameters(sample_ledger):
    run = _run(sample_ledger, title="<script>x</script>", company="A & B")
    pages = {name: section(run, name) for name in SECTIONS}
    assert "&lt;script&gt;x&lt;/script&gt;" in pages["header"] and "<script>" not in pages["header"]
    assert "A &amp; B" in pages["header"]
    assert all(page.strip() for page in pages.values())
    with pytest.raises(KeyError):
        section(run, "nosuch")


def test_currencies_are_a_list_and_the_quality_table_keeps_its_text(sample_ledger):
    run = _run(sample_ledger)
    assert run.currencies == ("EUR", "USD") and run.several_currencies
    table = run.ledger.quality.table().set_index("item")["value"]
    assert table["currencies"] == "EUR, USD"
    assert "Several currencies (EUR, USD) are converted at one rate per currency" in section(run, "limitations")
    assert "<strong>Exchange rates.</strong> In 2025-12, at constant exchange rates" in section(run, "executive")


def test_one_currency_has_no_fx_reference(playbook):
    params = validate_parameters({})
    assert kit.report.fx_reference_ledger(playbook, params) is None
    run = kit.analyse(playbook, params)
    assert run.currencies == () and not run.several_currencies and run.fx_comparison() is None
    assert "one currency (not stated), no conversion." in section(run, "methodology")


def test_cohort_grain_is_quarters_in_a_monthly_report(sample_ledger):
    assert [cohort_grain(g) for g in ("month", "quarter", "year")] == ["quarter", "quarter", "year"]
    run = _run(sample_ledger)
    assert run.cohort_grain == "quarter" and run.cohorts["cohort"].astype(str).str.contains("Q").all()


def test_trailing_nrr_stops_at_the_last_month_of_the_last_period_shown(sample_ledger):
    run = _run(sample_ledger, period="quarter", end="2024-Q3")
    table = run.retention_table()
    assert table["month"].astype(str).iloc[-1] == "2024-09"
    assert "Trailing-twelve-month NRR in 2024-09" in section(run, "retention")


def test_outside_range_compares_periods_not_text(sample_ledger):
    run = _run(sample_ledger, period="year", start="2020", end="2030")
    assert run.outside_range() == ["start 2020", "end 2030"]
    assert _run(sample_ledger, period="year", start="2024").outside_range() == []


def test_concentration_facts_add_up(sample_ledger):
    run = _run(sample_ledger, netting="product")
    facts = run.concentration_facts()
    assert 0 < facts["top"] <= facts["expanders"] and 0 < facts["share"] <= 1
    assert facts["total"] == int(run.shown["expansion"].sum())
    assert isinstance(facts["latest"], pd.Series)
    assert "Under product netting an expander is any customer" in section(run, "concentration")


@pytest.mark.parametrize("fx_mode", ["constant", "monthly"])
def test_a_multi_currency_report_reads_its_data_once(monkeypatch, fx_mode):
    import kit.ledger

    reads = []
    real = kit.ledger.read_source
    monkeypatch.setattr(kit.ledger, "read_source", lambda *a, **k: reads.append(1) or real(*a, **k))
    params = validate_parameters({"fx_mode": fx_mode})
    ledger = kit.load_ledger(**load_options(params), fx_reference=True)
    assert len(reads) == 1 and ledger.fx_reference is not None
    assert ledger.quality.currencies == ("EUR", "USD") and ledger.fx_reference.quality.currencies == ("EUR", "USD")
    other = "monthly" if fx_mode == "constant" else "constant"
    again = kit.load_ledger(**{**load_options(params), "fx_mode": other})  # what the report did before: a second load
    pd.testing.assert_frame_equal(ledger.fx_reference.frame, again.frame)
    pd.testing.assert_frame_equal(kit.summarize(ledger.fx_reference), kit.summarize(again))
    assert not ledger.frame.equals(again.frame)  # the two modes do differ on the sample
    pd.testing.assert_frame_equal(ledger.frame, kit.load_ledger(**load_options(params)).frame)  # the main one unchanged
    run = kit.analyse(ledger, params)  # takes ledger.fx_reference
    assert run.fx_comparison() is not None
    assert kit.report.fx_reference_ledger(ledger, params) is ledger.fx_reference and len(reads) == 3  # no read more


def test_one_currency_loads_no_fx_reference(playbook):
    assert playbook.fx_reference is None
    assert kit.load_ledger(playbook.frame.assign(mrr=playbook.frame["mrr_cents"] / 100).drop(columns="mrr_cents"),
                           kind="snapshots", fx_reference=True).fx_reference is None  # fmt: skip


def test_a_filtered_multi_currency_report_keeps_its_fx_comparison():
    params = validate_parameters({"filters": {"size": ["SMB"]}})
    ledger = kit.load_ledger(**load_options(params), fx_reference=True)  # as the report notebook loads it
    run = kit.analyse(ledger, params)
    assert run.fx_reference is not None and run.fx_comparison() is not None
    explicit = kit.analyse(ledger, params, fx_reference=ledger.fx_reference)
    pd.testing.assert_frame_equal(run.fx_reference, explicit.fx_reference)
    assert "<strong>Exchange rates.</strong>" in section(run, "executive")
