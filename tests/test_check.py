import numpy as np

from grader.check import compare
from grader.spec import DEFAULT_TOLERANCES, Tolerance

FP32 = DEFAULT_TOLERANCES["float32"]


def test_values_within_tolerance_pass_and_report_how_close_they_came():
    expected = np.linspace(-3, 3, 101)
    got = (expected * (1 + 1e-7)).astype(np.float32)
    result = compare(got, expected, np.abs(expected), FP32)
    assert result.ok and 0 < result.worst_error_over_tolerance < 1


def test_nan_never_passes_even_against_a_nan_expectation():
    expected = np.array([1.0, np.nan])
    got = np.array([1.0, np.nan], dtype=np.float32)
    result = compare(got, expected, np.abs(expected), FP32)
    assert not result.ok


def test_the_first_mismatches_are_shown_by_index_with_got_and_expected():
    expected = np.zeros(100)
    got = np.zeros(100, dtype=np.float32)
    got[[3, 50, 51, 52, 53, 54, 99]] = 1.0
    result = compare(got, expected, np.abs(expected), FP32)
    assert not result.ok and result.reason == "wrong_answer" and result.bad == 7
    assert len(result.mismatches) == 5
    assert result.mismatches[0].startswith("at (3,): got 1, expected 0")


def test_an_output_that_still_holds_the_poison_everywhere_is_called_unwritten():
    got = np.full(10, np.nan, dtype=np.float32)
    result = compare(got, np.ones(10), np.ones(10), FP32)
    assert result.reason == "unwritten"


def test_a_partly_unwritten_output_points_at_the_first_missed_element():
    got = np.ones(10, dtype=np.float32)
    got[7:] = np.nan
    result = compare(got, np.ones(10), np.ones(10), FP32)
    assert result.reason == "nan" and "flat index 7" in result.message


def test_inf_passes_only_where_inf_is_expected():
    expected = np.array([np.inf, 1.0])
    assert compare(np.array([np.inf, 1.0], np.float32), expected, np.abs(expected), FP32).ok
    assert not compare(np.array([np.inf, np.inf], np.float32), expected, np.abs(expected), FP32).ok


def test_the_tolerance_scale_lets_a_cancelling_sum_pass_but_not_a_real_error():
    # a*x + y with a*x ~ -y: the result is tiny, the rounding is relative to the terms.
    terms = np.array([1e4, 1e4])
    expected = np.array([1e-3, 1e-3])
    got = np.array([1e-3 + 5e-4, 1e-3 + 1.0], dtype=np.float32)
    result = compare(got, expected, terms, Tolerance(rtol=1.3e-6, atol=1e-5))
    assert result.bad == 1 and result.mismatches[0].startswith("at (1,)")
