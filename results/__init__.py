"""The result types every face and rendering shares, and how their numbers read in words.

The engine builds these frozen dataclasses; reports render them; the pipeline stores them;
the HTTP API serves their JSON form (:meth:`InvestigationResult.to_dict`, the contract in
ARCHITECTURE.md). They import nothing of the engine, the store or the reports, so each of
those can import them without a cycle.
"""

from results.format import NOTABLE_SHARE, format_delta, format_value, notable
from results.investigation import (
    Cause,
    Counterfactual,
    InvestigationResult,
    ModelInfo,
    Observed,
    Regression,
    Unexplained,
    package_versions,
)
from results.what_if import WhatIf

__all__ = [
    "NOTABLE_SHARE",
    "Cause",
    "Counterfactual",
    "InvestigationResult",
    "ModelInfo",
    "Observed",
    "Regression",
    "Unexplained",
    "WhatIf",
    "format_delta",
    "format_value",
    "notable",
    "package_versions",
]
