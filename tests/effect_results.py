"""Effect results built by hand for the report, chat and browser tests (no engine run): realistic ones
shaped like the demo's answers, and hostile ones with markup and chat control characters in every
name and text that can come from data."""

from __future__ import annotations

from results.effects import (
    Benchmark,
    EffectResult,
    Estimate,
    HeterogeneousEffects,
    Identification,
    Recommendation,
    Recommendations,
    Refutation,
    ScopeEffect,
    Sensitivity,
)
from tests.report_results import EVIL


def make_effect(treatment: str = "line_coverage_ratio", outcome: str = "bug_fix_commit_ratio", *,
                placebo_passed: bool = True, text: str = "") -> EffectResult:
    extra = f" {text}" if text else ""
    refs = (Refutation("placebo_treatment", placebo_passed, 0.0, 0.002 if placebo_passed else -0.2,
                       0.78 if placebo_passed else 0.001, 20, "a shuffled treatment gives no effect, as it should" + extra
                       if placebo_passed else "a shuffled treatment still shows an effect" + extra),
            Refutation("random_common_cause", True, -0.335, -0.334, 0.96, 20, "leaves the estimate where it was"),
            Refutation("data_subset", None, -0.335, None, None, 20, "could not run: no re-estimate" + extra))
    return EffectResult(
        treatment=treatment, outcome=outcome, treatment_kind="continuous",
        identification=Identification(True, "backdoor", (f"team{EVIL}" if text else "team_size",),
                                      "adjusting for team size blocks every back-door path" + extra),
        method="linear_regression", effect=-0.335, interval=(-0.40, -0.27), confidence=0.95,
        estimates=(Estimate("linear_regression", -0.335, (-0.40, -0.27), 0.03, 0.0001),
                   Estimate("double_ml", -0.33, (-0.41, -0.26), 0.04)),
        naive=Estimate("naive_regression", 0.12, (0.08, 0.16)),
        refutations=refs,
        sensitivity=Sensitivity("partial_r2", 0.64, 0.57, "team_size" + extra, 2.3,
                                (Benchmark("team_size" + extra, 0.1, 0.2, -0.2),)),
        step=0.05, step_effect=-0.01675, step_interval=(-0.02, -0.0135),
        answer=f"Raising line coverage ratio by 5 points lowers bug fix commit ratio by 1.7 points.{extra}",
        caveats=(f"the first 1 row(s) are used only as lagged inputs{extra}",), rows=103, graph="delivery-quality" + extra,
        seed=0, treatment_columns=(treatment, f"{treatment}[t-1]"), units={treatment: "ratio", outcome: "ratio"},
        timings_s={"identify": 0.05, "total": 0.4},
    )


def make_heterogeneity(treatment: str = "line_coverage_ratio", outcome: str = "bug_fix_commit_ratio", *,
                       scopes: tuple[str, ...] = ("acme/payments", "acme/search", "acme/checkout"),
                       text: str = "") -> HeterogeneousEffects:
    extra = f" {text}" if text else ""
    effects = [(-0.40, (-0.50, -0.30)), (-0.20, (-0.28, -0.12)), (0.02, (-0.08, 0.12))]
    items = tuple(ScopeEffect(s, e, iv, 100, -e) for s, (e, iv) in zip(scopes, effects, strict=False))
    return HeterogeneousEffects(
        treatment=treatment, outcome=outcome, method="LinearDML", adjustment=("team_size",),
        modifiers=tuple(f"scope={s}" for s in scopes), average=Estimate("double_ml", -0.19, (-0.24, -0.14)),
        scopes=items, features=(), most_helped=items[0].scope, least_helped=items[-1].scope, separated=True,
        confidence=0.95, answer=f"Raising line coverage ratio by 5 points does most in {items[0].scope}.{extra}",
        caveats=(f"scope x left out{extra}",), rows=300, seed=0, step=0.05, units={treatment: "ratio", outcome: "ratio"},
    )


def make_recommendations(target: str = "bug_fix_commit_ratio", *, levers: tuple[str, ...] = (
        "line_coverage_ratio", "newcomer_commit_ratio", "median_change_size_lines"), text: str = "") -> Recommendations:
    extra = f" {text}" if text else ""
    moves = [(0.68, 0.84, 0.75, 0.049, (0.041, 0.055), 1.0, False), (0.11, 0.045, 0.25, 0.012, (0.010, 0.015), 1.0, False),
             (82.0, 64.5, 0.25, 0.001, (-0.002, 0.004), 0.6, False)]
    items = tuple(Recommendation(lv, cur, goal, q, 0.19, 0.19 - imp, imp, iv, p, there,
                                 f"Raising {lv} from {cur} to {goal} would lower {target} by {imp}.{extra}")
                  for lv, (cur, goal, q, imp, iv, p, there) in zip(levers, moves, strict=False))
    units = {target: "ratio", levers[0]: "ratio", levers[1]: "ratio", levers[2]: "lines"}
    return Recommendations(target=target, items=items, skipped={f"build{extra}": "constant over the history" + extra},
                           current_rows=13, confidence=0.95, answer=items[0].sentence, caveats=(f"few rows{extra}",),
                           rows=103, graph="delivery-quality", seed=0, bootstrap=100, units=units)


def hostile_effects() -> list:
    """Every effect result with markup in its node names, scopes, sentences and caveats."""
    return [make_effect(f"cov{EVIL}", f"bugs::{EVIL}", placebo_passed=False, text=EVIL),
            make_heterogeneity(f"cov{EVIL}", f"bugs::{EVIL}", scopes=(f"org/{EVIL}", "b/<i>", "c@everyone"), text=EVIL),
            make_recommendations(f"bugs::{EVIL}", levers=(f"lever{EVIL}", "b[x](http://evil.test)", "c`code`"),
                                 text=EVIL)]
