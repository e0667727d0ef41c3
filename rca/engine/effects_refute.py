"""Refutation: DoWhy's three checks of an estimate, run on any of our estimators.

A sound estimate passes them: a shuffled "placebo" treatment has no effect, adding a random
common cause to the adjustment does not move it, and re-estimating on random 80% subsets of the
rows does not move it. Each check re-estimates ``simulations`` times and passes when the value it
expects is plausible among the re-estimates (DoWhy's two-sided normal test, p >= 0.05).

DoWhy's own refuter classes are not used: in DoWhy 0.14 the placebo refuter raises for a treatment
with lagged copies and reuses a fitted propensity model, and the random-common-cause refuter does
not run on front-door or IV estimands. The re-estimator is passed in, so the checks run on the
headline's own estimator (for double ML: its final stage on the cross-fitted residuals).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from rca.engine import stats
from rca.engine.parallel import tasks
from results.effects import Refutation


def _normal_p(value: float, sims: np.ndarray) -> float | None:
    """DoWhy's normal-distribution test, two-sided: how plausible ``value`` is among the simulated estimates."""
    sims = sims[np.isfinite(sims)]
    if len(sims) < 2:
        return None
    sd = float(np.std(sims))
    if sd == 0:
        return 1.0 if float(np.mean(sims)) == value else 0.0
    z = (value - float(np.mean(sims))) / sd
    return float(2 * stats.norm_sf(abs(z)))


_DETAILS = {
    "placebo_treatment": ("a shuffled treatment gives no effect, as it should",
                          "a shuffled treatment still shows an effect: the data's structure, not the treatment, may drive it"),
    "random_common_cause": ("adding a random common cause leaves the estimate where it was",
                            "adding a random common cause moves the estimate: the adjustment is unstable"),
    "data_subset": ("re-estimating on random 80% subsets gives the same effect",
                    "random 80% subsets give a different effect: a few rows drive the estimate"),
}


def refutations(fn, data: pd.DataFrame, tcols: list[str], adjust: list[str] | None, estimate: float,
                simulations: int, seed: int) -> tuple[Refutation, ...]:
    """DoWhy's three refuters, with DoWhy's semantics and its normal-distribution test, on any estimator.

    ``fn(data, adjust)`` re-estimates the effect. Placebo treatment: the treatment columns are
    permuted together, by row; the placebo estimates should centre on zero. Random common cause:
    an independent normal column joins the adjustment set (back-door only, ``adjust`` is ``None``
    otherwise); the estimate should not move. Data subset: random 80% of the rows; the estimate
    should not move.
    """
    rng = np.random.default_rng(seed)
    n = len(data)
    out = []
    plans = [("placebo_treatment", 0.0), ("random_common_cause", estimate), ("data_subset", estimate)]

    def once(draw: tuple[str, np.ndarray]) -> float | None:
        name, drawn = draw
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                if name == "placebo_treatment":
                    shuffled = data.copy()
                    shuffled[tcols] = data[tcols].to_numpy()[drawn]
                    return fn(shuffled, adjust)
                if name == "random_common_cause":
                    return fn(data.assign(**{"random common cause": drawn}), [*adjust, "random common cause"])
                return fn(data.iloc[drawn], adjust)
            except Exception:  # a degenerate draw (a propensity model that cannot fit) is skipped
                return None

    for name, expected in plans:
        if name == "random_common_cause" and adjust is None:
            out.append(Refutation(name, None, expected, None, None, 0,
                                  "does not apply: a random common cause only enters a back-door adjustment"))
            continue
        # The random part of every re-estimate is drawn here, in order; the re-estimates then run in any
        # order, on a Dask cluster when one is configured (rca.engine.parallel.tasks).
        if name == "placebo_treatment":
            drawn = [rng.permutation(n) for _ in range(simulations)]
        elif name == "random_common_cause":
            drawn = [rng.normal(size=n) for _ in range(simulations)]
        else:
            drawn = [np.sort(rng.choice(n, int(0.8 * n), replace=False)) for _ in range(simulations)]
        sims = [v for v in tasks(once, [(name, d) for d in drawn]) if v is not None]
        arr = np.asarray(sims, dtype=float)
        arr = arr[np.isfinite(arr)]
        p = _normal_p(expected, arr)
        if p is None:
            out.append(Refutation(name, None, expected, None, None, simulations, "could not run: no re-estimate"))
            continue
        passed = p >= 0.05
        out.append(Refutation(name, passed, expected, float(np.mean(arr)), p, len(arr), _DETAILS[name][0 if passed else 1]))
    return tuple(out)
