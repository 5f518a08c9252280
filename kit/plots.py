"""
One function per chart: ``(table, *, ax=None, ...) -> Axes``.

All charts share :func:`use_style`: readable sizes, currency-formatted axes, and
``text.parse_math`` off so a label such as ``Plan $5 to $10`` is drawn as written.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter, PercentFormatter

from kit.narrative import money

COLORS = {
    "new": "#4C78A8",
    "reactivation": "#72B7B2",
    "upsell": "#54A24B",
    "cross_sell": "#A0D468",
    "contraction": "#F58518",
    "churn": "#E45756",
    "mrr": "#4A4A4A",
}


def use_style() -> None:
    """Apply the kit's chart style (call once per notebook)."""
    sns.set_theme(style="whitegrid", context="notebook")
    plt.rcParams.update({
        "text.parse_math": False,
        "figure.figsize": (10, 4.2),
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "axes.titlesize": 13,
        "axes.titleweight": "bold",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
    })  # fmt: skip


def _ax(ax):
    return ax if ax is not None else plt.subplots()[1]


def money_axis(ax, currency: str | None, axis: str = "y") -> None:
    """Format an axis in whole currency units (values in cents)."""
    formatter = FuncFormatter(lambda v, _: money(int(round(v)), currency, decimals=0))
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(formatter)


def show(fig, alt: str) -> None:
    """
    Display a figure as a PNG carrying alternative text, then close it.

    The report's HTML template writes ``alt`` into the ``<img>`` (escaped), so screen
    readers and a reader whose images are blocked still learn what the chart shows.
    """
    import base64
    import io

    from IPython.display import display

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    display({"image/png": data, "text/plain": alt}, raw=True, metadata={"image/png": {"alt": alt}})


def _compact(cents, currency: str | None = None) -> str:
    """
    Short money label for charts: ``$1.2M``, ``$97.0k``, ``$512``.

    >>> _compact(123_456_789, "USD"), _compact(9_700_361, "USD"), _compact(51_200, None)
    ('$1.23M', '$97.0k', '512')
    """
    from kit.narrative import money

    value = float(cents) / 100
    for size, suffix, digits in ((1e9, "B", 2), (1e6, "M", 2), (1e3, "k", 1)):
        if abs(value) >= size:
            symbol = money(0, currency)[: -len("0.00")] if money(0, currency).endswith("0.00") else ""
            tail = "" if symbol else (f" {currency}" if currency else "")
            return f"{symbol}{value / size:.{digits}f}{suffix}{tail}"
    return money(int(round(cents, -2)), currency, decimals=0)


def _thin_ticks(ax, labels: list[str], most: int = 12) -> None:
    step = max(1, int(np.ceil(len(labels) / most)))
    ax.set_xticks(range(0, len(labels), step))
    ax.set_xticklabels(labels[::step], rotation=45, ha="right")


def bridge_over_time(summary: pd.DataFrame, *, currency: str | None = None, ax=None):
    """Stacked bars of gains (up) and losses (down) per period, with net change as a line."""
    ax = _ax(ax)
    x = np.arange(len(summary))
    bottom = np.zeros(len(summary))
    for name in ("new", "reactivation", "upsell", "cross_sell"):
        values = summary[name].to_numpy(dtype=float)
        ax.bar(x, values, bottom=bottom, color=COLORS[name], label=name.replace("_", "-"), width=0.8)
        bottom += values
    gains = bottom.copy()
    bottom = np.zeros(len(summary))
    for name in ("contraction", "churn"):
        values = -summary[name].to_numpy(dtype=float)
        ax.bar(x, values, bottom=bottom, color=COLORS[name], label=name, width=0.8)
        bottom += values
    net = (summary["mrr_end"] - summary["mrr_start"]).to_numpy(dtype=float)
    ax.plot(x, net, color="black", marker="o", ms=3, lw=1.2, label="net change")
    ax.axhline(0, color="#333", lw=0.8)
    ranked = np.sort(gains)
    if len(ranked) > 2 and ranked[-2] > 0 and ranked[-1] > 3 * ranked[-2]:
        # One period dwarfs the rest (typically the first, when all MRR is new): clip it and say so.
        top = 1.35 * ranked[-2]
        ax.set_ylim(min(bottom.min(), net.min()) * 1.15, top)
        i = int(np.argmax(gains))
        ax.annotate(f"{_compact(gains[i], currency)} (clipped)", (i, top), xytext=(4, -12),
                    textcoords="offset points", fontsize=8, ha="left")  # fmt: skip
    _thin_ticks(ax, summary["period"].astype(str).tolist())
    money_axis(ax, currency)
    ax.set_title("MRR movements per period")
    ax.legend(ncol=4, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.3), frameon=False)
    return ax


def waterfall(row: pd.Series, *, currency: str | None = None, ax=None):
    """Waterfall of one period: start, new, reactivation, upsell, cross-sell, contraction, churn, end."""
    ax = _ax(ax)
    steps = [("start MRR", row["mrr_start"], "mrr")]
    steps += [(n.replace("_", "-"), row[n], n) for n in ("new", "reactivation", "upsell", "cross_sell")]
    steps += [(n, -row[n], n) for n in ("contraction", "churn")]
    level = 0.0
    tops = []
    for i, (_label, value, color) in enumerate(steps):
        if i == 0:
            ax.bar(i, value, color=COLORS[color])
            level = value
            tops.append((value, value, False))
            continue
        ax.bar(i, value, bottom=level, color=COLORS[color])
        level += value
        tops.append((max(level, level - value), value, True))
    ax.bar(len(steps), row["mrr_end"], color=COLORS["mrr"])
    tops.append((row["mrr_end"], row["mrr_end"], False))
    labels = [s[0] for s in steps] + ["end MRR"]
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=9)
    money_axis(ax, currency)
    low = min(row["mrr_start"], row["mrr_end"], *(t[0] - abs(t[1]) for t in tops[1:-1]))
    high = max(t[0] for t in tops)
    bottom = max(0, low - 0.25 * (high - low))
    ax.set_ylim(bottom=bottom, top=high + 0.08 * (high - max(0, low)))
    for i, (y, value, signed) in enumerate(tops):
        text = (("+" if value >= 0 else "−") if signed else "") + _compact(abs(value), currency)
        ax.annotate(text, (i, y), xytext=(0, 3), textcoords="offset points", ha="center", fontsize=8)
    ax.set_title(f"MRR bridge, {row['period']}" + (f"\n(axis starts at {_compact(bottom, currency)}, not zero)"
                                                  if bottom > 0 else ""), fontsize=10)  # fmt: skip
    return ax


def expansion_split(summary: pd.DataFrame, *, currency: str | None = None, ax=None):
    """Stacked bars of upsell and cross-sell MRR per period."""
    ax = _ax(ax)
    x = np.arange(len(summary))
    ax.bar(x, summary["upsell"], color=COLORS["upsell"], label="upsell")
    ax.bar(x, summary["cross_sell"], bottom=summary["upsell"], color=COLORS["cross_sell"], label="cross-sell")
    _thin_ticks(ax, summary["period"].astype(str).tolist())
    money_axis(ax, currency)
    ax.set_title("Expansion MRR: upsell and cross-sell")
    ax.legend(loc="upper left")
    return ax


def causes_over_time(table: pd.DataFrame, *, currency: str | None = None, ax=None):
    """
    Stacked bars per period of the cause bridge on customers active at both ends.

    Cross-sell, seats, price, plan and unattributed are stacked up where positive and down where
    negative; dropped products go down; the net of them all is a line.
    """
    ax = _ax(ax)
    x = np.arange(len(table))
    up, down = np.zeros(len(table)), np.zeros(len(table))
    colors = {"cross_sell": "#2a9d8f", "seats": "#264653", "price": "#e9c46a", "plan": "#8e7dbe",
              "unattributed": "#adb5bd", "dropped": "#e76f51"}  # fmt: skip
    net = np.zeros(len(table))
    for name in ("cross_sell", "seats", "price", "plan", "unattributed", "dropped"):
        values = table[name].to_numpy(dtype=float) * (-1 if name == "dropped" else 1)
        net += values
        bottom = np.where(values >= 0, up, down)
        ax.bar(x, values, bottom=bottom, color=colors[name], label=name.replace("_", "-"), width=0.8)
        up, down = up + np.clip(values, 0, None), down + np.clip(values, None, 0)
    ax.plot(x, net, color="black", marker="o", ms=3, lw=1.2, label="net change")
    ax.axhline(0, color="#333", lw=0.8)
    _thin_ticks(ax, table["period"].astype(str).tolist())
    money_axis(ax, currency)
    ax.set_title("Why MRR changed on customers active at both ends (product by product)")
    ax.legend(ncol=4, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.3), frameon=False)
    return ax


def rates_over_time(summary: pd.DataFrame, *, reference: pd.DataFrame | None = None,
                    reference_label: str = "the same in the reference", ax=None):  # fmt: skip
    """
    Both expansion rates per period: share of customers who expanded, expansion MRR over starting MRR.

    ``reference`` (e.g. the summary in the other FX mode) adds its customer rate as a dashed line.
    """
    ax = _ax(ax)
    labels = summary["period"].astype(str).tolist()
    x = np.arange(len(labels))
    line = ax.plot(x, summary["customer_expansion_rate"], marker="o", ms=3,
                   label="customers who expanded / customers at start")  # fmt: skip
    if reference is not None and len(reference) == len(summary):
        ax.plot(
            x, reference["customer_expansion_rate"], ls="--", lw=1.2, color=line[0].get_color(), label=reference_label
        )
    ax.plot(x, summary["expansion_mrr_rate"], marker="s", ms=3, label="expansion MRR / MRR at start")
    _thin_ticks(ax, labels)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    ax.set_ylim(bottom=0)
    ax.set_title("Expansion rates")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), fontsize=8, frameon=False)
    return ax


def retention_over_time(summary: pd.DataFrame, *, ax=None):
    """NRR and GRR per period."""
    ax = _ax(ax)
    labels = summary["period"].astype(str).tolist()
    x = np.arange(len(labels))
    ax.plot(x, summary["nrr"], marker="o", ms=3, label="NRR (period)")
    ax.plot(x, summary["grr"], marker="o", ms=3, label="GRR (period)")
    ax.axhline(1.0, color="#333", lw=0.8, ls=":")
    _thin_ticks(ax, labels)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_title("Net and gross revenue retention")
    ax.legend(loc="lower left", fontsize=9)
    return ax


def segment_bars(table: pd.DataFrame, column: str, *, currency: str | None = None, title: str | None = None,
                 ax=None):  # fmt: skip
    """Horizontal bars of expansion MRR by segment (``column, expansion, upsell, cross_sell``)."""
    ax = _ax(ax)
    data = table.sort_values("expansion")
    ax.barh(data[column].astype(str), data["upsell"], color=COLORS["upsell"], label="upsell")
    ax.barh(data[column].astype(str), data["cross_sell"], left=data["upsell"], color=COLORS["cross_sell"],
            label="cross-sell")  # fmt: skip
    money_axis(ax, currency, axis="x")
    ax.set_title(title or f"Expansion MRR by {column}")
    ax.legend(loc="lower right")
    return ax


def cohort_heatmap(table: pd.DataFrame, *, value: str = "nrr", unit: str = "period", ax=None):
    """Heatmap of a cohort measure (rows: cohort, columns: periods since signup)."""
    ax = _ax(ax)
    grid = table.pivot(index="cohort", columns="age", values=value)
    values = grid.to_numpy(dtype=float)
    span = float(np.nanmax(values) - np.nanmin(values)) if np.isfinite(values).any() else 1.0
    decimals = 0 if span >= 0.05 else 1 if span >= 0.005 else 2  # colour-bar ticks that differ from each other
    sns.heatmap(grid, ax=ax, cmap="RdYlGn", center=1.0 if value == "nrr" else None, annot=grid.shape[1] <= 14,
                fmt=".0%", cbar_kws={"format": PercentFormatter(1.0, decimals=decimals)}, linewidths=0.3)  # fmt: skip
    ax.set_xlabel(f"{unit}s since signup")
    ax.set_ylabel("signup cohort")
    ax.set_title("NRR by signup cohort" if value == "nrr" else f"{value} by signup cohort")
    return ax


def matrix_heatmap(matrix: pd.DataFrame, *, ax=None):
    """Heatmap of the cross-sell matrix (product held → product added)."""
    ax = _ax(ax)
    sns.heatmap(matrix, ax=ax, cmap="Blues", annot=True, fmt="d", linewidths=0.3, cbar=False)
    ax.set_xlabel("product added")
    ax.set_ylabel("product held")
    ax.set_title("Cross-sell: products added by existing customers")
    return ax
