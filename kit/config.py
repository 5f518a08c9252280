"""Paths of the repository, derived from this file so they hold in any clone."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
NOTEBOOKS_DIR = ROOT / "notebooks"
REPORTS_DIR = ROOT / "reports"

SAMPLE_SUBSCRIPTIONS = DATA_DIR / "sample_subscriptions.csv"
SAMPLE_FX = DATA_DIR / "fx_rates.csv"
REPORT_NOTEBOOK = NOTEBOOKS_DIR / "expansion_report.ipynb"
