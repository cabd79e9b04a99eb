import math
import time

import numpy as np
import pytest

from grader.timing import (
    StopRule,
    TimingStats,
    quantile,
    relative_standard_error,
    replaced_timing_functions,
    summarize,
    timing_snapshot,
)


@pytest.mark.parametrize("q", [0.0, 0.25, 0.5, 0.75, 1.0])
def test_quantile_matches_numpy(q):
    values = sorted(np.random.default_rng(0).exponential(size=37))
    assert quantile(values, q) == pytest.approx(np.quantile(values, q))


def test_summary_gives_median_iqr_and_keeps_samples():
    samples = [5e-6, 1e-6, 3e-6, 2e-6, 4e-6]
    stats = summarize(samples, "fixed count")
    assert stats.median_s == 3e-6 and stats.q1_s == 2e-6 and stats.q3_s == 4e-6
    assert stats.iqr_s == pytest.approx(2e-6) and stats.n == 5 and stats.min_s == 1e-6
    assert stats.samples_s == samples
    assert TimingStats.from_dict(stats.to_dict()) == stats


def test_relative_standard_error():
    assert relative_standard_error([1.0]) == math.inf
    values = [1.0, 2.0, 3.0, 4.0]
    expected = np.std(values, ddof=1) / 2 / np.mean(values)
    assert relative_standard_error(values) == pytest.approx(expected)


def test_adaptive_rule_stops_on_the_error_target_only_after_the_minimum():
    rule = StopRule(min_samples=10, max_samples=100, target_rse=0.01, time_cap_s=5)
    steady = [1.0] * 9
    assert rule.done(steady, 0.0) is None
    assert rule.done([*steady, 1.0], 0.0) == "standard error target"
    noisy = [1.0, 3.0] * 10
    assert rule.done(noisy, 0.0) is None
    assert rule.done(noisy, 5.0) == "time cap"
    assert rule.done([1.0, 3.0] * 50, 0.0) == "sample cap"


def test_fixed_rule_takes_exactly_n():
    rule = StopRule(fixed=3)
    assert rule.done([1.0, 1.0], 100.0) is None
    assert rule.done([1.0, 1.0, 1.0], 0.0) == "fixed count"


def test_a_replaced_clock_is_noticed(monkeypatch):
    snapshot = timing_snapshot()
    assert replaced_timing_functions(snapshot) == []
    monkeypatch.setattr(time, "perf_counter", lambda: 0.0)
    assert replaced_timing_functions(snapshot) == ["time.perf_counter"]
