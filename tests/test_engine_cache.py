"""A warm question reuses what the rows alone decide (model, graph check, bootstrap refits) and answers the same."""

from __future__ import annotations

import numpy as np

from rca.engine import ModelCache, Options, Question, Window, investigate
from tests.test_engine_regimes import CPU_GRAPH, _saturating_cpu


def test_a_warm_question_answers_exactly_as_a_cold_one() -> None:
    df = _saturating_cpu(3)
    q = Question("front.latency_p90", at=Window(df.index[-3], df.index[-1]))
    opts = Options(seed=0, bootstrap=30)
    cold = investigate(df, CPU_GRAPH, q, options=opts)
    cache = ModelCache()
    first = investigate(df, CPU_GRAPH, q, options=opts, cache=cache)
    again = investigate(df, CPU_GRAPH, q, options=opts, cache=cache)
    other = investigate(df, CPU_GRAPH, Question("cart.latency_p90", at=q.at), options=opts, cache=cache)
    assert cache.misses == 1 and cache.hits == 2
    fitted = next(iter(cache._models.values()))
    kinds = {k[0] for k in fitted.memo}
    assert kinds == {"graph check", "anomaly refits"}
    assert len([k for k in fitted.memo if k[0] == "anomaly refits"]) == 4  # two structures, point and resampled
    for r in (first, again):
        assert [c.node for c in r.causes] == [c.node for c in cold.causes]
        assert np.allclose([c.interval for c in r.causes], [c.interval for c in cold.causes])
        assert r.caveats == cold.caveats
    assert other.causes[0].node == "cart.cpu"
