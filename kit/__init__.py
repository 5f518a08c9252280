"""
Expansion kit: how much more existing customers pay, who pays more, and why.

The flow: source → :func:`load_ledger` → :func:`movements` → :func:`summarize` and the
tables around it → notebook → HTML report (and xlsx). The exact definitions are in the
repository's ``docs/definitions.md``; ``help(kit.movements)`` shows the movement table.

Load: :func:`load_ledger`, :func:`load_fx`, :func:`filter_customers`.
Measure: :func:`movements`, :func:`summarize` (from a ledger), :func:`summary` (from
movements), :func:`combine`, :func:`split_customers`, :func:`plan_periods`.
Why: :func:`causes` (the cause bridge: seats, price, plan, cross-sell), :func:`product_bridge`.
Look behind a number: :func:`drill_down`, :func:`customer_history`, :func:`top_expanders`.
Tables: :func:`cohorts`, :func:`by_age`, :func:`cross_sell_matrix`, :func:`upgrade_paths`,
:func:`concentration`, :func:`trailing_nrr`.
Show and export: :func:`formatted`, :func:`to_excel`, :func:`analyse` (every table of a
report); in JupyterLab the returned frames display formatted by themselves.
Explore: :func:`explorer` (pickers for grain, segment, netting and range), :func:`table`
(a sortable, searchable table); both static where no widget frontend runs (:mod:`kit.interactive`).

Every table is a plain DataFrame with money in integer cents; a rate whose denominator
is zero is NaN. Errors are :class:`KitError` subclasses whose message says what to fix.
"""

import warnings as _warnings

from kit.bridges import causes, product_bridge
from kit.display import formatted
from kit.display import register as _register_display
from kit.errors import KitError, LoadError, OutputError, ParameterError, ReportError, ReportInputError, ValidationError
from kit.explore import CustomerHistory, customer_history, drill_down
from kit.interactive import explorer, table
from kit.ledger import DataQuality, Ledger, filter_customers, load_fx, load_ledger
from kit.metrics import SUMMARY_COLUMNS, combine, summarize, summary
from kit.movements import movements, plan_periods, split_customers
from kit.tables import by_age, cohorts, concentration, cross_sell_matrix, top_expanders, trailing_nrr, upgrade_paths
from kit.workbook import to_excel

# pandera (imported on first use) imports pyspark.pandas where PySpark is installed (kit.spark), which then warns,
# at each import, that it does not support pandas 3; the Spark path uses only applyInPandas, tested under pandas 3.
_warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
_register_display()  # inside IPython (JupyterLab): the kit's tables display formatted; nothing elsewhere


def __getattr__(name: str):
    """Import the report (papermill), its analysis (matplotlib) and the contracts (pandera) only when first used."""
    if name in ("contracts", "report"):  # the frame models (pandera); the report run (papermill)
        import importlib

        return importlib.import_module(f"kit.{name}")
    if name in ("Analysis", "analyse", "analysis"):
        import importlib

        analysis = importlib.import_module("kit.analysis")
        return analysis if name == "analysis" else getattr(analysis, name)
    if name == "analyse_source":  # the report's data, whole or in chunks of customers (memory_limit)
        import importlib

        return importlib.import_module("kit.analysis_chunks").analyse_source
    raise AttributeError(f"module 'kit' has no attribute {name!r}")


__all__ = [
    "Analysis",
    "analyse",
    "analyse_source",
    "SUMMARY_COLUMNS",
    "DataQuality",
    "KitError",
    "Ledger",
    "LoadError",
    "ParameterError",
    "ReportError",
    "OutputError",
    "ReportInputError",
    "ValidationError",
    "by_age",
    "causes",
    "cohorts",
    "combine",
    "CustomerHistory",
    "customer_history",
    "contracts",
    "concentration",
    "cross_sell_matrix",
    "drill_down",
    "explorer",
    "filter_customers",
    "formatted",
    "load_fx",
    "load_ledger",
    "movements",
    "plan_periods",
    "product_bridge",
    "split_customers",
    "summarize",
    "summary",
    "table",
    "to_excel",
    "top_expanders",
    "trailing_nrr",
    "upgrade_paths",
]
