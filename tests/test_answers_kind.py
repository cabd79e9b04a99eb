"""The answers kind: answers compared with a reference model, in the parent."""

from __future__ import annotations

import numpy as np
import pytest

from grader.channel import Frame
from grader.kinds.answers import KIND, plain, same
from grader.spec import AnswersTask, Question

TASK = AnswersTask(
    name="quiz",
    title="a quiz",
    questions=(
        Question("start_phase"),
        Question(
            "parity",
            public=({"i": 0, "stages": 2}, {"i": 5, "stages": 2}),
            secret=lambda rng: {"i": int(rng.integers(0, 100)), "stages": int(rng.integers(1, 9))},
            secret_count=5,
        ),
        Question("bandwidth", public=({"bytes_": 8e9, "seconds": 2.0},), rtol=1e-6),
        Question("is_true"),
    ),
    reference="tests.support.answers_reference",
)


def _frame(question: int, answers: list) -> Frame:
    case = TASK.cases[question]
    header = {"type": "case", "case": case.name, "status": "returned", "answers": answers}
    return Frame(header)


def _judge(question: int, values: list):
    case = TASK.cases[question]
    answers = [{"value": plain(v)} for v in values]
    return KIND.judge_call(TASK, dict(case.params), case.seed, _frame(question, answers), 0)


def test_hidden_arguments_come_from_the_seed_and_follow_the_public_ones() -> None:
    sets = TASK.arguments(1, seed=7)
    assert sets[:2] == [{"i": 0, "stages": 2}, {"i": 5, "stages": 2}] and len(sets) == 7
    assert TASK.arguments(1, seed=7) == sets and TASK.arguments(1, seed=8) != sets


def test_right_answers_pass_and_a_wrong_one_names_the_call() -> None:
    sets = TASK.arguments(1, TASK.cases[1].seed)
    right = [(a["i"] // a["stages"]) % 2 for a in sets]
    assert _judge(1, right).passed
    wrong = [*right[:1], 1 - right[1], *right[2:]]
    result = _judge(1, wrong)
    assert not result.passed and result.reason == "wrong_answer"
    assert "parity(i=5, stages=2) returned" in result.mismatches[0]
    assert "the answer is 0" in result.mismatches[0]


def test_hidden_cases_do_not_show_the_answer() -> None:
    sets = TASK.arguments(1, TASK.cases[1].seed)
    answers = [(a["i"] // a["stages"]) % 2 for a in sets[:2]] + [7] * (len(sets) - 2)
    result = _judge(1, answers)
    assert "hidden" in result.mismatches[0] and "the answer is" not in result.mismatches[0]


def test_a_bool_must_be_answered_with_a_bool_and_floats_use_the_tolerance() -> None:
    assert not _judge(3, [0]).passed and _judge(3, [False]).passed
    assert _judge(2, [4e9 * (1 + 1e-7)]).passed and not _judge(2, [4.1e9]).passed
    assert not _judge(2, [float("nan")]).passed


def test_text_answers_ignore_case_and_spaces() -> None:
    assert same(" B ", "b", 0.0) and not same("c", "b", 0.0)


@pytest.mark.parametrize("value", [object(), {1: 1}, list(range(100)), [[[1]]], {"a": object()}])
def test_what_is_not_an_answer_is_refused_with_a_sentence(value) -> None:
    with pytest.raises(TypeError, match=r"answer|longer"):
        plain(value)


def test_lists_of_dicts_are_answers_compared_key_by_key() -> None:
    answer = plain([{"n": 8, "ratio": 0.5}, {"n": 64, "ratio": 0.25}])
    assert same(answer, [{"n": 8, "ratio": 0.5}, {"n": 64, "ratio": 0.25 * (1 + 1e-9)}], 1e-6)
    assert not same(answer, [{"n": 8, "ratio": 0.5}, {"n": 64, "ratio": 0.3}], 1e-6)
    assert not same([{"n": 8}], [{"n": 8, "ratio": 0.5}], 1e-6)


def test_numpy_scalars_are_plain_values() -> None:
    assert plain(np.int64(3)) == 3 and plain(np.float32(0.5)) == 0.5 and plain(np.bool_(True))


def test_a_frame_with_the_wrong_number_of_answers_is_a_protocol_failure() -> None:
    case = TASK.cases[0]
    result = KIND.judge_call(TASK, dict(case.params), case.seed, _frame(0, []), 0)
    assert result.reason == "protocol"


def test_score_is_in_proportion_to_questions_right() -> None:
    from grader.check import CaseResult
    from grader.kinds.base import ScoreContext
    from grader.spec import RubricItem

    cases = [CaseResult("quiz", c.name, {}, i != 1) for i, c in enumerate(TASK.cases)]
    ctx = ScoreContext(RubricItem("quiz", "answers", 20), cases, [], None, False, False, "")
    points, measured, detail = KIND.score_item(ctx)
    assert points == 15 and measured and "3 of 4" in detail and "parity" in detail


# -- numbers are numbers, whether JSON wrote them as ints or floats ----------------------------


def test_an_int_answers_a_float_and_an_integral_float_answers_an_int() -> None:
    assert same(301989888.0, 301989888, 0.0) and same(301989888, 301989888.0, 0.0)
    assert same(8.0, np.int64(8), 0.0) and same(8, np.float64(8.0), 1e-6)
    assert same({"n": 8.0, "ratio": 1}, {"n": 8, "ratio": 1.0}, 1e-6)
    assert not same(8.5, 8, 0.0) and not same(9, 8.0, 0.0)
    assert same(301989888.0 * (1 + 1e-9), 301989888, 1e-6)  # a tolerance holds for ints too
    assert not same(True, 1, 0.0) and not same(1, True, 0.0) and not same("8", 8, 0.0)


def test_same_agrees_with_lab4s_compare() -> None:
    from labs.lab4_moe.configs import compare

    pairs = [(301989888.0, 301989888), (8, 8.0), (8.5, 8), (1.0 + 1e-9, 1), (2, 2.5), (0, 0.0)]
    for rtol in (0.0, 1e-6):
        for got, expected in pairs:
            assert same(got, expected, rtol) == (compare(got, expected, rtol) is None)


@pytest.mark.parametrize(
    "got",
    [10**400, -(10**400), float("inf"), float("nan"), 2**64],
    ids=["1e400", "-1e400", "inf", "nan", "2**64"],
)
def test_values_beyond_a_float_are_wrong_and_never_raise(got) -> None:
    for expected, rtol in ((1, 0.0), (1, 1e-6), (4e9, 1e-6), (4e9, 0.0)):
        assert not same(got, expected, rtol)
    assert same(10**400, 10**400, 0.0)  # exact comparison needs no float


def test_the_lab4_int_vs_float_submission_gets_the_points_of_the_values() -> None:
    # /tmp/redteam34/false_zero_int_vs_float: transformer_params returned a float, extrapolate's
    # rows an "n" as a float; the values were right and the answers scored 0.
    import labs
    from reference.lab4_moe import model

    lab = labs.get("lab4")
    for name, entry, to_float in (
        ("model", "transformer_params", float),
        ("extrapolate", "extrapolate", lambda rows: [{**r, "n": float(r["n"])} for r in rows]),
    ):
        task = lab.task(name)
        index = next(i for i, q in enumerate(task.questions) if q.entry == entry)
        case = task.cases[index]
        sets = task.arguments(index, case.seed)
        answers = [{"value": plain(to_float(getattr(model, entry)(**a)))} for a in sets]
        header = {"type": "case", "case": case.name, "status": "returned", "answers": answers}
        result = KIND.judge_call(task, dict(case.params), case.seed, Frame(header), 0)
        assert result.passed, result.mismatches
