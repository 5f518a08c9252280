"""
Issue 8, CSV: the pyarrow reader keeps every rule of the reader before it, and the CSV
classes of RELIABILITY.md rows 47 and 58 (unclosed quotes, UTF-16, CR-only line ends, a
thousand columns, memory bounded) each through the API and the CLI.

The small file: customers A and B, Core, January and February 2024 (A 100 → 120, B 50 → 50):
February's expansion is 20.00, MRR end 170.00.
"""

from __future__ import annotations

import csv
import io
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TODAY, write
from hypothesis import given, settings
from hypothesis import strategies as st
from test_reliability import assert_cli_error, run_cli

import kit
from kit import parse
from kit.errors import LoadError
from kit.sources import looks_like_row, read_csv

ROWS = [["A", "2024-01", "Core", "100.00"], ["A", "2024-02", "Core", "120.00"],
        ["B", "2024-01", "Core", "50.00"], ["B", "2024-02", "Core", "50.00"]]  # fmt: skip
HEADER = ["customer_id", "month", "product", "mrr"]


def text(rows=ROWS, header=HEADER, end="\n") -> str:
    return end.join(",".join(r) for r in [header, *rows]) + end


def cents(ledger) -> dict:
    frame = ledger.frame
    return {
        (c, str(m)[:7]): int(v)
        for c, m, v in zip(frame["customer_id"], frame["month"], frame["mrr_cents"], strict=True)
    }


EXPECTED = {("A", "2024-01"): 10000, ("A", "2024-02"): 12000, ("B", "2024-01"): 5000, ("B", "2024-02"): 5000}


# --- 47: an unclosed quote ---------------------------------------------------------------------


def test_unclosed_quote_in_the_last_column_is_an_error_naming_its_row(tmp_path, capsys):
    path = write(
        tmp_path, "q.csv", text(ROWS[:1]) + 'A,2024-02,Core,"120.00\nB,2024-01,Core,50.00\nB,2024-02,Core,50.00\n'
    )
    with pytest.raises(LoadError, match=r"q\.csv: row 3, column mrr: a quote opens and is never closed"):
        kit.load_ledger(path, today=TODAY)
    assert_cli_error(*run_cli(capsys, "summary", path), r"row 3, column mrr: a quote opens and is never closed")


def test_unclosed_quote_in_a_middle_column_is_an_error_naming_its_row(tmp_path, capsys):
    path = write(tmp_path, "q.csv", text(ROWS[:1]) + 'A,2024-02,"Core,120.00\nB,2024-01,Core,50.00\n')
    with pytest.raises(LoadError, match=r"q\.csv: row 3: a quote opens in this row and is not closed"):
        kit.load_ledger(path, today=TODAY)
    assert_cli_error(*run_cli(capsys, "summary", path), r"row 3: a quote opens in this row")


def test_a_quote_closed_only_by_a_later_row_is_an_error_naming_its_row(tmp_path, capsys):
    # the note of row 2 opens a quote that row 4's note closes: rows 3 and 4 would vanish into it
    body = 'A,2024-01,Core,100.00,"hello\nB,2024-01,Core,200.00,x\nC,2024-01,Core,300.00,"\nA,2024-02,Core,100.00,ok\n'
    path = write(tmp_path, "swallow.csv", ",".join([*HEADER, "note"]) + "\n" + body)
    for on_invalid in ("raise", "quarantine"):  # structural: an error, lenient or not
        with pytest.raises(LoadError, match=r"swallow\.csv: row 2, column note: a quoted field holds 2 lines that "
                                            r"look like rows of 5 fields"):  # fmt: skip
            kit.load_ledger(path, today=TODAY, on_invalid=on_invalid)
    assert_cli_error(*run_cli(capsys, "summary", path), r"row 2, column note: a quoted field holds 2 lines")
    assert_cli_error(*run_cli(capsys, "summary", path, "--lenient"), r"row 2, column note")


def test_a_multi_line_address_with_commas_is_not_taken_for_rows(tmp_path):
    body = 'A,2024-01,Core,100.00,"Main St, Suite 5\nSpringfield, IL 62701"\nA,2024-02,Core,120.00,x\n'
    path = write(tmp_path, "addr2.csv", ",".join([*HEADER, "note"]) + "\n" + body)
    ledger = kit.load_ledger(path, today=TODAY)
    assert ledger.quality.rows_read == 2
    assert cents(ledger) == {("A", "2024-01"): 10000, ("A", "2024-02"): 12000}
    assert ledger.frame["note"].astype(str).iloc[0] == "Main St, Suite 5\nSpringfield, IL 62701"


def test_quoted_line_breaks_in_an_attribute_are_legal_and_rows_are_counted_as_records(tmp_path, capsys):
    rows = [[*r, f'"{i} Main St\nSpringfield"'] for i, r in enumerate(ROWS)]
    rows[3][3] = "abc"  # record 5 of the file (header 1), on line 8
    path = write(tmp_path, "addr.csv", text(rows, [*HEADER, "address"], end="\r\n"))
    ledger = kit.load_ledger(path, today=TODAY, on_invalid="quarantine")
    assert ledger.quality.rows_read == 4 and ledger.quality.rows_used == 3
    assert sorted(set(ledger.frame["address"])) == [f"{i} Main St\nSpringfield" for i in range(3)]
    with pytest.raises(kit.errors.ValidationError, match=r"row 5, column mrr"):
        kit.load_ledger(path, today=TODAY)
    code, out, err = run_cli(capsys, "summary", path)
    assert_cli_error(code, out, err, r"row 5")


def test_a_nul_inside_a_field_is_passed_through_not_called_binary(tmp_path):
    raw = read_csv(write(tmp_path, "nul.csv", text([["A\x00B", "2024-01", "Core", "1"]])))
    assert raw.frame["customer_id"].tolist() == ["A\x00B"]


# --- 58: UTF-16, CR-only and CRLF line ends --------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_reads_like_utf8_given_its_encoding(tmp_path, capsys, encoding):
    path = tmp_path / "u16.csv"
    path.write_bytes(text(end="\r\n").encode(encoding))
    assert cents(kit.load_ledger(path, today=TODAY, encoding=encoding)) == EXPECTED
    code, out, err = run_cli(capsys, "summary", path, "--encoding", encoding)
    assert code == 0, err
    assert "2024-02,150.00,0.00,0.00,20.00,0.00,20.00,0.00,0.00,170.00" in out


def test_utf16_without_its_encoding_is_one_clear_error(tmp_path, capsys):
    path = tmp_path / "u16.csv"
    path.write_bytes(text().encode("utf-16"))
    with pytest.raises(LoadError, match=r"u16\.csv: .*UTF-16.*--encoding utf-16"):
        kit.load_ledger(path, today=TODAY)
    assert_cli_error(*run_cli(capsys, "summary", path), r"--encoding utf-16")
    path.write_bytes(text().encode("utf-16-le"))  # no byte-order mark, named as utf-16: one error
    with pytest.raises(LoadError, match=r"u16\.csv: not valid utf-16 text .*utf-16-le"):
        kit.load_ledger(path, today=TODAY, encoding="utf-16")


@pytest.mark.parametrize("end", ["\r", "\r\n", "\n"], ids=["CR", "CRLF", "LF"])
def test_line_ends_cr_crlf_lf_read_alike(tmp_path, capsys, end):
    path = write(tmp_path, "e.csv", text(end=end))
    assert cents(kit.load_ledger(path, today=TODAY)) == EXPECTED
    code, out, err = run_cli(capsys, "summary", path)
    assert code == 0 and "2024-02,150.00" in out, err


def test_a_wrong_byte_names_the_byte_its_line_and_the_option(tmp_path, capsys):
    path = write(tmp_path, "bad.csv", text().encode() + b"C,2024-02,Caf\xe9,1.00\n")
    with pytest.raises(LoadError, match=r"byte 0xe9 on line 6\).*--encoding latin-1"):
        kit.load_ledger(path, today=TODAY)
    assert_cli_error(*run_cli(capsys, "summary", path), r"byte 0xe9 on line 6")
    assert kit.load_ledger(path, today=TODAY, encoding="latin-1").frame["product"].isin(["Café"]).sum() == 1


# --- a thousand columns ------------------------------------------------------------------------


def test_a_thousand_columns_load_without_warnings(tmp_path, capsys):
    header = [*HEADER, *(f"attr{i}" for i in range(996))]
    path = write(tmp_path, "wide.csv", text([[*r, *(["x"] * 996)] for r in ROWS], header))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ledger = kit.load_ledger(path, today=TODAY)
        assert cents(ledger) == EXPECTED and len(ledger.attributes) == 996
        # a typed source of a thousand object columns too (the warnings came from the ledger's attributes)
        frame = pd.DataFrame([[*r, *(["x"] * 996)] for r in ROWS], columns=header, dtype=object)
        assert cents(kit.load_ledger(frame, today=TODAY)) == EXPECTED
    code, out, err = run_cli(capsys, "summary", path)
    assert code == 0 and "Warning" not in err and len(err.splitlines()) < 5, err


# --- the rules kept ----------------------------------------------------------------------------


def test_blank_rows_title_rows_and_spaces_keep_the_row_numbers(tmp_path):
    body = "Export of 2024\n\n" + text() + "\n   \n,,,\nC,2024-02,Core,x\n"
    raw = read_csv(write(tmp_path, "t.csv", body), header_row=2)
    assert raw.frame["customer_id"].tolist() == ["A", "A", "B", "B", "C"]
    assert list(np.asarray(raw.row_numbers[np.arange(5)])) == [4, 5, 6, 7, 11]
    with pytest.raises(kit.errors.ValidationError, match=r"row 11, column mrr"):
        kit.load_ledger(tmp_path / "t.csv", header_row=2, today=TODAY)


def test_text_stays_as_written_and_the_delimiter_is_detected(tmp_path):
    raw = read_csv(write(tmp_path, "s.csv", "customer_id;month;product;mrr\n00123;2024-01;NA;1,50\n"))
    assert raw.frame.iloc[0].tolist() == ["00123", "2024-01", "NA", "1,50"]
    assert raw.details["delimiter"] == "semicolon"


def test_wrong_width_rows_are_named_with_the_delimiter(tmp_path, capsys):
    path = write(tmp_path, "w.csv", text() + "C,2024-02\nD,2024-02,Core,1,2\n")
    with pytest.raises(
        LoadError, match=r"2 rows do not \(row 6 has 2, row 7 has 5\); check the delimiter \(read as comma\)"
    ):
        kit.load_ledger(path, today=TODAY)
    assert_cli_error(*run_cli(capsys, "summary", path), r"row 6 has 2")


def test_memory_bounded_the_text_is_never_held_in_python(tmp_path):
    rows = [[f"C{i % 5000:05d}", f"2024-{i % 12 + 1:02d}", "Core", f"{i % 97}.50"] for i in range(400_000)]
    path = write(tmp_path, "big.csv", text(rows))
    assert path.stat().st_size > 8_000_000
    tracemalloc.start()
    raw = read_csv(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(raw.frame) == 400_000
    # the frame's codes only (numpy allocations are traced; Arrow's are not, and are released);
    # the reader before held the bytes, the text, its lines and lists of lists: many times the file
    assert peak < path.stat().st_size, peak


# --- the reader against Python's csv module (the reader before), on any table ----------------

FIELD = st.text(alphabet=st.sampled_from(list('ab ,;"\n0') + ["é"]), max_size=6)


def _reference(data: str, delimiter: str) -> tuple[list, list]:
    """Python's csv module: the records after the header, blank ones skipped, numbered from 2."""
    records = list(csv.reader(io.StringIO(data, newline=""), delimiter=delimiter))
    kept = [(n, r) for n, r in enumerate(records[1:], start=2) if any(c.strip() for c in r)]
    return [r for _, r in kept], [n for n, _ in kept]


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.lists(FIELD, min_size=3, max_size=3), min_size=1, max_size=8),
       blanks=st.lists(st.integers(0, 8), max_size=3), end=st.sampled_from(["\n", "\r\n"]))  # fmt: skip
def test_the_reader_equals_pythons_csv_module(tmp_path_factory, rows, blanks, end):
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator=end)
    writer.writerow(["x", "y", "z"])
    for i, row in enumerate(rows):
        if i in blanks:
            out.write(end)
        writer.writerow(row)
    data = out.getvalue()
    expected, numbers = _reference(data, ",")

    # a field holding a line shaped like a whole row is refused on purpose (see the swallowed-rows tests)
    # (at least two of its non-blank fields occur in their own column of the file)
    def values_of(i):
        return {r[i].strip() for r in expected}

    swallowed = any(looks_like_row(line, ",", 3, values_of) for row in expected for f in row
                    for line in f.splitlines()[1:])  # fmt: skip
    path = tmp_path_factory.mktemp("csv") / "h.csv"
    path.write_bytes(data.encode())
    if not expected or swallowed:
        with pytest.raises(LoadError, match="no rows" if not expected else r"lines? that looks? like (a row|rows)"):
            read_csv(path, sep=",")
        return
    raw = read_csv(path, sep=",")
    assert raw.frame.astype(object).values.tolist() == expected
    assert list(np.asarray(raw.row_numbers[np.arange(len(expected))])) == numbers


# --- parse: the fast path of text money equals the plain one --------------------------------


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(["1.00", "2.675", "-0.005", "abc", "", " 12 ", "1,200", "NA", "1e3", "9" * 16,
                                 "12.5", "-3.25", "007.10", "999999999999.99", "1000000000000", "1000000000000.01",
                                 "12.", ".5", "+5", "\u0661\u0662", "-0", "0.0", "1.2.3", "\t7.05\n"]),
                min_size=1, max_size=30), st.booleans())  # fmt: skip
def test_money_problems_of_text_equal_parse_money(values, categorical):
    series = pd.Series(values, dtype="category" if categorical else object)
    cents, reasons = parse.parse_money(pd.Series(values, dtype=object))
    fast_cents, positions, fast_reasons = parse.parse_money_problems(series)
    assert fast_cents.tolist() == cents.tolist()
    assert positions.tolist() == np.flatnonzero(pd.notna(reasons)).tolist()
    assert fast_reasons.tolist() == reasons[positions].tolist()


# --- the benchmark's DuckDB SQL over the CSV and the kit agree ---------------------------------


def test_bench_csv_duckdb_and_kit_give_the_same_summary(tmp_path):
    import json
    import subprocess
    import sys

    pytest.importorskip("duckdb")
    root = Path(__file__).resolve().parent.parent
    figures = tmp_path / "figures.json"
    result = subprocess.run([sys.executable, str(root / "bench" / "bench_csv.py"), "--customers", "2000",
                             "--repeat", "1", "--data-dir", str(tmp_path), "--json", str(figures)],
                            capture_output=True, text=True, timeout=120, cwd=root)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = json.loads(figures.read_text())
    assert out["equal"] is True and out["rows"] > 20_000


# --- swallowed rows repeat the file's values; an address or attendee list does not (review of issue 8)

ADDRESS_HEADER = "customer_id,month,product,mrr,address\n"


@pytest.mark.parametrize("field", [
    "Beta GmbH\nHauptstr. 5, Hinterhaus, 3. OG, 10115 Berlin, Germany",
    "Attendees:\nAnna Meyer, Bob Stone, Carla Diaz, Dan Roe, Eve Poe",
    "c/o Acme\nUnit 4, 2024-01, Core, 100.00",  # one field (Core) occurs in its column: not two in their own
], ids=["berlin-address", "attendee-list", "one-match"])  # fmt: skip
def test_a_multi_line_field_of_the_right_width_is_legal_unless_it_repeats_the_files_values(tmp_path, capsys, field):
    body = f'A,2024-01,Core,100.00,"{field}"\nA,2024-02,Core,120.00,same\n'
    path = write(tmp_path, "m11.csv", ADDRESS_HEADER + body)
    ledger = kit.load_ledger(path, today=TODAY)
    assert cents(ledger) == {("A", "2024-01"): 10000, ("A", "2024-02"): 12000}
    assert ledger.quality.rows_read == 2 and ledger.quality.rows_excluded == 0
    code, out, err = run_cli(capsys, "summary", path)
    assert code == 0 and "\n2024-02,100.00,0.00,0.00,20.00," in out


def test_a_swallowed_row_matching_two_columns_of_the_file_is_still_refused(tmp_path, capsys):
    # the line "B,2024-02,Other,5.00,x": B (customer_id) and 2024-02 (month) occur in their columns
    body = 'A,2024-01,Core,100.00,"hi\nB,2024-02,Other,5.00,x"\nB,2024-02,Core,50.00,y\nA,2024-02,Core,1.00,z\n'
    path = write(tmp_path, "sw.csv", ADDRESS_HEADER + body)
    message = r"sw\.csv: row 2, column address: a quoted field holds 1 line that looks like a row of 5 fields"
    with pytest.raises(LoadError, match=message):
        kit.load_ledger(path, today=TODAY)
    assert_cli_error(*run_cli(capsys, "summary", path), message)
