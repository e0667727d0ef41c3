"""What the engine is asked, and how: the question (a window or two) and the engine's options.

:class:`Question` names the target and either an anomalous time/window (``at``) or two
windows to compare (``baseline`` -> ``current``). :class:`Options` holds every tunable of an
investigation with its default and its bounds; it is also the ``engine:`` section of
``rca.yaml`` (one home for the defaults), so a bad value is refused the same way whether it
comes from a file, the environment or a command-line flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # loaded when used: the configuration reads Options without numpy or pandas
    import numpy as np
    import pandas as pd


def iso(ts: pd.Timestamp) -> str:
    """A timestamp as ISO 8601 in UTC with a ``Z``."""
    import pandas as pd

    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Window:
    """A closed time range ``[start, end]`` (UTC); ``end`` may be open (``None``: until the last row)."""

    start: pd.Timestamp
    end: pd.Timestamp | None = None

    def label(self, last: pd.Timestamp | None = None) -> list[str]:
        """``[start, end]`` as ISO text; an open end reads as ``last`` (the last row it holds)."""
        end = self.end if self.end is not None else last
        return [iso(self.start), iso(end) if end is not None else ""]

    def mask(self, index: pd.DatetimeIndex) -> np.ndarray:
        import numpy as np

        inside = index >= self.start
        if self.end is not None:
            inside &= index <= self.end
        return np.asarray(inside)

    @property
    def point(self) -> bool:
        return self.end is not None and self.end == self.start


@dataclass(frozen=True)
class Question:
    """What to investigate: a point/short window (``at``) or a change (``baseline`` -> ``current``)."""

    target: str
    at: Window | None = None
    baseline: Window | None = None
    current: Window | None = None

    @property
    def kind(self) -> str:
        return "anomaly" if self.at is not None else "distribution_change"


class Options(BaseModel):
    """How an investigation runs. Every field has a working default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="random seed: same data, same answer")
    bootstrap: int = Field(default=200, ge=0, le=5000, description="resamples for intervals (0: none)")
    num_samples: int = Field(default=600, ge=50, le=100_000, description="Monte Carlo samples per evaluation")
    confidence: float = Field(default=0.9, gt=0.5, lt=1.0, description="coverage of the intervals")
    min_rows: int = Field(default=10, ge=3, description="fewest complete rows a fit may use")
    regression_alpha: float = Field(default=0.01, gt=0, lt=0.5, description="a change's significance level")
    change_alpha: float = Field(default=0.05, gt=0, lt=0.5, description="FDR of the mechanism-change tests")
    counterfactuals: int = Field(default=3, ge=0, le=20, description="top causes given a counterfactual")
    graph_check: bool = Field(default=True, description="test the graph on the fit window; report contradictions")
    check_permutations: int = Field(default=20, ge=1, le=10_000, description="relabellings per graph check")
    max_fit_rows: int = Field(default=20_000, ge=100, description="a longer fit window is subsampled (a caveat says so)")
