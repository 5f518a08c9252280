"""Tables that display themselves (kit.display): formatted cells, every column, cards, the IPython formatter."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import kit
from kit import config, display
from kit import narrative as nv
from kit.metrics import SUMMARY_COLUMNS


@pytest.fixture(scope="module")
def sample() -> kit.Ledger:
    """The bundled sample, loaded as the report loads it (its FX table, the latest date in the file as of)."""
    return kit.load_ledger(config.SAMPLE_SUBSCRIPTIONS, fx=config.SAMPLE_FX)


@pytest.fixture(scope="module")
def quarterly(sample) -> pd.DataFrame:
    return kit.movements(sample, period="quarter")


def hand_made() -> pd.DataFrame:
    frame = pd.DataFrame({"period": ["2025-Q3", "2025-Q4"], "mrr_start": [123450, -5000], "nrr": [0.125, np.nan],
                          "quick_ratio": [2.5, np.nan], "customers_start": [1234, 0],
                          "segment": ["<b>SMB</b>", None]})  # fmt: skip
    return display.tag(frame, "summary", "USD")


# --- cells ---------------------------------------------------------------------------------------------------


def test_money_rates_counts_and_missing_values_are_formatted_for_people():
    cells = kit.formatted(hand_made()).cells
    assert cells.loc[0].tolist() == ["2025-Q3", "$1,234.50", "12.5%", "2.50", "1,234", "<b>SMB</b>"]
    assert cells.loc[1].tolist() == ["2025-Q4", "-$50.00", "n/a", "n/a", "0", "n/a"]


def test_the_numbers_stay_a_plain_frame_in_integer_cents():
    frame = hand_made()
    shown = kit.formatted(frame)
    assert shown.frame is frame and type(frame) is pd.DataFrame
    assert frame["mrr_start"].tolist() == [123450, -5000]


def test_currency_comes_from_the_tag_or_the_call():
    frame = pd.DataFrame({"upsell": [150]})
    assert kit.formatted(frame).cells.iloc[0, 0] == "1.50"
    assert kit.formatted(frame, currency="EUR").cells.iloc[0, 0] == "€1.50"
    assert kit.formatted(display.tag(frame.copy(), "x", "GBP")).cells.iloc[0, 0] == "£1.50"
    assert kit.formatted(display.tag(frame.copy(), "x", "CHF")).cells.iloc[0, 0] == "1.50 CHF"


@pytest.mark.parametrize(("column", "kind"), [
    ("mrr_start", "money"), ("cross_sell", "money"), ("mrr_change", "money"), ("top_expansion", "money"),
    ("customer_expansion_rate", "rate"), ("nrr", "rate"), ("share", "rate"), ("top_share", "rate"),
    ("quick_ratio", "ratio"), ("customers_churned", "count"), ("periods_expanded", "count"), ("age", "count"),
    ("period", "period"), ("cohort", "period"), ("month", "period"), ("segment", "text"), ("customer_id", "text"),
], ids=lambda v: str(v))  # fmt: skip
def test_column_kinds_follow_the_contract_names(column, kind):
    assert display.column_kind(column) == kind


def test_a_tag_names_kinds_the_rules_do_not_know():
    assert display.column_kind("Core", {"*": "count"}) == "count"
    assert display.column_kind("mrr_start", {"mrr_start": "text"}) == "text"
    with pytest.raises(ValueError, match="unknown column kinds {'x': 'dollars'}"):
        display.tag(pd.DataFrame(), "t", kinds={"x": "dollars"})


# --- tags ----------------------------------------------------------------------------------------------------


def test_tag_marks_the_frame_and_takes_the_currency_of_a_ledger_or_a_tagged_frame(sample):
    frame = display.tag(pd.DataFrame({"a": [1, 2, 3]}), "summary", sample, period="quarter")
    assert frame.attrs["kit"] == {"table": "summary", "currency": "USD", "period": "quarter"}
    assert display.tag(pd.DataFrame(), "cohorts", frame).attrs["kit"]["currency"] == "USD"
    assert display.meta(frame.head(2))["table"] == "summary"  # parts of a table keep the tag
    assert display.meta(frame.loc[frame["a"] > 1])["currency"] == "USD"
    assert display.meta(pd.DataFrame()) == {}
    with pytest.raises(TypeError, match="table must be a name"):
        display.tag(pd.DataFrame(), 3)


# --- the table -------------------------------------------------------------------------------------------------


def test_every_column_of_the_25_column_summary_is_shown_with_readable_headers(sample):
    summary = display.tag(kit.summarize(sample, period="quarter", by="size"), "summary", sample)
    columns = ["period", "size", *SUMMARY_COLUMNS[1:]]
    assert list(summary.columns) == columns and len(columns) == 25
    page = display.frame_html(summary)
    titles = re.findall(r'<th class="[a-z]*" title="([a-z_]+)">', page)
    assert titles == columns  # no 20-column cut
    assert 'title="customer_expansion_rate">customer expansion rate</th>' in page
    assert "overflow-x: auto" in page  # the box scrolls sideways
    groups = re.findall(r'<th colspan="(\d+)">([^<]*)</th>', page)
    assert groups == [("2", ""), ("9", "money (USD)"), ("7", "customers and counts"), ("6", "rates"),
                      ("1", "ratio")]  # fmt: skip
    assert f"summary: {len(summary)} rows × 25 columns; money in USD (the frame holds integer cents)" in page
    last = summary.iloc[-1]
    assert f">{nv.money(last['mrr_end'], 'USD')}</td>" in page and f">{nv.pct(last['nrr'])}</td>" in page


def test_a_long_table_shows_head_and_tail_and_says_how_to_see_all():
    frame = display.tag(pd.DataFrame({"month": [f"m{i}" for i in range(100)], "mrr_end": range(100)}), "t")
    page = display.frame_html(frame)
    assert ">m9</td>" in page and ">m90</td>" in page and ">m10</td>" not in page and ">m89</td>" not in page
    assert "… 80 more rows …" in page and "kit.formatted(frame, rows=None) shows every row" in page
    everything = kit.formatted(frame, rows=None).html
    assert ">m50</td>" in everything and "more rows" not in everything
    assert repr(kit.formatted(frame)).endswith("… 80 more rows")


def test_text_from_the_data_is_escaped():
    page = display.frame_html(hand_made())
    assert "&lt;b&gt;SMB&lt;/b&gt;" in page and "<b>SMB" not in page


def test_a_matrix_shows_its_rows_and_counts(sample):
    matrix = display.tag(kit.cross_sell_matrix(sample), "cross_sell_matrix", sample, kinds={"*": "count"})
    cells = kit.formatted(matrix).cells
    assert cells.columns[0] == "held" and cells["held"].tolist() == list(matrix.index)
    assert cells.iloc[:, 1:].to_numpy().tolist() == [[f"{v:,}" for v in row] for row in matrix.to_numpy()]
    assert "columns: added" in kit.formatted(matrix).html
    assert '<th class="" title="held">held</th>' in kit.formatted(matrix).html  # the rows' names are text


def test_the_report_and_the_notebook_share_the_formatter():
    frame = pd.DataFrame({"plan": ["<i>"], "mrr_change": [123456], "share": [0.5], "customers": [3]})
    report = nv.table_html(frame, money_columns=["mrr_change"], rate_columns=["share"], count_columns=["customers"],
                           currency="EUR")  # fmt: skip
    assert report == display.table_html(frame, currency="EUR")
    assert re.findall(r"<td[^>]*>([^<]*)</td>", report) == ["&lt;i&gt;", "€1,234.56", "50.0%", "3"]
    assert re.findall(r"<td[^>]*>([^<]*)</td>", display.frame_html(frame, currency="EUR")) == re.findall(
        r"<td[^>]*>([^<]*)</td>", report)  # fmt: skip


def test_terminal_text_of_a_formatted_table():
    assert repr(kit.formatted(hand_made())).splitlines()[1].split() == [
        "2025-Q3", "$1,234.50", "12.5%", "2.50", "1,234", "<b>SMB</b>"]  # fmt: skip


# --- cards ---------------------------------------------------------------------------------------------------


def test_the_ledger_card_on_the_bundled_sample(sample):
    facts = dict(display.ledger_facts(sample))
    assert facts["window"] == "2023-01 to 2025-12 (36 months)"
    assert facts["customers"] == "2,998"
    assert facts["products"] == "4: Analytics, Automation, Core, Support Plus"
    assert facts["currencies"] == "EUR, USD; reported in USD"
    assert facts["rows read / used / excluded"] == "9,698 / 9,698 / 0"
    page = display.ledger_html(sample)
    assert "<tr><th>customers</th><td>2,998</td></tr>" in page and '<table class="kit-table">' not in page  # a card
    assert display.ledger_text(sample) == ("<Ledger subscriptions 2023-01 to 2025-12: 2,998 customers, 4 products, "
                                           "USD; 9,698 rows read, 9,698 used, 0 excluded>")  # fmt: skip


def test_the_quality_card_on_the_bundled_sample(sample):
    page = display.quality_html(sample.quality)
    assert "<tr><th>rows read</th><td>9,698</td></tr>" in page and "<tr><th>rows excluded</th><td>0</td></tr>" in page
    assert "Notes (valid rows worth a look)" in page and ">128</td>" in page  # overlapping subscriptions
    assert display.quality_text(sample.quality) == (
        "<DataQuality of sample_subscriptions.csv: 9,698 rows read = 9,698 used + 0 excluded; 0 problems, 4 notes>"
    )


def test_the_quality_card_counts_exclusions():
    frame = pd.DataFrame({"customer_id": ["a", "b", "c"], "product": "P", "month": ["2024-01", "2024-01", "x"],
                          "mrr": ["10", "oops", "5"]})  # fmt: skip
    ledger = kit.load_ledger(frame, kind="snapshots", on_invalid="quarantine", today="2026-11-24")
    page = display.quality_html(ledger.quality)
    assert "<tr><th>rows read</th><td>3</td></tr>" in page and "<tr><th>rows excluded</th><td>2</td></tr>" in page
    assert "Excluded rows by reason" in page


def test_the_movements_card_sums_each_movement(sample, quarterly):
    moves = display.tag(quarterly.copy(), "movements", sample, period="quarter", netting="customer")
    page = display.movements_html(moves)
    summary = kit.summary(quarterly)
    for column in ("new", "upsell", "cross_sell", "churn"):
        assert f">{nv.money(summary[column].sum(), 'USD')}</td>" in page
    assert f"<tr><th>rows</th><td>{len(moves):,} (customer · period)</td></tr>" in page
    assert f"<tr><th>periods</th><td>2023-Q1 to 2025-Q4 ({summary.shape[0]} quarters)</td></tr>" in page
    assert f"<tr><th>customers</th><td>{moves['customer_id'].nunique():,}</td></tr>" in page
    assert "<tr><th>netting</th><td>customer</td></tr>" in page
    assert page.count("<tr><td") < 20  # the sums, the classes and five rows: not a dump


def test_a_part_of_the_movements_without_their_columns_is_a_table(sample, quarterly):
    part = display.tag(quarterly.copy(), "movements", sample)[["customer_id", "expansion"]]
    assert display.html_for(part).startswith('<div class="kit-frame">')
    assert "Movements" not in display.html_for(part)


# --- the IPython formatter -----------------------------------------------------------------------------------


def shell():
    from IPython.core.formatters import DisplayFormatter

    return SimpleNamespace(display_formatter=DisplayFormatter())


def test_register_formats_the_kits_frames_and_leaves_other_frames_alone():
    ip = shell()
    assert display.register(ip)
    data, _ = ip.display_formatter.format(hand_made())
    assert "$1,234.50" in data["text/html"] and "12.5%" in data["text/html"]
    plain = pd.DataFrame({"mrr_start": [123450]})
    data, _ = ip.display_formatter.format(plain)
    assert data["text/html"] == plain._repr_html_()  # a user's own frame displays as pandas shows it


def test_register_keeps_the_formatter_it_found_and_does_not_stack():
    ip = shell()
    html = ip.display_formatter.formatters["text/html"]
    html.for_type(pd.DataFrame, lambda frame: "<p>theirs</p>")
    assert display.register(ip) and display.register(ip)
    assert ip.display_formatter.format(pd.DataFrame({"a": [1]}))[0]["text/html"] == "<p>theirs</p>"
    assert "kit-frame" in ip.display_formatter.format(hand_made())[0]["text/html"]
    assert html.for_type(pd.DataFrame).kit_previous("x") == "<p>theirs</p>"


def test_register_outside_ipython_does_nothing():
    assert display.register(SimpleNamespace()) is False


def test_a_failing_format_falls_back_to_pandas():
    frame = pd.DataFrame({"a": [1]})
    frame.attrs["kit"] = {"table": "summary", "kinds": "not a mapping"}
    assert display.html_for(frame) == frame._repr_html_()


# --- in a real kernel ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_in_a_kernel_import_kit_makes_its_tables_display_formatted():
    import nbformat
    from nbclient import NotebookClient

    root = Path(__file__).resolve().parent.parent
    cells = [
        "import kit, pandas as pd\nfrom kit import config\nprint(kit.__file__)",
        "ledger = kit.load_ledger(config.SAMPLE_SUBSCRIPTIONS, fx=config.SAMPLE_FX)\n"
        "kit.summarize(ledger, period='year')",  # no extra code: the kit's table displays formatted
        "pd.DataFrame({'mrr_start': [123450]})",
        "ledger",
        "kit.movements(ledger, period='year')",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(root)}}).execute()
    first, tagged, plain, card, moves = (cell.outputs for cell in notebook.cells)
    assert first[0]["text"].strip() == str(root / "kit" / "__init__.py")
    html = tagged[0]["data"]["text/html"]
    assert html.startswith('<div class="kit-frame">') and "customer expansion rate" in html
    assert re.search(r">\$[\d,]+\.\d\d</td>", html) and re.search(r">\d+\.\d%</td>", html)
    assert "kit-frame" not in plain[0]["data"]["text/html"] and "123450" in plain[0]["data"]["text/html"]
    assert "<tr><th>customers</th><td>2,998</td></tr>" in card[0]["data"]["text/html"]
    assert card[0]["data"]["text/plain"].startswith("<Ledger subscriptions 2023-01 to 2025-12: 2,998 customers")
    assert "<h4>Movements</h4>" in moves[0]["data"]["text/html"]


def test_movements_are_tagged_and_display_as_a_card(sample, quarterly):
    assert quarterly.attrs["kit"] == {"table": "movements", "currency": "USD", "period": "quarter",
                                      "netting": "customer", "reactivation_window": None}  # fmt: skip
    assert display.html_for(quarterly).count("<h4>Movements</h4>") == 1
    assert "<tr><th>reactivation window</th><td>none</td></tr>" in display.html_for(quarterly)


def test_every_table_the_kit_returns_is_tagged_with_its_currency(sample, quarterly):
    tables = {
        "summary": kit.summarize(sample, period="quarter"),
        "summary ": kit.summary(quarterly),
        "summary  ": kit.combine([kit.summary(quarterly)]),
        "cohorts": kit.cohorts(sample, quarterly),
        "cross_sell_matrix": kit.cross_sell_matrix(sample, period="quarter"),
        "upgrade_paths": kit.upgrade_paths(quarterly, sample),
        "top_expanders": kit.top_expanders(quarterly),
        "concentration": kit.concentration(quarterly),
        "trailing_nrr": kit.trailing_nrr(sample),
    }
    for name, table in tables.items():
        assert type(table) is pd.DataFrame
        assert (display.meta(table)["table"], display.meta(table)["currency"]) == (name.strip(), "USD")
        assert display.html_for(table).startswith('<div class="kit-frame">')
    assert tables["summary"].attrs["kit"] == {"table": "summary", "currency": "USD", "period": "quarter",
                                              "netting": "customer"}  # fmt: skip
    top = kit.formatted(tables["top_expanders"]).cells
    first = tables["top_expanders"].iloc[0]
    assert top.loc[0, "expansion"] == nv.money(first["expansion"], "USD") and top.loc[0, "share"] == nv.pct(
        first["share"])  # fmt: skip
    matrix = kit.formatted(tables["cross_sell_matrix"]).cells
    assert matrix.loc[2, "Analytics"] == f"{tables['cross_sell_matrix'].loc['Core', 'Analytics']:,}"


def test_a_users_own_frame_is_not_tagged(sample):
    mine = pd.DataFrame({"mrr_start": [1]})
    kit.summary(kit.movements(sample, period="year"))
    assert mine.attrs == {}


def test_a_ledger_and_its_quality_display_as_cards_and_print_as_one_line(sample):
    assert repr(sample) == display.ledger_text(sample) and "\n" not in repr(sample)
    assert sample._repr_html_() == display.ledger_html(sample)
    assert repr(sample.quality) == display.quality_text(sample.quality)
    assert sample.quality._repr_html_() == display.quality_html(sample.quality)
    assert "<h4>Data quality</h4>" in sample.quality._repr_html_()
