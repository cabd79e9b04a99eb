"""Lab 3, part C: the reference answers, the questions' argument sets, the comparison, and the
known-wrong answer fixtures (each must differ from the reference where it should)."""

from __future__ import annotations

import importlib.util
import json
import math
import re
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from labs.lab3_pipeline import questions as qs
from labs.lab3_pipeline.protocol import MBarrier, Pipe, collect_ops
from reference.lab3_pipeline import solution

ROOT = Path(__file__).resolve().parents[1]
WRONG = ROOT / "reference" / "lab3_pipeline" / "wrong"


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"lab3_answers_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def answer_fixtures() -> list[Path]:
    return sorted(
        p
        for p in WRONG.glob("*.py")
        if re.search(r"^#[ \t]*task:[ \t]*answers[ \t]*$", p.read_text(), re.MULTILINE)
    )


def wrong_calls(module: ModuleType, rng: np.random.Generator | None) -> list[str]:
    """Every question whose answer differs from the reference's on some argument set."""
    found = []
    for q in qs.QUESTIONS:
        for args in qs.argument_sets(q, rng):
            want = getattr(solution, q.name)(**args)
            got = getattr(module, q.name)(**args)
            if qs.judge(q, args, got, want) is not None:
                found.append(q.name)
                break
    return found


# -- the reference ---------------------------------------------------------------------------


def test_the_fixed_answers() -> None:
    assert solution.tma_saves_registers_over_cp_async() is False
    assert solution.threads_that_issue_a_tma_copy() == 1
    assert solution.producer_start_phase() == 1
    assert solution.consumer_start_phase() == 0
    assert solution.why_not_two_phases_ahead() == "C"


@pytest.mark.parametrize(
    ("i", "S", "consumer"),
    [(0, 1, 0), (1, 1, 1), (2, 1, 0), (3, 2, 1), (4, 2, 0), (5, 3, 1), (7, 4, 1), (8, 4, 0),
     (12, 4, 1), (9, 5, 1), (17, 8, 0)],
)  # fmt: skip
def test_parities_on_public_arguments(i: int, S: int, consumer: int) -> None:
    assert solution.consumer_parity(i, S) == consumer
    assert solution.producer_parity(i, S) == 1 - consumer


def test_parities_match_what_the_reference_programs_wait_for() -> None:
    """The answers and part A agree: the parity of every wait the reference programs yield."""
    for stages in range(1, 7):
        tiles = 4 * stages + 3
        pipe = Pipe(stages, tiles)
        for program, barrier, formula in (
            (solution.consumer, "full", solution.consumer_parity),
            (solution.producer, "empty", solution.producer_parity),
        ):
            waits = [op for op in collect_ops(program, pipe, stages, tiles, 10 * tiles)
                     if op.name == "wait"]  # fmt: skip
            assert [(w.barrier, w.index, w.parity) for w in waits] == [
                (barrier, i % stages, formula(i, stages)) for i in range(tiles)
            ]
            assert waits[0].parity == (
                solution.consumer_start_phase()
                if barrier == "full"
                else solution.producer_start_phase()
            )


def test_little_s_law_on_the_measured_h200_figures() -> None:
    # 4197 GB/s (read + write) over 132 SMs is 31.8 B/ns per SM; times 348 ns: ~10.8 KiB.
    got = solution.bytes_in_flight_per_sm(4197e9, 348e-9, 132)
    assert got == pytest.approx(11064.818, rel=1e-6)
    assert 10 * 1024 < got < 11 * 1024
    assert solution.bytes_in_flight_per_sm(1e12, 1e-6, 100) == pytest.approx(10_000.0)


def test_why_not_two_phases_ahead_is_what_the_barrier_does() -> None:
    """Choice C, on the model: a wait meant for phase k + 2 returns once phase k completes."""
    bar = MBarrier(1)
    bar.arrive()  # phase 0 completes; phase 1 open
    # A program that wants phase 2 (parity 0) two phases ahead gets phase 0 instead.
    assert bar.try_wait_parity(2 % 2)
    question = qs.BY_NAME["why_not_two_phases_ahead"]
    letters = [letter for letter, _ in question.choices]
    assert letters == sorted(set(letters)) and solution.why_not_two_phases_ahead() in letters
    assert "k + 2" in dict(question.choices)[solution.why_not_two_phases_ahead()]


@pytest.mark.parametrize("seed", range(5))
def test_the_reference_on_random_arguments(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(200):
        args = qs.BY_NAME["consumer_parity"].secret(rng)
        i, S = args["i"], args["S"]
        assert solution.consumer_parity(**args) == (i // S) % 2
        assert solution.producer_parity(**args) == 1 - (i // S) % 2
        little = qs.BY_NAME["bytes_in_flight_per_sm"].secret(rng)
        want = little["bandwidth_bytes_per_s"] * little["latency_s"] / little["sms"]
        assert math.isclose(solution.bytes_in_flight_per_sm(**little), want, rel_tol=1e-12)


# -- the questions ---------------------------------------------------------------------------


def test_every_question_has_a_stub_and_a_reference_of_the_same_signature() -> None:
    import inspect

    from labs.lab3_pipeline import student

    for q in qs.QUESTIONS:
        assert q.kind in qs.KINDS and q.text.endswith(".")
        ours, theirs = getattr(solution, q.name), getattr(student, q.name)
        assert list(inspect.signature(ours).parameters) == list(
            inspect.signature(theirs).parameters
        )
        for args in q.public:
            assert set(args) == set(inspect.signature(ours).parameters)
        with pytest.raises(NotImplementedError):
            theirs(**q.public[0])
        if q.kind == "float":
            assert q.rtol == 1e-6
    assert [q.name for q in qs.QUESTIONS] == list(qs.BY_NAME)


def test_secret_arguments_are_plain_reproducible_and_varied() -> None:
    for q in qs.QUESTIONS:
        if q.secret is None:
            assert q.secrets == 0
            continue
        first = qs.argument_sets(q, np.random.default_rng(42))
        again = qs.argument_sets(q, np.random.default_rng(42))
        other = qs.argument_sets(q, np.random.default_rng(43))
        assert first == again and first != other
        assert len(first) == len(q.public) + q.secrets
        json.dumps(first)  # plain ints and floats, no numpy scalars
        assert all(type(v) in (int, float) for args in first for v in args.values())


def test_the_questions_module_does_not_see_the_reference() -> None:
    text = (ROOT / "labs" / "lab3_pipeline" / "questions.py").read_text()
    assert "import reference" not in text and "from reference" not in text


def test_judge_compares_exactly_and_strictly() -> None:
    by = qs.BY_NAME
    assert qs.judge(by["tma_saves_registers_over_cp_async"], {}, False, False) is None
    assert qs.judge(by["tma_saves_registers_over_cp_async"], {}, np.bool_(False), False) is None
    assert "True or False" in qs.judge(by["tma_saves_registers_over_cp_async"], {}, 0, False)
    assert qs.judge(by["threads_that_issue_a_tma_copy"], {}, np.int64(1), 1) is None
    assert "an int" in qs.judge(by["threads_that_issue_a_tma_copy"], {}, True, 1)
    assert "an int" in qs.judge(by["threads_that_issue_a_tma_copy"], {}, 1.0, 1)
    assert qs.judge(by["threads_that_issue_a_tma_copy"], {}, 32, 1) is not None
    parity = by["consumer_parity"]
    wrong = qs.judge(parity, {"i": 5, "S": 3}, 0, 1)
    assert wrong == "consumer_parity(i=5, S=3) returned 0"
    assert qs.judge(parity, {"i": 5, "S": 3}, 0, 1, reveal=True).endswith("expected 1")
    choice = by["why_not_two_phases_ahead"]
    assert qs.judge(choice, {}, "C", "C") is None
    assert "one of 'A', 'B', 'C', 'D'" in qs.judge(choice, {}, "c", "C")
    assert qs.judge(choice, {}, "A", "C") is not None


def test_judge_on_floats() -> None:
    q = qs.BY_NAME["bytes_in_flight_per_sm"]
    args = q.public[0]
    want = solution.bytes_in_flight_per_sm(**args)
    assert qs.judge(q, args, want * (1 + 5e-7), want) is None
    assert qs.judge(q, args, np.float32(want), want) is None  # float32 rounding: ~6e-8
    assert qs.judge(q, args, want * (1 + 2e-6), want) is not None
    assert qs.judge(q, args, round(want), want) is not None  # 11065 vs 11064.82: 2e-5
    assert "finite" in qs.judge(q, args, float("nan"), want)
    assert "finite" in qs.judge(q, args, float("inf"), want)
    assert "a number" in qs.judge(q, args, "11065", want)
    assert "a number" in qs.judge(q, args, True, want)


# -- the known-wrong answer fixtures ---------------------------------------------------------

EXPECTED_WRONG = {
    "answer_tma_saves_registers": "tma_saves_registers_over_cp_async",
    "answer_parity_for_two_stages": "consumer_parity",
    "answer_bytes_in_kib": "bytes_in_flight_per_sm",
}


def test_the_answer_fixtures_are_the_expected_ones() -> None:
    assert {p.stem for p in answer_fixtures()} == set(EXPECTED_WRONG)
    for path in answer_fixtures():
        assert re.search(r"^# expect: less wrong_answer$", path.read_text(), re.MULTILINE)


@pytest.mark.parametrize("path", answer_fixtures(), ids=lambda p: p.stem)
def test_each_answer_fixture_is_wrong_on_public_arguments_and_only_there(path: Path) -> None:
    module = load(path)
    assert wrong_calls(module, None) == [EXPECTED_WRONG[path.stem]]
    assert wrong_calls(module, np.random.default_rng(7)) == [EXPECTED_WRONG[path.stem]]


def test_the_two_stage_parity_is_right_for_two_stages_only() -> None:
    module = load(WRONG / "answer_parity_for_two_stages.py")
    for i in range(50):
        assert module.consumer_parity(i, 2) == solution.consumer_parity(i, 2)
    assert any(module.consumer_parity(i, 3) != solution.consumer_parity(i, 3) for i in range(50))


def test_the_reference_passes_its_own_judge_everywhere() -> None:
    assert wrong_calls(solution, np.random.default_rng(0)) == []


def test_the_handout_asks_the_same_questions() -> None:
    text = " ".join((ROOT / "labs" / "lab3_pipeline" / "README.md").read_text().split())
    for q in qs.QUESTIONS:
        assert f"`{q.name}(" in text, q.name
        for letter, choice in q.choices:
            assert f"**{letter}.** {' '.join(choice.split())}" in text, letter
    for heading in ("## Goal", "## Key concepts", "## Part B", "## Little's law"):
        assert heading in text
