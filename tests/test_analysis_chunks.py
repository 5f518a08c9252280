"""The report in chunks of customers (kit.analysis_chunks, memory_limit): every section equals the whole's."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from conftest import TODAY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kit
from kit.analysis import analyse
from kit.analysis_chunks import analyse_source, analysis_of_parts, chunk_parts
from kit.errors import ParameterError
from kit.report import load_options, section, validate_parameters
from kit.workbook import _tables_of

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]

SECTIONS = ("header", "executive", "methodology", "bridge", "rates", "causes", "retention", "segments",
            "cohorts_intro", "cross_sell", "upgrades", "top_customers", "concentration", "limitations",
            "quality")  # fmt: skip
TABLES = ("summary", "shown", "segments", "cohorts", "cross_sell", "cross_sell_pairs", "upgrades", "concentration",
          "trailing", "fx_reference", "causes")  # fmt: skip


def whole(params: dict):
    return analyse(kit.load_ledger(**load_options(params), fx_reference=True), params)


def without_chunk_count(html: str) -> str:
    """The data-quality table of a chunked read says how many chunks; the rest must be the same."""
    return re.sub(r"<tr><td>chunks</td><td>\d+</td></tr>", "", html)


def assert_same_analysis(chunked, expected) -> None:
    for name in SECTIONS:
        assert without_chunk_count(section(chunked, name)) == section(expected, name), name
    for name in TABLES:
        a, b = getattr(chunked, name), getattr(expected, name)
        if b is None:
            assert a is None, name
        elif isinstance(b, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b, obj=name)
    texts = [c for c in ("customer_id", expected.name_column) if c]  # a chunk knows its own ids and names
    top = expected.top.astype(dict.fromkeys(texts, str))
    pd.testing.assert_frame_equal(chunked.top.astype(dict.fromkeys(texts, str)), top, obj="top")
    assert chunked.concentration_facts().keys() == expected.concentration_facts().keys()
    for key, value in expected.concentration_facts().items():
        if isinstance(value, pd.Series):
            pd.testing.assert_series_equal(chunked.concentration_facts()[key], value)
        else:
            assert chunked.concentration_facts()[key] == value or (value != value and key == "share"), key
    drill = expected.cause_drill() if expected.has_causes else pd.DataFrame()
    if len(drill):
        drill = drill.assign(customer_id=drill["customer_id"].astype(str))
        pd.testing.assert_frame_equal(chunked.cause_drill().assign(
            customer_id=chunked.cause_drill()["customer_id"].astype(str)), drill, check_dtype=False)  # fmt: skip
    else:
        assert not chunked.has_causes or chunked.cause_drill().empty
    assert chunked.headline() == expected.headline()
    assert chunked.currencies == expected.currencies and chunked.segment == expected.segment


@pytest.mark.parametrize("n", [2, 5], ids=lambda n: f"{n}-chunks")
@pytest.mark.parametrize(
    "extra",
    [{}, {"period": "quarter", "netting": "product"}, {"period": "year"},
     {"filters": {"region": ["EMEA"]}, "start": "2025-01", "end": "2025-09"},
     {"segment": "region", "anonymise": True, "fx_mode": "monthly"}],
    ids=["month", "quarter-product", "year", "filtered-range", "segment-anonymised-monthly-fx"],
)  # fmt: skip
def test_the_sample_report_in_chunks_equals_it_whole(n, extra):
    params = validate_parameters(extra)
    chunked = analyse_source(params, chunks=n)
    assert chunked.movements is None and chunked.ledger.quality.details["chunks"] == n
    assert_same_analysis(chunked, whole(params))


def test_the_report_reads_whole_without_a_memory_limit_and_in_chunks_with_one():
    params = validate_parameters({})
    assert analyse_source(params).movements is not None  # the plain path: the ledger and its movements
    chunked = analyse_source(validate_parameters({"memory_limit": "4GiB"}))
    assert chunked.movements is None  # read through the chunks (one, for the sample)
    assert_same_analysis(chunked, whole(params))


def test_the_workbook_of_a_chunked_report_has_every_sheet_but_the_movements():
    params = validate_parameters({})
    chunked, expected = _tables_of(analyse_source(params, chunks=3)), _tables_of(whole(params))
    assert list(chunked) == [name for name in expected if name != "movements"]
    for name in chunked:
        if name != "top expanders":
            pd.testing.assert_frame_equal(chunked[name], expected[name], obj=name)


def test_a_filter_kept_by_some_chunks_only_and_one_kept_by_none():
    # one customer by name: the other chunks keep nobody
    ledger = kit.load_ledger(**load_options(validate_parameters({})))
    first = str(ledger.frame["customer_name"].iloc[0])
    params = validate_parameters({"filters": {"customer_name": [first]}})
    chunked = analyse_source(params, chunks=4)
    assert_same_analysis(chunked, whole(params))
    with pytest.raises(ParameterError, match="matches no customer"):
        analyse_source(validate_parameters({"filters": {"region": ["Atlantis"]}}), chunks=3)


def test_a_bad_memory_limit_is_refused_before_any_work():
    with pytest.raises(ParameterError, match="memory_limit must be a size such as 2GiB"):
        validate_parameters({"memory_limit": "lots"})
    with pytest.raises(ParameterError, match="memory_limit 1MB leaves less than 64 MiB per process"):
        validate_parameters({"memory_limit": "1MB"})


CUSTOMERS = [f"c{i}" for i in range(9)]
row = st.tuples(st.sampled_from(CUSTOMERS), st.sampled_from(["P", "Q", "R"]),
                st.sampled_from(["2024-01", "2024-02", "2024-03", "2024-05", "2024-06", "2024-09", "2024-12"]),
                st.sampled_from(["5", "10", "10", "30", "99.99"]), st.sampled_from([1, 2, 5]),
                st.sampled_from(["Basic", "Pro"]))  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(row, min_size=2, max_size=45), st.integers(2, 4), st.sampled_from(["month", "quarter"]),
       st.sampled_from(["customer", "product"]))  # fmt: skip
def test_property_a_report_in_chunks_equals_it_whole(rows, n, period, netting):
    frame = pd.DataFrame(rows, columns=["customer_id", "product", "month", "mrr", "quantity", "plan"])
    frame["customer_name"] = "Name of " + frame["customer_id"]
    ledger = kit.load_ledger(frame, kind="snapshots", today=TODAY)
    params = validate_parameters({"period": period, "netting": netting, "data": "random.csv"})
    parts = [chunk_parts(part, params) for part in kit.split_customers(ledger, n)]
    assert_same_analysis(analysis_of_parts(parts, params, ledger.quality), analyse(ledger, params))


def test_the_combined_concentration_facts_take_every_chunk_s_expanders():
    ledger = kit.load_ledger(**load_options(validate_parameters({})))
    params = validate_parameters({})
    parts = [chunk_parts(part, params) for part in kit.split_customers(ledger, 3)]
    combined = analysis_of_parts(parts, params, ledger.quality)
    assert len(combined.shown_expansion) == sum(len(p["shown_expansion"]) for p in parts) > 100
    assert np.sort(combined.shown_expansion)[::-1][0] == max(p["shown_expansion"].max() for p in parts)


@pytest.mark.parametrize("n", [3, 4])
def test_chunks_of_one_currency_keep_their_customers_in_the_other_fx_mode(tmp_path, n):
    # a tester's case: 8 sample customers, some chunks only in USD; each chunk needs its figures in the other
    # FX mode, else the comparison with it (executive summary, limitations) would miss their customers
    rows = pd.read_csv(ROOT / "data" / "sample_subscriptions.csv", dtype=str, keep_default_na=False)
    ids = ["C01034", "C00535", "C00035", "C02297", "C00156", "C02420", "C00892", "C02336"]
    path = tmp_path / "eight.csv"
    rows[rows["customer_id"].isin(ids)].to_csv(path, index=False)
    params = validate_parameters({"data": str(path), "fx": str(ROOT / "data" / "fx_rates.csv"), "as_of": "2024-06-15"})
    chunked, expected = analyse_source(params, chunks=n), whole(params)
    assert expected.fx_reference is not None and len(chunked.currencies) == 2
    assert_same_analysis(chunked, expected)


def test_excluded_examples_combine_as_rows_or_as_ids():
    from kit.chunks import _combine_counted

    def frame(*rows):
        return pd.DataFrame(rows, columns=["reason", "rows", "examples"])

    one = frame(("trial", 3, "sub_1/si_1, sub_5/si_5, sub_9/si_9"))
    assert _combine_counted([one], "reason", "rows").equals(one)  # one chunk (a billing system's reading): as it is
    ids = _combine_counted([frame(("trial", 4, "a, b, c, d")), frame(("trial", 3, "e, f, g"))], "reason", "rows")
    assert ids.values.tolist() == [["trial", 7, "a, b, c, d, e, …"]]
    rows = _combine_counted([frame(("bad", 6, "row 6, row 9, row 10, row 13, row 22, …")),
                             frame(("bad", 2, "row 7, row 30"))], "reason", "rows")  # fmt: skip
    assert rows.values.tolist() == [["bad", 8, "row 6, row 7, row 9, row 10, row 13, …"]]
    plain = _combine_counted([frame(("bad", 2, "row 8, row 3")), frame(("bad", 1, "row 5"))], "reason", "rows")
    assert plain.values.tolist() == [["bad", 3, "row 3, row 5, row 8"]]


@pytest.mark.parametrize(
    ("content", "said"),
    [(b"", "the file is empty (no rows)"), (b"\x00\x01\x02garbage\x00\x00\x00\x00" * 40, "binary content"),
     (b"a,b\n1,2\n", "no column to cut into customer chunks")],
    ids=["empty", "binary", "no-customer-column"],
)  # fmt: skip
def test_a_broken_file_read_in_chunks_is_named_in_one_sentence(tmp_path, content, said):
    path = tmp_path / "broken.csv"
    path.write_bytes(content)
    with pytest.raises(kit.LoadError, match=f"^broken.csv: .*{re.escape(said)}"):
        analyse_source(validate_parameters({"data": str(path)}), chunks=2)
