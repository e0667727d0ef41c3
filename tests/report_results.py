"""Investigation results built by hand for the report and chat tests (no engine run): a realistic
one and a hostile one with markup and chat control characters in every text field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from results import (
    Cause,
    Counterfactual,
    InvestigationResult,
    ModelInfo,
    Observed,
    Regression,
)

EVIL = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">"\'&|*_`[x](http://evil.test) @everyone'


def _weeks(n: int, start: str = "2025-01-06") -> list[str]:
    t0 = datetime.fromisoformat(start).replace(tzinfo=UTC)
    return [(t0 + timedelta(weeks=i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(n)]


def make_result(target: str = "bug_fix_commit_ratio", scope: str = "acme/payments", *, detected: bool = True,
                names: dict[str, str] | None = None, text: str = "", kind: str = "distribution_change",
                n_causes: int = 3) -> InvestigationResult:
    """A realistic result built by hand (no engine): a 52-week series, three causes, one counterfactual."""
    names = names or {}
    cov, intro, churn = (names.get("cov", "line_coverage_ratio"), names.get("intro", "bug_introducing_commit_ratio"),
                         names.get("churn", "test_churn_ratio"))
    stamps = _weeks(52)
    series = {
        target: [(t, 0.12 + (0.06 if i >= 39 else 0.0) + 0.01 * ((i * 7) % 5 - 2) / 2) for i, t in enumerate(stamps)],
        cov: [(t, 0.82 - (0.12 if i >= 39 else 0.0) + 0.01 * ((i * 3) % 4 - 1.5)) for i, t in enumerate(stamps)],
        intro: [(t, 0.10 + 0.01 * ((i * 5) % 3)) for i, t in enumerate(stamps)],
    }
    # Contributions are shares of the observed change (0.11 -> 0.19, or -> 0.115), as the engine's add up.
    change = (0.19 if detected else 0.115) - 0.11

    def cause(node: str, share: float, lo: float, hi: float, significant: bool, direction: str, unusual: bool) -> Cause:
        k = change / 0.08
        return Cause(node=node, contribution=share * change, share=share, interval=(lo * k, hi * k),
                     significant=significant, direction=direction, evidence=4.2 if unusual else 0.8, unusual=unusual)

    causes = [
        cause(cov, 0.62, 0.03, 0.07, True, "worse", True),
        cause(intro, 0.23, -0.002, 0.03, False, "worse", False),
        cause(churn, -0.06, -0.01, 0.001, False, "better", False),
        cause(target, 0.21, 0.0, 0.02, False, "worse", False),
    ][: n_causes + 1]
    window = ({"baseline": [stamps[26], "2025-09-28T23:59:59Z"], "current": [stamps[39], "2025-12-28T23:59:59Z"]}
              if kind == "distribution_change" else {"at": stamps[-1]})
    extra = f" {text}" if text else ""
    return InvestigationResult(
        target=target, kind=kind, scope=scope, window=window,
        observed=Observed(baseline=0.11, current=0.19 if detected else 0.115, unit="ratio"),
        regression=Regression(detected=detected, score=4.2 if detected else 0.8,
                              method="Welch t-test, one-sided" + extra, p_value=0.0001 if detected else 0.3),
        causes=tuple(causes),
        counterfactuals=(Counterfactual(intervention={cov: 0.81}, target=0.13, interval=(0.12, 0.15)),),
        explanation=f"Bug-fix ratio rose from 11% to 19%. Most of the rise (62%) is attributed to coverage.{extra}",
        caveats=("only 13 weekly rows: intervals are wide" + extra,),
        model=ModelInfo(graph="delivery-quality" + extra, fitted_at="2026-01-01T00:00:00Z", rows=104,
                        quality={"r2": {target: 0.7}}, mechanisms={target: "linear" + extra, cov: "empirical"}, seed=0),
        timings_s={"fit": 0.8, "attribute" + extra: 1.1},
        series=series,
        titles={target: names.get("target_title", target.replace("_", " ")), cov: cov.replace("_", " "),
                intro: intro.replace("_", " "), churn: churn.replace("_", " ")},
        units={target: "ratio", cov: "ratio", intro: "ratio", churn: "ratio"},
        edges=((churn, cov, 0), (cov, intro, 0), (cov, target, 1), (intro, target, 0)),
        graph_unit="week",
        versions={"whydunnit": "0.1.0", "dowhy": "0.14" + extra},
    )


def hostile_result() -> InvestigationResult:
    """Markup and chat control characters in every text field that can come from data."""
    return make_result(target=f"bugs{EVIL}", scope=f"org/{EVIL}", text=EVIL,
                       names={"cov": f"cov{EVIL}", "intro": f"intro::{EVIL}", "churn": f"churn/{EVIL}",
                              "target_title": f"Bugs {EVIL}"})




def graph_result(edges: list[tuple[str, str]], target: str, *, titles: dict[str, str] | None = None,
                 hot: tuple[str, ...] = (), scope: str = "shop") -> InvestigationResult:
    """``make_result``'s numbers on another graph: ``hot`` are significant causes (they shade their
    boxes and light the paths to ``target``); every node gets a title (its name unless given)."""
    from dataclasses import replace

    base = make_result(target=target, scope=scope, n_causes=0)
    nodes = list(dict.fromkeys([n for e in edges for n in e]))
    titles = {n: (titles or {}).get(n, n.replace("_", " ")) for n in nodes}
    change = base.observed.current - base.observed.baseline
    causes = [Cause(node=n, contribution=change * 0.8 / len(hot), share=0.8 / len(hot), interval=(0.01, 0.05),
                    significant=True, direction="worse", evidence=4.0, unusual=True) for n in hot]
    causes.append(Cause(node=target, contribution=change * 0.2, share=0.2, interval=(0.0, 0.02), significant=False,
                        direction="worse", evidence=0.5, unusual=False))
    series = {target: base.series[target], **{n: base.series[base.target] for n in hot[:3]}}
    return replace(base, causes=tuple(causes), titles=titles, edges=tuple((s, t, 0) for s, t in edges),
                   units={n: "ratio" for n in nodes}, series=series, counterfactuals=())


def micro_edges(services: int = 40, seed: int = 0) -> tuple[list[tuple[str, str]], str]:
    """A call tree of ``services`` services plus shared backends; latency flows from callee to
    caller, so the front service (the target) is the graph's sink and the chains are long."""
    import random

    rng = random.Random(seed)
    names = [f"svc{i:02d}_latency_seconds" for i in range(services)]
    edges = []
    for i in range(1, services):
        edges.append((names[i], names[rng.randrange(max(0, i - 4), i)]))
    for _ in range(8):
        i, j = sorted(rng.sample(range(1, services), 2))
        if (names[j], names[i]) not in edges:
            edges.append((names[j], names[i]))
    return edges, names[0]


LONG_NAMES = {
    "front": "https://grafana.example.com/d/8f3k2/checkout-latency?orgId=1&var-env=production&refresh=30s",
    "db": "payments::storage::postgres::primary::query_duration_p99_seconds",
    "cache": "cache.redis.eu-west-1.cluster-0004.hit_ratio_over_the_last_fifteen_minutes",
    "queue": "ＷＷＷＷ队列积压消息数量（生产环境）ＷＷＷＷ",
    "wide": "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW",
}


def long_names_result() -> InvestigationResult:
    """A graph whose node titles are URLs, qualified names, CJK and one unbreakable word."""
    edges = [("db", "front"), ("cache", "db"), ("queue", "db"), ("wide", "cache"), ("queue", "front")]
    return graph_result(edges, "front", titles=LONG_NAMES, hot=("db", "cache"))
