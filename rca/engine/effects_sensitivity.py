"""Sensitivity to an unobserved confounder: how strong would one have to be to erase the effect?

Cinelli and Hazlett's (2020) partial-R² analysis of the (weighted) regression estimate, the method
behind DoWhy's ``add_unobserved_common_cause(simulation_method="linear-partial-R2")``, evaluated in
closed form: the robustness value (the partial R² a hidden confounder needs with both treatment
and outcome to bring the estimate to zero), and how many times as strong as the strongest
observed confounder a hidden one would have to be.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from rca.engine.effects_estimators import t_quantile, weights_of, wls
from results.effects import Benchmark, Sensitivity


def _rv(f: float) -> float:
    """Cinelli and Hazlett's robustness value for a partial Cohen's f."""
    if f <= 0:
        return 0.0
    return 0.5 * (math.sqrt(f**4 + 4 * f**2) - f**2)


def sensitivity(data: pd.DataFrame, tcols: list[str], outcome: str, adjust: list[str],
                confidence: float) -> Sensitivity:
    """Partial-R² sensitivity of the regression estimate to an unobserved confounder.

    With lagged copies the regression is reparametrised so that one coefficient is the sustained
    effect (``a*T + b*T' = (a+b)*T + b*(T'-T)``); the analysis is then Cinelli and Hazlett's
    (2020) for that coefficient. Benchmarks: each adjusted-for node in turn, with a hidden
    confounder ``k`` times as strong as it (on both treatment and outcome); ``strength_to_vanish``
    is the smallest ``k`` that brings the estimate to zero for the strongest benchmark.
    """
    d = data[tcols[0]].to_numpy(float)
    others = [data[c].to_numpy(float) - d for c in tcols[1:]]
    adjusters = [data[c].to_numpy(float) for c in adjust]
    covs = np.column_stack(others + adjusters) if (others or adjusters) else np.empty((len(d), 0))
    y = data[outcome].to_numpy(float)
    w = weights_of(data)
    fit_y = wls(y, np.column_stack([d, covs]) if covs.shape[1] else d[:, None], w)
    est, se, dof = float(fit_y.params[1]), float(fit_y.bse[1]), float(fit_y.dof)
    t = est / se if se > 0 else math.inf
    f = abs(t) / math.sqrt(dof)
    t_crit = t_quantile(confidence, dof - 1)
    rv = _rv(f)
    rv_ci = _rv(f - t_crit / math.sqrt(dof - 1))
    benches: list[Benchmark] = []
    if adjusters:
        fit_d = wls(d, covs, w)
        n_other = len(others)
        for j, name in enumerate(adjust):
            t_d = float(fit_d.tvalues[1 + n_other + j])
            t_y = float(fit_y.tvalues[2 + n_other + j])
            r2d = t_d**2 / (t_d**2 + float(fit_d.dof))
            r2y = t_y**2 / (t_y**2 + dof)
            benches.append(Benchmark(name, r2d, r2y, _adjusted(est, se, dof, r2d, r2y, 1.0)))
        benches.sort(key=lambda b: abs(b.adjusted_effect))  # the strongest confounder leaves the least
    strongest = benches[0] if benches else None
    k = _strength_to_vanish(est, se, dof, strongest.r2_treatment, strongest.r2_outcome) if strongest else None
    return Sensitivity("linear partial R2 (Cinelli-Hazlett)", rv, rv_ci, strongest.node if strongest else None, k,
                       tuple(benches))


def _adjusted(est: float, se: float, dof: float, r2dxj: float, r2yxj: float, k: float) -> float:
    """The estimate after removing a hidden confounder ``k`` times as strong as a benchmark (towards zero)."""
    if r2dxj <= 0 or r2yxj <= 0:
        return est
    if k * r2dxj >= 1:
        return 0.0
    r2dz = k * r2dxj / (1 - r2dxj)
    if r2dz >= 1:
        return 0.0
    r2zxj = k * r2dxj**2 / ((1 - k * r2dxj) * (1 - r2dxj))
    if r2zxj >= 1:
        return 0.0
    r2yz = ((math.sqrt(k) + math.sqrt(r2zxj)) / math.sqrt(1 - r2zxj)) ** 2 * (r2yxj / (1 - r2yxj))
    r2yz = min(r2yz, 1.0)
    bias = se * math.sqrt(dof) * math.sqrt(r2yz * r2dz / (1 - r2dz))
    return math.copysign(max(abs(est) - bias, 0.0), est)


def _strength_to_vanish(est: float, se: float, dof: float, r2d: float, r2y: float) -> float | None:
    if r2d <= 0 or r2y <= 0:
        return None
    hi = (1 - 1e-9) / r2d  # k * r2d < 1
    if _adjusted(est, se, dof, r2d, r2y, hi) != 0.0:
        return None
    lo = 0.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if _adjusted(est, se, dof, r2d, r2y, mid) == 0.0:
            hi = mid
        else:
            lo = mid
    return hi


# --- wording ------------------------------------------------------------------------------------


def residual_sensitivity(value: float, se: float, dof: float, confidence: float) -> Sensitivity:
    """The robustness value alone, for an estimate with no regression behind it (double ML's final stage)."""
    f = abs(value / se) / math.sqrt(dof) if se > 0 else math.inf
    return Sensitivity("partial R2 of the final stage (Cinelli-Hazlett)", _rv(f),
                       _rv(f - t_quantile(confidence, dof - 1) / math.sqrt(dof - 1)), None, None, ())
