"""Lab 3, part C: the short-answer questions, as data the grader and the handout share.

Each question is one function in ``student.py``. The grader calls it with each public
argument set and with secret ones drawn by ``secret`` from a seeded generator, calls the
reference the same way, and compares: exactly for bool, int and choice answers, with a
relative tolerance for floats (``judge`` below does both and says what is wrong).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

KINDS = ("bool", "int", "float", "choice")
FLOAT_RTOL = 1e-6


@dataclass(frozen=True)
class Question:
    name: str  # the function in student.py
    text: str
    kind: str  # one of KINDS
    choices: tuple[tuple[str, str], ...] = ()  # (letter, text), for "choice"
    public: tuple[dict[str, Any], ...] = ({},)  # keyword arguments of the public calls
    secret: Callable[[np.random.Generator], dict[str, Any]] | None = None
    secrets: int = 0  # how many secret argument sets to draw
    rtol: float = 0.0

    def signature(self) -> str:
        names = ", ".join(self.public[0]) if self.public and self.public[0] else ""
        return f"{self.name}({names})"


def _parity_args(rng: np.random.Generator) -> dict[str, Any]:
    return {"i": int(rng.integers(0, 10_000)), "S": int(rng.integers(1, 17))}


def _little_args(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "bandwidth_bytes_per_s": float(rng.uniform(0.2e12, 8e12)),
        "latency_s": float(rng.uniform(80e-9, 4e-6)),
        "sms": int(rng.integers(8, 200)),
    }


# Tile i, S stages: enough cases that no formula hard-wired for one S survives.
_PARITY_CASES = tuple(
    {"i": i, "S": s}
    for i, s in (
        (0, 1),
        (1, 1),
        (2, 1),
        (3, 2),
        (4, 2),
        (6, 2),
        (5, 3),
        (6, 3),
        (7, 4),
        (8, 4),
        (12, 4),
        (9, 5),
        (17, 8),
    )
)

QUESTIONS: tuple[Question, ...] = (
    Question(
        "tma_saves_registers_over_cp_async",
        'True or False: "TMA saves registers compared with cp.async, because cp.async passes '
        'the data through registers." Return True if the claim is right, False if not.',
        "bool",
    ),
    Question(
        "threads_that_issue_a_tma_copy",
        "How many threads issue one TMA copy of a tile (one cp.async.bulk.tensor)? Return an int.",
        "int",
    ),
    Question(
        "producer_start_phase",
        "In CUTLASS's protocol, with which parity does the producer wait on empty[s] the very "
        "first time it uses stage s? Return 0 or 1.",
        "int",
    ),
    Question(
        "consumer_start_phase",
        "With which parity does the consumer wait on full[s] the very first time it uses stage "
        "s? Return 0 or 1.",
        "int",
    ),
    Question(
        "consumer_parity",
        "With S stages, tile i uses stage i % S. Which parity does the consumer pass to "
        "full[i % S].wait before reading tile i? Return 0 or 1.",
        "int",
        public=_PARITY_CASES,
        secret=_parity_args,
        secrets=20,
    ),
    Question(
        "producer_parity",
        "Which parity does the producer pass to empty[i % S].wait before copying tile i into "
        "stage i % S? Return 0 or 1.",
        "int",
        public=_PARITY_CASES,
        secret=_parity_args,
        secrets=20,
    ),
    Question(
        "bytes_in_flight_per_sm",
        "A GPU moves bandwidth_bytes_per_s bytes per second in all, spread evenly over sms "
        "SMs, and every request takes latency_s seconds from issue to arrival. By Little's "
        "law, how many bytes must each SM have in flight to sustain that? Return bytes (a "
        "float).",
        "float",
        public=(
            # Measured on the lent H200 (2026-12-01): copy ceiling 4197 GB/s (read + write),
            # 132 SMs, idle DRAM latency 348 ns.
            {"bandwidth_bytes_per_s": 4197e9, "latency_s": 348e-9, "sms": 132},
            {"bandwidth_bytes_per_s": 2e12, "latency_s": 500e-9, "sms": 108},
            {"bandwidth_bytes_per_s": 1e12, "latency_s": 1e-6, "sms": 100},
        ),
        secret=_little_args,
        secrets=10,
        rtol=FLOAT_RTOL,
    ),
    Question(
        "why_not_two_phases_ahead",
        "Why may a program never wait on an mbarrier for a phase two (or more) ahead of the "
        "phase the barrier is in, so that a ring of S stages lets the producer run at most "
        "one round ahead of the consumer? Return the letter of the right answer, a capital "
        "letter, as a str.",
        "choice",
        choices=(
            (
                "A",
                "try_wait.parity gives up after a hardware time-out, and a wait that long "
                "would always time out.",
            ),
            (
                "B",
                "The arrival count is fixed at mbarrier.init, so a barrier cannot count the "
                "arrivals of two phases at once.",
            ),
            (
                "C",
                "The barrier keeps only its current phase and, by implication, the previous "
                "one: a wait names a phase by its parity alone, so phase k and phase k + 2 look "
                "the same, and a wait meant for phase k + 2 returns as soon as phase k has "
                "completed.",
            ),
            ("D", "The TMA unit can track at most two copies per barrier."),
        ),
    ),
)

BY_NAME: dict[str, Question] = {q.name: q for q in QUESTIONS}


def argument_sets(question: Question, rng: np.random.Generator | None = None) -> list[dict]:
    """The public argument sets, then ``question.secrets`` secret ones drawn from ``rng``
    (none without a generator)."""
    sets = [dict(args) for args in question.public]
    if rng is not None and question.secret is not None:
        sets += [question.secret(rng) for _ in range(question.secrets)]
    return sets


def _call(question: Question, args: dict[str, Any]) -> str:
    shown = ", ".join(f"{k}={v!r}" for k, v in args.items())
    return f"{question.name}({shown})"


def judge(
    question: Question, args: dict[str, Any], got: Any, want: Any, *, reveal: bool = False
) -> str | None:
    """None when ``got`` is right, else a sentence saying what is wrong (with the expected
    value only when ``reveal``: leave it out for secret arguments)."""
    call = _call(question, args)
    expected = f", expected {want!r}" if reveal else ""
    kind = question.kind
    if kind == "bool":
        if not isinstance(got, (bool, np.bool_)):
            return f"{call} must return True or False, not {got!r} ({type(got).__name__})"
        return None if bool(got) == want else f"{call} returned {got!r}{expected}"
    if kind == "int":
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, numbers.Integral):
            return f"{call} must return an int, not {got!r} ({type(got).__name__})"
        return None if int(got) == want else f"{call} returned {got!r}{expected}"
    if kind == "float":
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, numbers.Real):
            return f"{call} must return a number, not {got!r} ({type(got).__name__})"
        value = float(got)
        if not math.isfinite(value):
            return f"{call} returned {value!r}, not a finite number"
        # not (err <= tol): NaN never passes
        if not abs(value - want) <= question.rtol * abs(want):
            return f"{call} returned {value!r}{expected} (relative tolerance {question.rtol:g})"
        return None
    if kind == "choice":
        letters = [letter for letter, _ in question.choices]
        if not isinstance(got, str) or got not in letters:
            return f"{call} must return one of {', '.join(map(repr, letters))}, not {got!r}"
        return None if got == want else f"{call} returned {got!r}{expected}"
    raise ValueError(f"unknown question kind {kind!r}")
