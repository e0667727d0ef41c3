"""Changes: why did a metric's level move from one window to another?

As DoWhy's ``distribution_change``: test each node's mechanism for a change between the
windows, and attribute the difference in the target's mean to the mechanisms that changed by
Shapley values. Linear models get it in closed form (log-linear durations refitted as linear:
means propagate exactly only through linear mechanisms), nonlinear ones DoWhy's estimator.
The mechanism-change tests are also each node's own evidence
(:func:`rca.engine.evidence.change`): a mechanism that changed is where the change starts.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from rca.engine import attribution, evidence, linear
from rca.engine.attribution import SAMPLED_DRAWS
from rca.engine.fitting import Fitted, seed_everything
from rca.engine.question import Options


def attribute(
    fitted: Fitted,
    s: linear.Structure,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    opts: Options,
    weights: dict[int, tuple[np.ndarray, np.ndarray]],
) -> attribution.Attributed:
    """Contributions to the change in the target's mean, with bootstrap draws, and each column's evidence."""
    ref_x = reference[list(s.columns)].to_numpy(float)
    cur_x = current[list(s.columns)].to_numpy(float)
    flat = linear.Structure(s.columns, s.parents, s.target)
    timings: dict[str, float] = {}
    caveats: list[str] = []
    if fitted.exact:

        def run(draws: int) -> attribution.Attribution:
            gen = np.random.default_rng(opts.seed)
            return attribution.linear_change(flat, ref_x, cur_x, draws=draws, rng=gen, alpha=opts.change_alpha,
                                             weights=weights.get(s.target))

        att, timings = attribution.timed(run, opts.bootstrap)
        method = "exact Shapley values of DoWhy's set function, closed form for the linear SCM"
        logs = [c for c, lg in zip(s.columns, s.logs, strict=True) if lg]
        if logs:
            method += f" (log-linear {', '.join(logs)} refitted as linear for the change)"
        p_values, flagged = att.p_values, att.changed
    else:
        att, sampled = _sampled(fitted, s, reference, current, opts)
        timings.update(sampled)
        method = "DoWhy gcm Shapley estimation by sampling (nonlinear mechanisms)"
        if opts.bootstrap > SAMPLED_DRAWS:
            caveats.append(f"nonlinear mechanisms: intervals rest on {SAMPLED_DRAWS} resamples, not {opts.bootstrap}")
        p_values = attribution.changed_mechanisms(flat, ref_x, cur_x)
        flagged = attribution.benjamini_hochberg(p_values, opts.change_alpha)
    ev = evidence.change(s.columns, p_values, flagged, _noise_shift(flat, ref_x, cur_x))
    explained = explained_by(flat, ref_x, cur_x, flagged)
    return attribution.Attributed(att, ev, method, timings, tuple(caveats), explained)


def explained_by(s: linear.Structure, old: np.ndarray, new: np.ndarray, flagged: dict[str, bool],
                 share: float = 0.5) -> tuple[tuple[str, str], ...]:
    """Pairs (Y, X) of changed columns where Y accounts for most of the shift in X's own noise.

    A graph that misses the edge Y -> X (or models it too simply) shows Y's change again in X's
    mechanism. Regressing X on its parents and Y over both windows tells the two apart: if the
    shift of X's residual between the windows shrinks below ``share`` of what it is without Y,
    X's change is mostly Y's. Only a Y that is not downstream of X is tried.
    """
    changed = [j for j, c in enumerate(s.columns) if flagged.get(c)]
    if len(changed) < 2:
        return ()
    joint = np.vstack([old, new])
    new_rows = np.r_[np.zeros(len(old), dtype=bool), np.ones(len(new), dtype=bool)]
    down = _descendants(s)
    out = []
    for x in changed:
        base = _residual_shift(joint[:, x], joint[:, list(s.parents[x])], new_rows)
        if base == 0:
            continue
        for y in changed:
            if y == x or y in down[x] or y in s.parents[x]:
                continue
            with_y = _residual_shift(joint[:, x], joint[:, [*s.parents[x], y]], new_rows)
            if abs(with_y) < share * abs(base):
                out.append((s.columns[y], s.columns[x]))
    return tuple(out)


def _residual_shift(y: np.ndarray, parents: np.ndarray, new_rows: np.ndarray) -> float:
    """Mean residual of ``y`` on ``parents`` (one fit over both windows) in the new rows minus the old."""
    z = np.column_stack([np.ones(len(y)), parents])
    coef, *_ = np.linalg.lstsq(z, y, rcond=None)
    r = y - z @ coef
    return float(r[new_rows].mean() - r[~new_rows].mean())


def _descendants(s: linear.Structure) -> list[set[int]]:
    children: list[set[int]] = [set() for _ in s.columns]
    for j, pa in enumerate(s.parents):
        for p in pa:
            children[p].add(j)
    out: list[set[int]] = [set() for _ in s.columns]
    for j in range(len(s.columns) - 1, -1, -1):  # topological order: children come later
        for k in children[j]:
            out[j] |= {k} | out[k]
    return out


def _noise_shift(s: linear.Structure, old: np.ndarray, new: np.ndarray) -> dict[str, float]:
    """How each column's noise moved between the windows under one model fitted on both."""
    joint = linear.fit(s, np.vstack([old, new]))
    shift = linear.noise(s, joint, new)[0].mean(axis=0) - linear.noise(s, joint, old)[0].mean(axis=0)
    return dict(zip(s.columns, map(float, shift), strict=True))


def _sampled(
    fitted: Fitted, s: linear.Structure, reference: pd.DataFrame, current: pd.DataFrame, opts: Options
) -> tuple[attribution.Attribution, dict[str, float]]:
    """DoWhy's own estimator (``distribution_change``), for graphs with nonlinear mechanisms."""
    seed_everything(opts.seed, dowhy=True)
    target = s.columns[s.target]
    t0 = time.perf_counter()
    point, changed = attribution.change_contributions(
        fitted.scm, target, reference, current, num_samples=opts.num_samples * 3, alpha=opts.change_alpha
    )
    attributed = time.perf_counter() - t0

    def once(rng: np.random.Generator) -> dict[str, float] | None:
        old = reference.iloc[rng.integers(0, len(reference), len(reference))]
        new = current.iloc[rng.integers(0, len(current), len(current))]
        seed_everything(int(rng.integers(0, 2**32 - 1)), dowhy=True)  # DoWhy's draws: this draw's own
        try:
            contrib, _ = attribution.change_contributions(
                fitted.scm, target, old, new, num_samples=opts.num_samples, alpha=opts.change_alpha
            )
        except (ValueError, np.linalg.LinAlgError):
            return None
        return contrib

    t0 = time.perf_counter()
    draws = attribution.bootstrap(min(opts.bootstrap, SAMPLED_DRAWS), opts.seed, once) if opts.bootstrap else []
    att = attribution.Attribution(point=point, draws=draws, changed=changed, p_values={})
    return att, {"attribute": attributed, "intervals": time.perf_counter() - t0}
