"""Every branch of the explanation and the headline, each sentence checked against the numbers beside it."""

from __future__ import annotations

import re
from dataclasses import replace

from results import Cause, Counterfactual, Observed, Regression, Unexplained, wording
from tests.report_results import make_result

COV, INTRO, CHURN, TARGET = "line_coverage_ratio", "bug_introducing_commit_ratio", "test_churn_ratio", "bug_fix_commit_ratio"


def _with(causes: list[Cause], **kw):
    r = make_result()
    own = next((c for c in causes if c.node == TARGET), None)
    unexplained = Unexplained(own.contribution, own.share) if own else Unexplained(0.0, 0.0)
    return replace(r, causes=tuple(causes), unexplained=unexplained, **kw)


def _cause(node: str, contribution: float, *, significant: bool = True, unusual: bool = True,
           interval: tuple[float, float] | None = None, direction: str = "worse") -> Cause:
    return Cause(node=node, contribution=contribution, share=contribution / 0.08,
                 interval=interval or (contribution * 0.6, contribution * 1.4), significant=significant,
                 direction=direction, evidence=5.0 if unusual else 0.5, unusual=unusual)


def _percents(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"(-?\d+)% of the", text)]


def test_a_significant_top_cause_is_named_with_its_share_of_the_observed_change() -> None:
    r = _with([_cause(COV, 0.05), _cause(INTRO, 0.018, significant=False, unusual=False), _cause(TARGET, 0.012)])
    text = wording.explanation(r)
    assert text.startswith("Bug fix commit ratio rose from 11% to 19%")
    assert "That is a regression beyond normal noise (score 4.2)." in text
    assert "62% of the rise is attributed to" in text and "(significant)" in text
    assert _percents(text) == [round(0.05 / 0.08 * 100)]
    assert "Also contributing: bug introducing commit ratio (22%)." in text
    assert "Had line coverage ratio stayed at 81%, bug fix commit ratio would have been about 13%, not 19%." in text
    assert "not explained" not in text  # 15% is below the bar for saying so


def test_a_cause_that_lowered_the_target_is_never_said_to_explain_its_rise() -> None:
    r = _with([_cause(CHURN, -0.03, direction="better"), _cause(COV, 0.07), _cause(TARGET, 0.04)])
    text = wording.explanation(r)
    assert "88% of the rise is attributed to" in text
    assert "Pulling the other way: test churn ratio (-38%)." in text
    assert not re.search(r"\(-\d+%\) is attributed", text) and "of the rise (-" not in text
    assert wording.top_cause(r).node == COV  # not the first listed, which pulled the other way


def test_a_scheduled_runs_record_names_the_top_cause_the_report_names() -> None:
    from rca.pipeline.runs import result_summary

    # GET /runs named the first upstream cause listed, here one that lowered the target while it rose.
    r = _with([_cause(CHURN, -0.03, direction="better"), _cause(COV, 0.07), _cause(TARGET, 0.04)])
    assert result_summary(r) == {"scope": r.scope, "target": TARGET, "regression": True, "top_cause": COV}
    only_against = _with([_cause(CHURN, -0.03, direction="better"), _cause(TARGET, 0.11)])
    assert wording.top_cause(only_against) is None and result_summary(only_against)["top_cause"] is None


def test_not_significant_says_the_reason_the_numbers_give() -> None:
    includes_zero = _with([_cause(COV, 0.05, significant=False, interval=(-0.01, 0.1)), _cause(TARGET, 0.03)])
    assert "(not significant: its interval includes zero)" in wording.explanation(includes_zero)
    assert "includes zero" in wording.headline(includes_zero)
    ordinary = _with([_cause(COV, 0.05, significant=False, unusual=False, interval=(0.03, 0.07)), _cause(TARGET, 0.03)])
    text = wording.explanation(ordinary)
    assert "(not significant: its own change is within its normal variation)" in text
    assert "includes zero" not in text  # its interval (+3.0 to +7.0 pp) excludes zero
    assert "excludes zero" not in wording.confidence(ordinary) and "normal variation" in wording.confidence(ordinary)


def test_a_large_unexplained_part_is_said_and_a_model_that_explains_nothing_says_what_the_data_support() -> None:
    r = _with([_cause(COV, 0.0, significant=False, unusual=False), _cause(TARGET, 0.08)])
    r = replace(r, model=replace(r.model, quality={"graph_check": {"edges": 8, "supported": 1}}),
                causes=(replace(r.causes[0], evidence=3.1), r.causes[1]))
    text = wording.explanation(r)
    assert "100% is not explained by the modelled causes of bug fix commit ratio." in text
    assert "No upstream node explains the change. The data support 1 of the 8 edges of graph" in text
    assert "changed most unusually: line coverage ratio" in text and "evidence 3.1" in text
    assert "Had " not in text  # no counterfactual for a cause that explains nothing
    assert "no modelled cause explains it" in wording.headline(r)


def test_a_counterfactual_that_changes_nothing_visible_says_about_the_same() -> None:
    r = _with([_cause(COV, 0.05), _cause(TARGET, 0.03)])
    r = replace(r, counterfactuals=(Counterfactual(intervention={COV: 0.81}, target=0.1896, interval=(0.18, 0.2)),))
    text = wording.explanation(r)
    assert "would have been about the same (19%)" in text and "about 19%, not 19%" not in text


def test_within_noise_and_the_good_way_are_worded_apart() -> None:
    calm = _with([_cause(COV, 0.004, significant=False), _cause(TARGET, 0.001)], regression=Regression(False, 0.8))
    calm = replace(calm, observed=Observed(0.11, 0.115, "ratio"))
    assert "within normal noise (score 0.8), so it is not flagged" in wording.explanation(calm)
    assert wording.headline(calm).endswith("within normal noise.")
    better = replace(calm, observed=Observed(0.19, 0.11, "ratio"), regression=Regression(False, -4.0))
    text = wording.explanation(better)
    assert text.startswith("Bug fix commit ratio fell from 19% to 11%") and "moved the good way" in text


def test_a_change_too_small_to_show_reads_as_held() -> None:
    r = replace(_with([_cause(COV, 0.0001), _cause(TARGET, 0.0)]), observed=Observed(0.1901, 0.1903, "ratio"),
                regression=Regression(False, 0.1))
    text = wording.explanation(r)
    assert "held at about 19%" in text and "rose from 19% to 19%" not in text


def test_an_anomaly_is_worded_against_its_expected_value() -> None:
    r = make_result(kind="anomaly")
    text = wording.explanation(replace(r, explanation=""))
    assert re.match(r"Bug fix commit ratio was 19% on \d{4}-\d\d-\d\d, against an expected 11%\.", text)


def test_a_20_week_window_reads_20_weeks() -> None:
    """The current window's labels are its first and last weekly buckets: 20 rows from 6 January end on the
    bucket of 19 May, and the window is 20 weeks long, not 19."""
    r = replace(make_result(), kind="distribution_change",
                window={"baseline": ["2025-06-02T00:00:00Z", "2025-12-29T00:00:00Z"],
                        "current": ["2026-01-05T00:00:00Z", "2026-05-18T00:00:00Z"]})
    assert wording.period(r) == "in the 20 weeks to 2026-05-18"


def _engine_like(observed: Observed, parts: dict[str, float], **kw):
    """A result whose shares are the engine's: each contribution over their sum (which need not be the
    observed change: a model that does not reproduce all of it), the target's own part as unexplained."""
    total = sum(parts.values())
    causes = [Cause(node=n, contribution=v, share=v / total, interval=(v * 1.2, v * 0.8) if v < 0 else (v * 0.8, v * 1.2),
                    significant=False, direction="worse" if v > 0 else "better", evidence=0.5, unusual=False)
              for n, v in parts.items()]
    own = parts[TARGET]
    return replace(make_result(kind="anomaly"), observed=observed, causes=tuple(causes),
                   unexplained=Unexplained(own, own / total), counterfactuals=(), **kw)


def _named_percents(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"(-?\d+)%(?: is not explained| of the (?:rise|fall)|\))", text)]


def test_the_words_read_the_shares_the_table_shows_and_they_add_up() -> None:
    """pytest-dev/pytest at 2026-08-17 and 2026-07-20 (git-quality): the explanation divided by the observed
    change while the table, the chart and the JSON carry the engine's shares, so the text said "110% is not
    explained" beside a table's 96%, and "52%" beside 108%. One denominator: the result's own shares."""
    fell = _engine_like(Observed(0.268826, 0.16, "ratio"), {"newcomer_commit_ratio": -0.004058,
                                                           "commits_count": -0.000587, TARGET: -0.120201},
                        regression=Regression(False, -1.0))
    text = wording.explanation(fell)
    assert "96% is not explained" in text and "110%" not in text
    rose = _engine_like(Observed(0.269426, 0.30, "ratio"), {"commits_count": -0.001061, "newcomer_commit_ratio": 0.000972,
                                                           "active_authors_count": -0.001075, TARGET: 0.015764},
                        regression=Regression(False, 0.4))
    text = wording.explanation(rose)
    assert "108% is not explained" in text and "52%" not in text
    # Whatever the words name, it is a share the table shows, and the table's shares add up to 100%.
    for r in (fell, rose):
        shown = {wording.pct(c.share) for c in r.causes} | {wording.pct(r.unexplained.share)}
        assert all(f"{p}%" in shown for p in _named_percents(wording.explanation(r)))
        assert abs(sum(c.share for c in r.causes) - 1.0) < 1e-9


def test_the_top_cause_share_in_words_is_its_share_in_the_table() -> None:
    """A model that reproduces 115% of the change: the top cause carries 27% of it in the table, and so in words."""
    r = _engine_like(Observed(0.11, 0.19, "ratio"), {COV: 0.0248, INTRO: -0.0, TARGET: 0.0672},
                     regression=Regression(True, 4.2))
    r = replace(r, causes=(replace(r.causes[0], significant=True, unusual=True, direction="worse"), *r.causes[1:]))
    text = wording.explanation(r)
    assert "27% of the rise is attributed to" in text and "73% is not explained" in text
    assert "27% of the rise" in wording.headline(r)


def test_a_top_cause_carrying_more_than_the_change_is_not_said_to_account_for_all_of_it() -> None:
    """A Nezha incident: the callee's latency carried 157% of the rise while a call edge pulled -212%; the text
    said it "accounts for all of the rise" beside a table's 157%."""
    r = _with([_cause(COV, 0.1256), _cause(CHURN, -0.0456, direction="better"), _cause(TARGET, 0.0)])
    text = wording.explanation(r)
    assert "accounts for all" not in text
    assert "157% of the rise is attributed to changes in line coverage ratio (significant), more than the whole rise: " \
        "other parts pulled against it." in text
    assert "157% of the rise" in wording.headline(r) and "more than the whole rise" in wording.headline(r)
    assert "Pulling the other way: test churn ratio (-57%)." in text
    exact = _with([_cause(COV, 0.08), _cause(TARGET, 0.0)])
    assert "accounts for all of the rise" in wording.explanation(exact)


def test_a_counterfactual_far_beyond_the_causes_share_says_why() -> None:
    """psf/requests, the last 26 weeks: newcomers' share (constant 0% in the fit window, 26% now) carried 20% of
    the rise, yet holding it at 0% brought the ratio from 13% to 6.8% (93% of the rise): the way the target
    responds to it changed between the windows as well, and the attribution splits that joint part. The text
    put the two side by side with no word on why."""
    from results import Counterfactual

    shared = replace(_with([_cause(COV, 0.016), _cause(TARGET, 0.064)]),
                     counterfactuals=(Counterfactual(intervention={COV: 0.81}, target=0.115, interval=(0.1, 0.13)),))
    text = wording.explanation(shared)
    assert "would have been about 12%, not 19%. That is more than the 20% attributed to line coverage ratio: how " \
        "bug fix commit ratio responds to it changed between the windows too" in text
    # Where the counterfactual moves the target by about the cause's share, nothing is added; nor in an anomaly,
    # fitted once, where the two come from one model.
    agreeing = replace(shared, counterfactuals=(Counterfactual(intervention={COV: 0.81}, target=0.175,
                                                               interval=(0.16, 0.18)),))
    assert "attributed to line coverage ratio:" not in wording.explanation(agreeing)
    assert "changed between the windows" not in wording.explanation(replace(shared, kind="anomaly"))


def test_counted_things_read_as_whole_numbers_in_one_precision() -> None:
    """'23 lines -> 24.42 lines' read as if lines came in hundredths; averages of counts from 10 up are whole,
    and one line is one line."""
    from results.format import format_delta, format_value, plural

    r = replace(make_result(), levels={"median_change_size_lines": (23.0, 24.42), "commits_count": (14.07, 25.0)},
                units={"median_change_size_lines": "lines", "commits_count": "count"})
    assert wording.cause_movement(r, "median_change_size_lines") == "rising median change size lines (23 lines to 24 lines)"
    assert wording.cause_movement(r, "commits_count") == "rising commits count (14 to 25)"
    assert format_value(1, "lines") == "1 line" and format_delta(1.0, "lines") == "+1 line"
    assert format_value(1.5, "count") == "1.5" and format_value(1234.4, "lines") == "1,234 lines"
    assert plural(1, "commit") == "1 commit" and plural(2, "commit") == "2 commits" and plural(0, "caveat") == "0 caveats"


def test_a_window_that_ends_on_its_last_second_is_not_a_bucket_longer() -> None:
    """`last: 13 weeks` labels its current window 2026-08-31T00:00:00Z to 2026-11-29T23:59:59Z: 13 weeks, not 14."""
    r = replace(make_result(), window={"baseline": ["2026-06-01T00:00:00Z", "2026-08-30T23:59:59Z"],
                                       "current": ["2026-08-31T00:00:00Z", "2026-11-29T23:59:59Z"]})
    assert wording.period(r) == "in the 13 weeks to 2026-11-29"


def test_the_caveat_on_what_the_model_does_not_reproduce_reads_in_the_targets_unit() -> None:
    """pytest, 2026-06-15: the caveat read "add up to 0.07749, not the observed 0.09428" beside a table in points."""
    from rca.engine.investigation import unreproduced

    (line,) = unreproduced(0.07749, 0.09428, 0.09428, "ratio")
    assert line.startswith("the contributions add up to +7.7 pp, not the observed +9.4 pp")
    (hours,) = unreproduced(-3600.0, -7200.0, 7200.0, "seconds")
    assert "-1.0 h, not the observed -2.0 h" in hours
    assert unreproduced(0.0930, 0.09428, 0.09428, "ratio") == []  # within 5% of the change: nothing to say
