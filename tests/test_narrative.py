"""The sentences of the report sections, from plain facts: kit.narrative."""

from __future__ import annotations

from kit import narrative as nv


def test_executive_summary_gives_cards_and_labelled_sentences_as_plain_text():
    import pandas as pd

    summary = pd.DataFrame({
        "period": ["2025-01", "2025-02"], "expansion": [1000, 1500], "upsell": [600, 1000], "cross_sell": [400, 500],
        "customers_expanded": [3, 4], "customers_start": [40, 41], "customer_expansion_rate": [0.075, 4 / 41],
        "expansion_mrr_rate": [0.01, 0.012], "nrr": [1.01, 1.02], "grr": [0.97, 0.98],
    })  # fmt: skip
    out = nv.executive_summary(summary, period="month", currency="EUR")
    assert [label for label, _ in out["items"]] == ["Expansion revenue.", "How widespread.", "How large.", "Retention."]
    assert out["items"][0][1].startswith("In 2025-02, existing customers added €15.00 of monthly recurring revenue")
    assert "+€5.00 (+50.0%) on 2025-01" in out["items"][0][1]
    assert out["cards"][0] == ("Expansion MRR", "€15.00", "×12 = €180 a year")
    assert all("<" not in text for _, text in out["items"])  # text: the template escapes it
    assert nv.executive_summary(summary.iloc[:0], period="month", currency=None) == {"cards": [], "items": []}


def test_the_period_words_come_from_kit_periods():
    from kit.periods import PER_YEAR

    assert nv.PER_YEAR is PER_YEAR
    assert not hasattr(nv, "PERIOD_WORDS")


def test_reported_span_names_the_bounds_beyond_the_data():
    assert nv.reported_span("2024-01", "2024-06", []) == "2024-01 to 2024-06"
    assert nv.reported_span("2023-01", "2025-12", ["start 2020-01", "end 2030-01"]) == (
        "2023-01 to 2025-12 (start 2020-01 and end 2030-01 asked; the data has no period beyond these)"
    )


def test_limitations_join_the_currency_list_where_text_is_written():
    common = {"rows_excluded": 0, "rows_read": 10, "dropped": None, "period": "month", "snapshots": False,
              "small": [], "empty": [], "notes": []}  # fmt: skip
    items = nv.limitations_items(**common, currencies=["EUR", "USD"], fx_mode="monthly",
                                 rate_ranges=((0.05, 0.10), (0.04, 0.09)))  # fmt: skip
    assert items[0].startswith("Several currencies (EUR, USD) are converted at each month's rate")
    assert items[0].endswith("and from 4.0% to 9.0% at constant exchange rates (the dashed line in the rates chart).")
    one = nv.limitations_items(**common, currencies=["USD"], fx_mode="constant", rate_ranges=None)
    assert one == ["No further limitation was found in this data set."]


def test_limitations_count_small_and_empty_periods():
    items = nv.limitations_items(
        rows_excluded=2, rows_read=1234, dropped="2025-Q4", period="quarter", currencies=[], fx_mode="constant",
        rate_ranges=None, snapshots=True, small=["2023-Q1", "2023-Q2", "2023-Q3", "2023-Q4", "2024-Q1"],
        empty=["2022-Q4"], notes=[("a note", 1)],
    )  # fmt: skip
    assert items[0] == ("2 of 1,234 input rows were excluded: invalid, outside the window, or not MRR by the "
                        "billing system's rules (the appendix counts them by reason); their MRR is not in any "
                        "figure.")  # fmt: skip
    assert "The partial quarter 2025-Q4 is not reported." in items
    assert ("5 quarters start with fewer than 30 customers (2023-Q1, 2023-Q2, 2023-Q3, 2023-Q4…); their rates swing "
            "widely.") in items  # fmt: skip
    assert items[-1] == "Data note: a note: 1 row."


def test_cross_sell_and_fx_sentences():
    assert "The most common path: Core → Analytics (3 times)." in nv.cross_sell_sentence([("Core", "Analytics")], 3)
    two = nv.cross_sell_sentence([("Core", "Analytics"), ("Core", "Support")], 2)
    assert "The most common paths: Core → Analytics and Core → Support (2 times each)." in two
    now = {"customers_expanded": 5, "customer_expansion_rate": 0.05, "customers_contracted": 2, "expansion": 12345}
    other = {**now, "customers_expanded": 6, "customer_expansion_rate": 0.06}
    text = nv.fx_effect_sentence("2025-12", "constant", now, other, "USD")
    assert text == ("In 2025-12, at constant exchange rates (as in this report): 5 customers expanded (5.0%), 2 "
                    "contracted, expansion MRR $123.45. At each month's own exchange rate: 6 customers expanded "
                    "(6.0%), 2 contracted, expansion MRR $123.45. The difference is exchange-rate movement, not "
                    "customer behaviour, and this report leaves it out.")  # fmt: skip
