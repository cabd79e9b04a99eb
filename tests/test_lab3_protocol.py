"""Lab 3, part A: the mbarrier model, the op API and its JSON form, and the checker.

The checker must pass the reference on every small (S, K) it can search exhaustively, fail
every known-wrong fixture in reference/lab3_pipeline/wrong/ for the code its header names,
and report a schedule that is really the shortest: a brute-force search over every
interleaving, with an independent simulator written here on top of MBarrier, agrees.

Timings seen on this machine's CPU (no GPU; Python 3.11; best of 3), for the record:
- the reference on the grader's cases (S, K) = (1, 3), (2, 5), (3, 7), (4, 9): 22, 100, 306
  and 800 reachable states in 0.2, 0.4, 1.1 and 3.2 ms, every state checked;
- the reference plus all 14 fixtures on those four cases: 35 ms of CPU in all; no fixture
  case took more than 3.3 ms (the protocol fixtures fail within 0 to 18 steps);
- the reference at (8, 20): 28 477 states, 0.28 s exhaustive (about 100 000 states/s); at
  (8, 30): 48 867 states, 0.50 s, just under the default cap of 50 000;
- past the cap (max_states=500), 200 random walks took 0.10 s at (4, 64), 0.32 s at (4, 200)
  and 0.11 s at (8, 64).
So a case costs at most ~0.5 s of search plus the walks; ``test_a_whole_lab_check_is_fast``
keeps the grader's set under 2 s.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import time
from pathlib import Path
from types import ModuleType

import pytest

from labs.lab3_pipeline import explore as ex
from labs.lab3_pipeline import protocol as pr
from labs.lab3_pipeline.protocol import MBarrier, MBarrierError, Op, Pipe, ProgramError
from reference.lab3_pipeline import solution

ROOT = Path(__file__).resolve().parents[1]
WRONG = ROOT / "reference" / "lab3_pipeline" / "wrong"
TILE = 4096


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"lab3_fixture_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def header(path: Path) -> tuple[str, frozenset[str], str]:
    text = path.read_text()[:4000]
    expect = re.search(r"^#[ \t]*expect:[ \t]*(\w+)[ \t]*(.*)$", text, re.MULTILINE)
    task = re.search(r"^#[ \t]*task:[ \t]*(\w+)[ \t]*$", text, re.MULTILINE)
    assert expect and task, f"{path.name} needs '# expect:' and '# task:' lines"
    codes = frozenset(c.strip() for c in expect.group(2).split("|") if c.strip())
    return expect.group(1), codes, task.group(1)


FIXTURES = sorted(p for p in WRONG.glob("*.py") if p.name != "__init__.py")
PROTOCOL_FIXTURES = [p for p in FIXTURES if header(p)[2] == "protocol"]
ANSWER_FIXTURES = [p for p in FIXTURES if header(p)[2] == "answers"]


def ops_of(module, stages: int, tiles: int) -> tuple[list[Op], list[Op]]:
    pipe = Pipe(stages, tiles, TILE)
    limit = pr.default_max_ops(stages, tiles)
    return tuple(
        pr.collect_ops(p, pipe, stages, tiles, limit) for p in (module.producer, module.consumer)
    )


# -- the mbarrier ----------------------------------------------------------------------------


def test_a_fresh_barrier_has_completed_only_the_phase_before_phase_0() -> None:
    bar = MBarrier(1)
    assert (bar.phase, bar.pending, bar.tx, bar.phase_bit) == (0, 1, 0, 0)
    assert bar.try_wait_parity(0) is False  # phase 0 is open
    assert bar.try_wait_parity(1) is True  # "the previous phase" counts as completed


def test_a_phase_completes_on_its_last_arrival_and_the_bit_flips() -> None:
    bar = MBarrier(2)
    bar.arrive()
    assert (bar.phase, bar.pending) == (0, 1)
    assert not bar.try_wait_parity(0)
    bar.arrive()
    assert (bar.phase, bar.pending, bar.tx, bar.phase_bit) == (1, 2, 0, 1)
    assert bar.try_wait_parity(0) and not bar.try_wait_parity(1)


def test_arrive_expect_tx_waits_for_the_bytes() -> None:
    bar = MBarrier(1)
    bar.arrive_expect_tx(4096)
    assert (bar.phase, bar.pending, bar.tx) == (0, 0, 4096)
    assert not bar.try_wait_parity(0)
    bar.complete_tx(1024)
    assert (bar.phase, bar.tx) == (0, 3072)
    bar.complete_tx(3072)
    assert (bar.phase, bar.pending, bar.tx) == (1, 1, 0)
    assert bar.try_wait_parity(0)


def test_complete_tx_may_come_first_and_the_tx_count_goes_negative() -> None:
    bar = MBarrier(1)
    bar.complete_tx(4096)  # the copy landed before the producer announced it
    assert (bar.phase, bar.pending, bar.tx) == (0, 1, -4096)
    assert not bar.try_wait_parity(0)
    bar.arrive_expect_tx(4096)
    assert (bar.phase, bar.pending, bar.tx) == (1, 1, 0)


def test_expect_tx_alone_does_not_arrive() -> None:
    bar = MBarrier(1)
    bar.expect_tx(100)
    assert (bar.phase, bar.pending, bar.tx) == (0, 1, 100)
    bar.arrive()
    assert bar.phase == 0  # arrivals done, 100 B outstanding
    bar.complete_tx(100)
    assert bar.phase == 1


def test_the_barrier_keeps_only_the_current_and_previous_phase() -> None:
    bar = MBarrier(1)
    for completed in range(1, 6):
        bar.arrive()
        assert bar.phase == completed
        # wait(p) is true iff the *latest* completed phase has parity p; whether phase
        # `completed - 2` (same parity as the open one) ever completed cannot be told.
        assert bar.try_wait_parity((completed - 1) % 2)
        assert not bar.try_wait_parity(completed % 2)


def test_undefined_operations_are_refused() -> None:
    bar = MBarrier(1)
    bar.arrive_expect_tx(64)
    with pytest.raises(MBarrierError) as error:
        bar.arrive()  # the phase has its one arrival and waits for bytes
    assert error.value.kind == "extra_arrive"
    with pytest.raises(MBarrierError) as error:
        MBarrier(1).expect_tx(pr.TX_LIMIT + 1)
    assert error.value.kind == "tx_range"
    with pytest.raises(ValueError):
        MBarrier(0)
    with pytest.raises(ValueError):
        MBarrier(True)


# -- the reference ---------------------------------------------------------------------------


@pytest.mark.parametrize("stages", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("tiles", [1, 2, 3, 4, 5, 7, 9])
def test_the_reference_is_correct_in_every_order(stages: int, tiles: int) -> None:
    result = ex.check(solution.producer, solution.consumer, stages, tiles)
    assert result.ok, result.message
    assert result.exhaustive and result.code is None and result.schedule == []
    assert result.states > 1


@pytest.mark.parametrize(("stages", "tiles"), [(4, 64), (8, 64), (2, 300)])
def test_the_reference_survives_random_walks_past_the_cap(stages: int, tiles: int) -> None:
    result = ex.check(
        solution.producer, solution.consumer, stages, tiles, max_states=500, random_walks=50
    )
    assert result.ok, result.message
    assert not result.exhaustive and result.walks == 50 and result.states == 500
    assert "not a proof" in result.message


def test_other_tile_sizes() -> None:
    for tile_bytes in (16, 128 * 1024, pr.TX_LIMIT // 16 * 16):
        result = ex.check(solution.producer, solution.consumer, 2, 4, tile_bytes)
        assert result.ok, (tile_bytes, result.message)


# -- the known-wrong fixtures ----------------------------------------------------------------


def test_the_fixture_set_covers_the_brief() -> None:
    names = {p.stem for p in FIXTURES}
    assert len(PROTOCOL_FIXTURES) >= 8 and len(ANSWER_FIXTURES) >= 3
    for needed in (
        "producer_wrong_start_phase",
        "consumer_parity_off_by_one",
        "release_before_use",
        "one_barrier_both_ways",
        "missing_expect_tx",
        "holds_two_stages",
        "endless_producer",
        "yields_a_barrier",
    ):
        assert needed in names
    for path in FIXTURES:
        outcome, codes, _ = header(path)
        # A protocol fixture scores 0 on its task; an answer fixture loses a question's share.
        wanted = "less" if path in ANSWER_FIXTURES else "zero"
        assert outcome == wanted and codes, path.name
        first = path.read_text().splitlines()[0]
        assert first.startswith("# ") and not first.startswith("# expect"), path.name


@pytest.mark.parametrize("path", PROTOCOL_FIXTURES, ids=lambda p: p.stem)
def test_every_protocol_fixture_fails_for_its_code(path: Path) -> None:
    _, codes, _ = header(path)
    module = load(path)
    failures = []
    for stages, tiles in ex.DEFAULT_CASES:
        result = ex.check(module.producer, module.consumer, stages, tiles)
        if not result.ok:
            assert result.code in codes, (stages, tiles, result.code, result.message)
            assert result.code in ex.CODES
            assert result.message and json.dumps(result.to_dict())
            failures.append((stages, tiles))
    assert failures, f"{path.name} passed every case"


@pytest.mark.parametrize("path", ANSWER_FIXTURES, ids=lambda p: p.stem)
def test_answer_fixtures_have_a_correct_protocol(path: Path) -> None:
    module = load(path)
    for stages, tiles in ex.DEFAULT_CASES:
        assert ex.check(module.producer, module.consumer, stages, tiles).ok


def test_the_s1_deadlock_shows_only_at_one_stage() -> None:
    module = load(WRONG / "holds_two_stages.py")
    assert ex.check(module.producer, module.consumer, 1, 3).code == "protocol_deadlock"
    for stages, tiles in ((2, 5), (3, 7), (4, 9), (1, 1)):
        assert ex.check(module.producer, module.consumer, stages, tiles).ok


def test_a_schedule_reads_like_the_handout() -> None:
    module = load(WRONG / "release_before_use.py")
    result = ex.check(module.producer, module.consumer, 1, 2)
    assert result.code == "protocol_overwrite"
    text = "\n".join(result.schedule)
    assert "1. producer: wait empty[0] parity 1 -> returns at once" in text
    assert "copy of tile 0 lands in stage 0 (complete_tx 4096 B on full[0])" in text
    assert "consumer: arrive on empty[0] -> phase 0 of empty[0] completes" in text
    assert result.schedule[-1].endswith("<- FAILS HERE")
    assert all(line.startswith(f"{n}. ") for n, line in enumerate(result.schedule, 1))
    assert len(result.schedule) == len(result.actors)


def test_a_deadlock_says_who_waits_for_what() -> None:
    module = load(WRONG / "producer_wrong_start_phase.py")
    result = ex.check(module.producer, module.consumer, 2, 5)
    assert result.code == "protocol_deadlock" and result.actors == []
    assert "producer waits on empty[0] parity 0" in result.message
    assert "consumer waits on full[0] parity 0" in result.message
    assert result.schedule == ["then nobody can move  <- FAILS HERE"]


# -- the shortest schedule, checked by brute force --------------------------------------------


class Naive:
    """An independent simulator: MBarrier objects, plain lists, judges written afresh."""

    def __init__(self, producer: list[Op], consumer: list[Op], stages: int) -> None:
        self.programs = (producer, consumer)
        self.pos = [0, 0]
        self.bars = {
            (kind, s): MBarrier(1, f"{kind}[{s}]")
            for kind in ("full", "empty")
            for s in range(stages)
        }
        self.stage: list[int | None] = [None] * stages
        self.flying: list[Op] = []
        self.read = 0
        self.last: dict[tuple[int, str, int], int] = {}

    def clone(self) -> Naive:
        twin = copy.copy(self)
        twin.pos, twin.stage, twin.flying = list(self.pos), list(self.stage), list(self.flying)
        twin.bars = {key: copy.copy(bar) for key, bar in self.bars.items()}
        twin.last = dict(self.last)
        return twin

    def actors(self) -> list[str]:
        out = []
        for who, name in enumerate(("producer", "consumer")):
            ops = self.programs[who]
            if self.pos[who] < len(ops):
                op = ops[self.pos[who]]
                if op.name != "wait" or self.bars[op.barrier, op.index].try_wait_parity(op.parity):
                    out.append(name)
        return out + [f"copy {op.tile}" for op in self.flying]

    def stuck(self) -> bool:
        done = all(self.pos[w] == len(self.programs[w]) for w in (0, 1))
        return not self.actors() and not done

    def step(self, actor: str) -> str | None:
        if actor.startswith("copy"):
            op = next(o for o in self.flying if f"copy {o.tile}" == actor)
            self.flying.remove(op)
            self.stage[op.stage] = op.tile
            return self._bar(lambda: self.bars[op.barrier, op.index].complete_tx(op.nbytes))
        who = 0 if actor == "producer" else 1
        op = self.programs[who][self.pos[who]]
        self.pos[who] += 1
        bar = self.bars.get((op.barrier, op.index))
        if op.name == "wait":
            returned = bar.phase - 1
            if self.last.get((who, op.barrier, op.index)) == returned:
                return "protocol_phase_alias"
            self.last[who, op.barrier, op.index] = returned
        elif op.name == "arrive":
            return self._bar(bar.arrive)
        elif op.name == "arrive_expect_tx":
            return self._bar(lambda: bar.arrive_expect_tx(op.nbytes))
        elif op.name == "expect_tx":
            return self._bar(lambda: bar.expect_tx(op.nbytes))
        elif op.name == "copy":
            held = self.stage[op.stage]
            if any(o.stage == op.stage for o in self.flying) or (
                held is not None and held >= self.read
            ):
                return "protocol_overwrite"
            self.flying.append(op)
        else:
            if self.stage[op.stage] != op.tile:
                return "protocol_read_before_landed"
            self.read += 1
        return None

    @staticmethod
    def _bar(action) -> str | None:
        try:
            action()
        except MBarrierError as error:
            return "protocol_extra_arrive" if error.kind == "extra_arrive" else "tx_range"
        return None


def brute_force_shortest(producer, consumer, stages, limit) -> tuple[int, set[str]]:
    """Every interleaving, level by level, no state merging: the first length at which some
    schedule fails (a step breaks a rule, or the state it reaches is stuck), and the codes."""
    level = [Naive(producer, consumer, stages)]
    if level[0].stuck():
        return 0, {"stuck"}
    for length in range(1, limit + 1):
        codes: set[str] = set()
        nxt = []
        for sim in level:
            for actor in sim.actors():
                child = sim.clone()
                code = child.step(actor)
                if code is not None:
                    codes.add(code)
                elif child.stuck():
                    codes.add("stuck")
                else:
                    nxt.append(child)
        if codes:
            return length, codes
        level = nxt
    return -1, set()


DYNAMIC = [
    "consumer_parity_off_by_one",
    "release_before_use",
    "one_barrier_both_ways",
    "missing_expect_tx",
    "holds_two_stages",
    "no_phase_flip",
    "expects_half_a_tile",
    "double_arrive",
    "producer_wrong_start_phase",
]


@pytest.mark.parametrize("name", DYNAMIC)
@pytest.mark.parametrize(("stages", "tiles"), [(1, 2), (1, 3), (2, 3), (2, 4), (3, 4)])
def test_the_reported_schedule_is_a_shortest_one(name: str, stages: int, tiles: int) -> None:
    module = load(WRONG / f"{name}.py")
    producer, consumer = ops_of(module, stages, tiles)
    result = ex.explore(producer, consumer, stages, tiles, TILE)
    if result.ok:  # holds_two_stages for S > 1: every interleaving, where there are few
        if stages * tiles <= 6:
            assert brute_force_shortest(producer, consumer, stages, 40) == (-1, set())
        return
    length, codes = brute_force_shortest(producer, consumer, stages, len(result.actors))
    assert length == len(result.actors), (length, codes, result.schedule)
    stuck = result.code in ("protocol_deadlock", "protocol_tx_mismatch") and (
        result.schedule[-1].startswith("then nobody can move")
    )
    assert ("stuck" if stuck else result.code) in codes

    # The independent simulator, replaying the reported schedule, fails at its last step.
    sim = Naive(producer, consumer, stages)
    for n, actor in enumerate(result.actors, 1):
        assert actor in sim.actors()
        code = sim.step(actor)
        assert (code is None) == (n < len(result.actors) or stuck), (n, code)
    assert sim.stuck() if stuck else code == result.code


def test_the_brute_force_finds_nothing_in_the_reference() -> None:
    for stages, tiles in ((1, 3), (2, 3), (3, 2)):  # (3, 3): ~3 s of interleavings
        producer, consumer = ops_of(solution, stages, tiles)
        assert brute_force_shortest(producer, consumer, stages, 40) == (-1, set())


# -- failures read off the op lists ----------------------------------------------------------


def _reference_ops(stages: int = 2, tiles: int = 3) -> tuple[list[Op], list[Op]]:
    return ops_of(solution, stages, tiles)


def _replace(ops: list[Op], name: str, n: int, **changes) -> list[Op]:
    hits = [k for k, op in enumerate(ops) if op.name == name]
    out = list(ops)
    out[hits[n]] = Op(**{**out[hits[n]].__dict__, **changes})
    return out


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        (lambda p, c: (_replace(p, "copy", 1, tile=2), c), "protocol_order", "should be tile 1"),
        (lambda p, c: (p, _replace(c, "consume", 0, tile=1)), "protocol_order", "consumer"),
        (lambda p, c: (p[:-3], c), "protocol_incomplete", "copies only 2 of the K = 3"),
        (lambda p, c: (p, c[:3]), "protocol_incomplete", "reads only 1 of the K = 3"),
        (lambda p, c: (p, _replace(c, "consume", 1, stage=0)), "protocol_order", "stage 1"),
        (
            lambda p, c: (_replace(p, "copy", 0, nbytes=2048), c),
            "protocol_tx_mismatch",
            "moves 2048 B",
        ),
    ],
)
def test_static_failures(change, code: str, words: str) -> None:
    producer, consumer = change(*_reference_ops())
    result = ex.explore(producer, consumer, 2, 3, TILE)
    assert (result.ok, result.code) == (False, code), result.message
    assert words in result.message and result.schedule == [] and result.states == 0


def test_the_tx_range_is_the_hardwares() -> None:
    producer, consumer = _reference_ops(1, 1)
    # expect_tx of nearly the whole range twice: beyond 2^20 - 1
    extra = [Op("expect_tx", "full", 0, nbytes=pr.TX_LIMIT)] * 2
    result = ex.explore(extra + producer, consumer, 1, 1, TILE)
    assert result.code == "protocol_tx_mismatch" and "hardware's range" in result.message


# -- random walks ----------------------------------------------------------------------------


def test_random_walks_find_a_failure_past_the_cap_and_are_reproducible() -> None:
    module = load(WRONG / "release_before_use.py")
    runs = [
        ex.check(module.producer, module.consumer, 4, 40, max_states=20, seed=7).to_dict()
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    assert runs[0]["code"] == "protocol_overwrite" and not runs[0]["exhaustive"]
    assert "random walk" in runs[0]["message"] and runs[0]["walks"] > 0


def test_an_exhaustive_search_with_exactly_max_states_is_still_exhaustive() -> None:
    full = ex.check(solution.producer, solution.consumer, 2, 5)
    exact = ex.check(solution.producer, solution.consumer, 2, 5, max_states=full.states)
    assert exact.ok and exact.exhaustive and exact.states == full.states


# -- ops, JSON, and collecting a program -----------------------------------------------------


def test_ops_round_trip_through_json() -> None:
    for stages, tiles in ((1, 1), (3, 7)):
        for ops in ops_of(solution, stages, tiles):
            data = json.loads(json.dumps(pr.ops_to_json(ops)))
            assert pr.ops_from_json(data, stages, tiles, len(ops)) == ops
    sample = [
        Op("wait", "empty", 1, parity=1),
        Op("arrive", "empty", 0),
        Op("arrive_expect_tx", "full", 1, nbytes=4096),
        Op("expect_tx", "full", 0, nbytes=16),
        Op("copy", "full", 1, nbytes=4096, tile=2, stage=1),
        Op("consume", tile=2, stage=1),
    ]
    data = pr.ops_to_json(sample)
    assert data[4] == {
        "op": "copy",
        "tile": 2,
        "stage": 1,
        "barrier": "full",
        "index": 1,
        "bytes": 4096,
    }
    assert pr.ops_from_json(data, 2, 3, 6) == sample
    assert [str(op) for op in sample] == [
        "wait empty[1] parity 1",
        "arrive on empty[0]",
        "arrive_expect_tx 4096 B on full[1]",
        "expect_tx 16 B on full[0]",
        "copy tile 2 into stage 1 (complete_tx 4096 B on full[1])",
        "read stage 1 (tile 2)",
    ]


GOOD = {"op": "wait", "barrier": "full", "index": 0, "parity": 0}
COPY = {"op": "copy", "tile": 0, "stage": 0, "barrier": "full", "index": 0, "bytes": 4096}


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (GOOD, "must be a JSON array"),
        ([3], "must be a JSON object"),
        ([{"op": "jump"}], "unknown op 'jump'"),
        ([{"op": 1}], "unknown op 1"),
        ([{"barrier": "full"}], "unknown op None"),
        ([{"op": "wait", "barrier": "full", "index": 0}], "missing parity"),
        ([{**GOOD, "tile": 0}], "unexpected tile"),
        ([{**GOOD, "barrier": "half"}], "barrier must be 'full' or 'empty'"),
        ([{**GOOD, "barrier": ["full"]}], "barrier must be 'full' or 'empty'"),
        ([{**GOOD, "index": 2}], "index 2 is out of range"),
        ([{**GOOD, "index": -1}], "index -1 is out of range"),
        ([{**GOOD, "parity": 2}], "parity 2 is out of range"),
        ([{**GOOD, "parity": True}], "must be an integer, not True"),
        ([{**GOOD, "index": False}], "must be an integer, not False"),
        ([{**GOOD, "index": 1.0}], "must be an integer, not 1.0"),
        ([{**GOOD, "index": "1"}], "must be an integer, not '1'"),
        ([{**GOOD, "index": None}], "must be an integer, not None"),
        ([{**COPY, "tile": 3}], "tile 3 is out of range: tiles are 0 .. 2"),
        ([{**COPY, "stage": 2}], "stage 2 is out of range"),
        ([{**COPY, "bytes": 0}], "bytes 0 is out of range"),
        ([{**COPY, "bytes": -4096}], "bytes -4096 is out of range"),
        ([{**COPY, "bytes": 1 << 20}], "bytes 1048576 is out of range"),
        ([{**COPY, "bytes": 10**100}], "is out of range"),
        ([GOOD, {"op": "consume", "stage": 0}], "op 1 (consume)"),
    ],
)
def test_malformed_op_lists_are_refused_clearly(data, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)) as error:
        pr.ops_from_json(data, 2, 3, 10)
    assert error.value.code == "protocol_bad_program"


def test_too_many_ops_in_json() -> None:
    with pytest.raises(ProgramError) as error:
        pr.ops_from_json([GOOD] * 11, 2, 3, 10)
    assert error.value.code == "protocol_too_many_ops" and "11 ops" in str(error.value)


def test_an_endless_generator_is_cut_off() -> None:
    closed = []

    def endless(pipe, S, K):
        try:
            while True:
                yield pipe.full[0].wait(0)
        finally:
            closed.append(True)

    start = time.perf_counter()
    with pytest.raises(ProgramError) as error:
        pr.collect_ops(endless, Pipe(2, 3), 2, 3, 50)
    assert time.perf_counter() - start < 1.0
    assert error.value.code == "protocol_too_many_ops" and "endless loop" in str(error.value)
    assert closed == [True]


def _program(*items):
    def program(pipe, S, K):
        for item in items:
            yield item(pipe) if callable(item) else item

    return program


@pytest.mark.parametrize(
    ("program", "words"),
    [
        (lambda pipe, S, K: [pipe.full[0].wait(0)], "returned list; yield the ops one at a time"),
        (lambda pipe, S, K: None, "must be a generator function"),
        (_program(3), "it yielded 3 (a int)"),
        (_program(lambda p: p.full[0]), "the barrier full[0] itself"),
        (_program(lambda p: p.full[0].wait), "add the call's parentheses"),
        (_program(lambda p: (p.full[0].wait(0), p.empty[0].arrive())), "one op at a time"),
        (_program(("wait", "full", 0, 0)), "a tuple (4 items)"),
        (_program(lambda p: p.copy(tile=1 / 2, stage=0, barrier=p.full[0], nbytes=16)), "//"),
        (
            _program(lambda p: p.consume(stage=2, tile=0)),
            "the stage of a read is 2, out of range: stages are 0 .. 1 (S = 2)",
        ),
        (_program(lambda p: p.full[0].wait(2)), "a parity is 0 or 1"),
        (_program(lambda p: p.full[0].wait(True)), "a bool"),
        (_program(lambda p: p.full[0].arrive_expect_tx(0)), "1 .. 1048575"),
        (
            _program(lambda p: p.copy(tile=3, stage=0, barrier=p.full[0], nbytes=16)),
            "tiles are 0 .. 2 (K = 3)",
        ),
        (_program(lambda p: p.copy(tile=0, stage=0, barrier="full[0]", nbytes=16)), "barrier"),
        (_program(Op("wait", "full", 5, parity=0)), "index 5 is out of range"),
    ],
)
def test_programs_that_are_not_programs_are_refused_clearly(program, words: str) -> None:
    with pytest.raises(ProgramError, match=re.escape(words)) as error:
        pr.collect_ops(program, Pipe(2, 3), 2, 3, 50)
    assert error.value.code == "protocol_bad_program"


def test_a_programs_own_exception_propagates() -> None:
    def broken(pipe, S, K):
        yield pipe.full[0].wait(0)
        raise KeyError("mine")

    with pytest.raises(KeyError, match="mine"):
        pr.collect_ops(broken, Pipe(2, 3), 2, 3, 50)


def test_numpy_integers_are_fine_in_ops() -> None:
    np = pytest.importorskip("numpy")
    pipe = Pipe(2, 3)
    op = pipe.copy(tile=np.int64(1), stage=np.int32(1), barrier=pipe.full[1], nbytes=np.int64(16))
    assert type(op.tile) is int and json.dumps(op.to_json())


def test_the_pipe_shows_no_barrier_state() -> None:
    pipe = Pipe(2, 3)
    public = {name for name in vars(pipe) if not name.startswith("_")}
    assert public == {"stages", "tiles", "tile_bytes", "full", "empty"}
    assert all(isinstance(b, pr.BarrierHandle) for b in pipe.full + pipe.empty)
    with pytest.raises(ProgramError):
        Pipe(2, 3, 100)  # not a multiple of 16


def test_the_docstring_examples_hold() -> None:
    import doctest

    assert doctest.testmod(pr).failed == 0

    def producer(pipe, S, K):  # the module docstring's example, S = 1 and K = 1
        yield pipe.full[0].arrive_expect_tx(pipe.tile_bytes)
        yield pipe.copy(tile=0, stage=0, barrier=pipe.full[0], nbytes=pipe.tile_bytes)

    def consumer(pipe, S, K):
        yield pipe.full[0].wait(0)
        yield pipe.consume(stage=0, tile=0)
        yield pipe.empty[0].arrive()

    assert ex.check(producer, consumer, 1, 1).ok


def test_the_student_stub_imports_and_asks_to_be_filled_in() -> None:
    from labs.lab3_pipeline import student

    for name in ("producer", "consumer"):
        with pytest.raises(NotImplementedError):
            pr.collect_ops(getattr(student, name), Pipe(2, 3), 2, 3, 50)
    text = (ROOT / "labs" / "lab3_pipeline" / "student.py").read_text()
    assert "student.cu" in text and "FILL ME IN" in text and "reference" not in text


def test_the_cli_reports_a_schedule(capsys) -> None:
    code = ex.main(["--module", "reference.lab3_pipeline.solution", "-S", "2", "-K", "3"])
    assert code == 0 and "S = 2, K = 3: ok" in capsys.readouterr().out


def test_a_whole_lab_check_is_fast() -> None:
    start = time.process_time()
    for module in [solution, *(load(p) for p in PROTOCOL_FIXTURES)]:
        for stages, tiles in ex.DEFAULT_CASES:
            ex.check(module.producer, module.consumer, stages, tiles)
    assert time.process_time() - start < 2.0
