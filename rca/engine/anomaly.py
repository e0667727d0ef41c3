"""Anomalies: why did a few rows deviate from what the fit window says is normal?

The fit window (all rows before the anomaly, or a given baseline) fixes the model; the rows
asked about are explained by each node's noise, DoWhy's ``attribute_anomalies`` with the mean
deviation as the score. Linear models get exact Shapley values in closed form, log-linear ones
a Monte Carlo estimate of the same set function, nonlinear ones DoWhy's own estimator. Beside
the contributions, every node's own evidence: how far outside its normal range its noise is
at the rows asked about (:func:`rca.engine.evidence.anomaly`).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from graphs import CausalGraph
from rca.engine import attribution, evidence, linear
from rca.engine.attribution import SAMPLED_DRAWS
from rca.engine.fitting import Fitted, fit, seed_everything
from rca.engine.question import Options

LOG_DRAWS = 30  # bootstrap refits for Monte Carlo attribution (each costs ~20 ms)


def attribute(
    fitted: Fitted,
    graph: CausalGraph,
    s: linear.Structure,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    opts: Options,
    weights: dict[int, tuple[np.ndarray, np.ndarray]],
) -> attribution.Attributed:
    """Contributions to the rows' mean deviation, with bootstrap draws, and each column's evidence.

    ``weights`` maps a column index of ``s`` to its (reference, current) denominators.
    """
    ref_x = reference[list(s.columns)].to_numpy(float)
    cur_x = current[list(s.columns)].to_numpy(float)
    timings: dict[str, float] = {}
    caveats: list[str] = []
    if fitted.exact:
        target_w = weights[s.target][1] if s.target in weights else None
        big = len(s.columns) > 20  # fewer samples and orderings keep 40 players within seconds

        def run(draws: int) -> attribution.Attribution:
            # A fresh generator per call: the point estimate is the same with or without resamples.
            gen = np.random.default_rng(opts.seed)
            if s.additive:
                params = fitted.remembered(("anomaly refits", s.columns, draws, opts.seed),
                                           lambda: attribution.anomaly_refits(s, ref_x, draws, gen))
                return attribution.linear_anomaly(s, ref_x, cur_x, draws=draws, rng=gen, weights=target_w, params=params)
            return attribution.sampled_anomaly(
                s, ref_x, cur_x, draws=min(draws, LOG_DRAWS // 2 if big else LOG_DRAWS), rng=gen,
                samples=128 if big else 256, permutations=32 if big else 64,
            )

        att, timings = attribution.timed(run, opts.bootstrap)
        if s.additive:
            method = "exact Shapley values of DoWhy's set function, closed form for the linear SCM"
        else:
            logs = ", ".join(c for c, lg in zip(s.columns, s.logs, strict=True) if lg)
            method = f"Shapley values of DoWhy's set function, Monte Carlo with common random numbers (log-linear: {logs})"
            if opts.bootstrap > LOG_DRAWS:
                caveats.append(f"log-linear mechanisms: intervals rest on {LOG_DRAWS} resamples")
        assert att.params is not None
        point = linear.Params(att.params.intercept[:1], tuple(c[:1] for c in att.params.coef))
        ref_noise, cur_noise = linear.noise(s, point, ref_x)[0], linear.noise(s, point, cur_x)[0]
    else:
        att, sampled = _sampled(fitted, graph, s, reference, current, opts)
        timings.update(sampled)
        method = "DoWhy gcm Shapley estimation by sampling (nonlinear mechanisms)"
        if opts.bootstrap > SAMPLED_DRAWS:
            caveats.append(f"nonlinear mechanisms: intervals rest on {SAMPLED_DRAWS} resamples, not {opts.bootstrap}")
        ref_noise, cur_noise = dowhy_noise(fitted, s, reference), dowhy_noise(fitted, s, current)
    ev = evidence.anomaly(s.columns, ref_noise, cur_noise, weights=weights)
    return attribution.Attributed(att, ev, method, timings, tuple(caveats))


def dowhy_noise(fitted: Fitted, s: linear.Structure, rows: pd.DataFrame) -> np.ndarray:
    """Each column's noise in ``rows`` under a fitted DoWhy SCM, in the structure's column order."""
    from dowhy.gcm._noise import compute_noise_from_data

    nodes = list(fitted.scm.graph.nodes)  # type: ignore[union-attr]
    noise = compute_noise_from_data(fitted.scm, rows[nodes].astype(float))
    return noise[list(s.columns)].to_numpy(float)


def _sampled(
    fitted: Fitted, graph: CausalGraph, s: linear.Structure, reference: pd.DataFrame, current: pd.DataFrame,
    opts: Options,
) -> tuple[attribution.Attribution, dict[str, float]]:
    """DoWhy's own estimator (``attribute_anomalies``), for graphs with nonlinear mechanisms."""
    seed_everything(opts.seed, dowhy=True)
    target = s.columns[s.target]
    t0 = time.perf_counter()
    point = attribution.anomaly_contributions(fitted.scm, target, current, num_samples=opts.num_samples)
    attributed = time.perf_counter() - t0

    def once(rng: np.random.Generator) -> dict[str, float] | None:
        sample = reference.iloc[rng.integers(0, len(reference), len(reference))]
        seed_everything(int(rng.integers(0, 2**32 - 1)), dowhy=True)  # DoWhy's draws: this draw's own
        refit = fit(sample, graph)
        return attribution.anomaly_contributions(refit.scm, target, current, num_samples=max(200, opts.num_samples // 2))

    t0 = time.perf_counter()
    draws = attribution.bootstrap(min(opts.bootstrap, SAMPLED_DRAWS), opts.seed, once) if opts.bootstrap else []
    att = attribution.Attribution(point=point, draws=draws, changed={}, p_values={})
    return att, {"attribute": attributed, "intervals": time.perf_counter() - t0}
