"""Lab 3, part A: the checker. Runs a producer's and a consumer's op lists against every order
in which they and the copies in flight can move, and reports the shortest order that breaks.

The model. Three kinds of actor move, one step at a time: the producer (its next op), the
consumer (its next op), and each copy in flight (it *lands*: writes its tile into its stage,
then complete_tx on its barrier). A program waiting on a barrier can move only once the
wait would return. Any enabled actor may move next: that is all the freedom the hardware
has (the copy engine may be fast or slow, either warp may be descheduled).

The search. Breadth-first over states (program positions, barrier states, stage contents,
copies in flight, and which phase each program last waited for), so the first violation
found comes with a *shortest* schedule; among equally short ones, the first in the order
producer, consumer, copies by tile. Exhaustive while the number of distinct states stays
under ``max_states``; beyond that, ``random_walks`` seeded random schedules (reproducible,
but no longer a proof, and a failure found that way need not be the shortest). The result
says which.

What is judged, with each failure's code (``CODES`` has a title and a hint for each):

protocol_order               the producer copies tiles 0, 1, ..., K-1 in that order, each
                             once, and the consumer reads them in that order, each from the
                             stage it was copied into
protocol_incomplete          a program ends before all K tiles are copied / read
protocol_tx_mismatch         a copy moves a different number of bytes than a tile holds; or
                             a barrier everyone waits on has all its arrivals but a tx-count
                             that never returns to 0 (expect_tx and the copies disagree); or
                             the tx-count leaves the hardware's range
protocol_read_before_landed  the consumer reads a stage that does not hold its tile yet
protocol_overwrite           a copy is issued into a stage whose tile the consumer has not
                             read yet (or while another copy into it is in flight)
protocol_phase_alias         a wait returns for a phase the same program had already waited
                             for on that barrier (the parity names an old phase)
protocol_extra_arrive        an arrival on a phase that already has all its arrivals
protocol_deadlock            nobody can move, no copy is in flight, and the programs have not
                             both finished

Precedence. The first four are read off the op lists before anything runs, in the order
order (producer, then consumer), incomplete (producer, then consumer), a tile read from
another stage than it was copied into (order), a copy of the wrong size (tx_mismatch); such
a failure has an empty schedule. Then the search: the failure with the shortest schedule
wins. One step can break one rule only (a wait can only alias, a copy only overwrite, a read
only read before landed, an arrival only arrive extra or leave the tx range). A state where
nobody can move is a deadlock, reported as protocol_tx_mismatch instead when a stuck program
waits on a barrier that has all its arrivals and a non-zero tx-count.

Timings (this machine's CPU, the reference programs, 4096 B tiles): see
tests/test_lab3_protocol.py, whose docstring records them.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from labs.lab3_pipeline.protocol import (
    ARRIVALS_PER_PHASE,
    MBarrierError,
    Op,
    Pipe,
    Program,
    ProgramError,
    barrier_arrive,
    barrier_complete_tx,
    barrier_expect_tx,
    barrier_init,
    collect_ops,
    default_max_ops,
)

# code -> (title, what to do about it)
CODES: dict[str, tuple[str, str]] = {
    "protocol_order": (
        "Tiles out of order",
        "Copy tiles 0 .. K-1 in order, each once, tile i into stage i % S; read them in the "
        "same order from the same stages.",
    ),
    "protocol_incomplete": (
        "A program stops early",
        "Each program must handle all K tiles: the producer copies K tiles, the consumer reads K.",
    ),
    "protocol_tx_mismatch": (
        "Byte counts disagree",
        "Copy exactly pipe.tile_bytes per tile, and announce exactly the bytes that will land "
        "on the barrier (arrive_expect_tx(pipe.tile_bytes) on full[s]).",
    ),
    "protocol_read_before_landed": (
        "Read a stage before its copy landed",
        "Wait on full[s] with the right parity before reading stage s; the wait returns only "
        "once the arrival and the copy's bytes are in.",
    ),
    "protocol_overwrite": (
        "Overwrote a stage the consumer had not read",
        "Wait on empty[s] before copying into stage s, and have the consumer arrive on "
        "empty[s] only after it has read the stage.",
    ),
    "protocol_phase_alias": (
        "A wait returned for an old phase",
        "Each wait must be for a new phase: flip the parity each time the stage index wraps "
        "around to 0.",
    ),
    "protocol_extra_arrive": (
        "Too many arrivals",
        "Each phase of full[s] gets one arrival (the producer's arrive_expect_tx), each phase "
        "of empty[s] one (the consumer's arrive).",
    ),
    "protocol_deadlock": (
        "Deadlock",
        "Nobody can move: check which barrier each program waits on, with which parity, and "
        "who is supposed to complete that phase.",
    ),
    "protocol_bad_program": (
        "Not a valid program",
        "producer and consumer must be generator functions that yield ops built from pipe.",
    ),
    "protocol_too_many_ops": (
        "Too many ops",
        "A program yielded more ops than the limit: look for an endless loop.",
    ),
}

# The grader's usual cases: exhaustive for these (see the test docstrings for timings).
DEFAULT_CASES: tuple[tuple[int, int], ...] = ((1, 3), (2, 5), (3, 7), (4, 9))
DEFAULT_MAX_STATES = 50_000
DEFAULT_RANDOM_WALKS = 200

_WAIT, _ARRIVE, _ARRIVE_EXPECT, _EXPECT, _COPY, _CONSUME = range(6)
_KINDS = {
    "wait": _WAIT,
    "arrive": _ARRIVE,
    "arrive_expect_tx": _ARRIVE_EXPECT,
    "expect_tx": _EXPECT,
    "copy": _COPY,
    "consume": _CONSUME,
}
_ROLES = ("producer", "consumer")
_NONE = -2  # "this program never waited on this barrier" (-1 is a real phase: before phase 0)


@dataclass
class ExploreResult:
    ok: bool
    code: str | None  # None when ok
    message: str
    schedule: list[str] = field(default_factory=list)  # numbered, human-readable steps
    actors: list[str] = field(default_factory=list)  # "producer", "consumer", "copy 3"
    states: int = 0  # distinct states the breadth-first search visited
    exhaustive: bool = True  # every reachable state was checked (or the failure is shortest)
    walks: int = 0  # random walks run after the state cap was hit
    stages: int = 0
    tiles: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Violation:
    code: str
    message: str


# A state: (producer position, consumer position, barriers, stages, copies in flight, ghosts)
#   barriers  tuple of (pending, tx, phase), full[0..S-1] then empty[0..S-1]
#   stages    the tile that last landed in each stage, -1 if none
#   in flight the tiles whose copy is issued and has not landed, ascending
#   ghosts    per program and barrier, the absolute phase its last successful wait returned for
State = tuple[int, int, tuple[tuple[int, int, int], ...], tuple[int, ...], tuple[int, ...], tuple]


class _Model:
    def __init__(
        self, producer: list[Op], consumer: list[Op], stages: int, tiles: int, tile_bytes: int
    ) -> None:
        self.S, self.K, self.tile_bytes = stages, tiles, tile_bytes
        self.nb = 2 * stages
        self.names = [f"full[{s}]" for s in range(stages)] + [f"empty[{s}]" for s in range(stages)]
        self.count = ARRIVALS_PER_PHASE
        self.source = (producer, consumer)
        self.progs = (self._compile(producer), self._compile(consumer))
        self.lengths = (len(producer), len(consumer))
        reads = 0
        self.read_before = [0]  # tiles the consumer has read before each position
        for op in consumer:
            reads += op.name == "consume"
            self.read_before.append(reads)
        issued = 0
        self.issued_before = [0]  # copies the producer has issued before each position
        for op in producer:
            issued += op.name == "copy"
            self.issued_before.append(issued)
        self.copies: dict[int, tuple[int, int, int]] = {}  # tile -> (stage, barrier, bytes)
        for op in producer:
            if op.name == "copy" and op.tile not in self.copies:
                self.copies[op.tile] = (op.stage, self._bar(op), op.nbytes)

    def _bar(self, op: Op) -> int:
        return op.index if op.barrier == "full" else self.S + op.index

    def _compile(self, ops: list[Op]) -> list[tuple[int, int, int, int, int]]:
        out = []
        for op in ops:
            kind = _KINDS[op.name]
            bar = self._bar(op) if op.barrier is not None else -1
            arg = op.parity if kind == _WAIT else (op.nbytes or 0)
            out.append(
                (
                    kind,
                    bar,
                    arg,
                    -1 if op.tile is None else op.tile,
                    -1 if op.stage is None else op.stage,
                )
            )
        return out

    # -- checks on the op lists alone ------------------------------------------------------

    def static_violation(self) -> _Violation | None:
        producer, consumer = self.source
        copied = [op for op in producer if op.name == "copy"]
        read = [op for op in consumer if op.name == "consume"]
        for role, ops, verb in (("producer", copied, "copies"), ("consumer", read, "reads")):
            for n, op in enumerate(ops):
                if op.tile != n:
                    return _Violation(
                        "protocol_order",
                        f"The {role}'s {_nth(n)} {verb[:-1]} is of tile {op.tile}, but tiles "
                        f"go in order 0, 1, ..., {self.K - 1}, each once: it should be tile "
                        f"{n}.",
                    )
        for role, ops, verb in (("producer", copied, "copies"), ("consumer", read, "reads")):
            if len(ops) < self.K:
                return _Violation(
                    "protocol_incomplete",
                    f"The {role} {verb} only {len(ops)} of the K = {self.K} tiles, then its "
                    f"program ends.",
                )
        for c, r in zip(copied, read, strict=True):
            if c.stage != r.stage:
                return _Violation(
                    "protocol_order",
                    f"Tile {c.tile} is copied into stage {c.stage} but read from stage "
                    f"{r.stage}: the consumer would read another tile's data.",
                )
        for c in copied:
            if c.nbytes != self.tile_bytes:
                return _Violation(
                    "protocol_tx_mismatch",
                    f"The copy of tile {c.tile} moves {c.nbytes} B, but a tile is "
                    f"{self.tile_bytes} B (pipe.tile_bytes).",
                )
        return None

    # -- the transition system ---------------------------------------------------------------

    def initial(self) -> State:
        bars = tuple(barrier_init(self.count) for _ in range(self.nb))
        return (0, 0, bars, (-1,) * self.S, (), (_NONE,) * (2 * self.nb))

    def done(self, state: State) -> bool:
        return state[0] == self.lengths[0] and state[1] == self.lengths[1]

    def enabled(self, state: State) -> list[int]:
        """Actors that can move: 0 producer, 1 consumer, 2 + t the copy of tile t."""
        out = []
        bars = state[2]
        for actor in (0, 1):
            pos = state[actor]
            if pos < self.lengths[actor]:
                kind, bar, parity, _, _ = self.progs[actor][pos]
                if kind != _WAIT or bars[bar][2] % 2 != parity:
                    out.append(actor)
        out.extend(2 + t for t in state[4])
        return out

    def step(self, state: State, actor: int) -> tuple[State | None, _Violation | None]:
        pp, cp, bars, stages, flying, ghosts = state
        if actor >= 2:  # a copy lands
            tile = actor - 2
            stage, bar, nbytes = self.copies[tile]
            flying = tuple(t for t in flying if t != tile)
            stages = (*stages[:stage], tile, *stages[stage + 1 :])
            try:
                new = barrier_complete_tx(bars[bar], self.count, nbytes, self.names[bar])
            except MBarrierError as error:
                return None, self._barrier_violation(error)
            bars = (*bars[:bar], new, *bars[bar + 1 :])
            return (pp, cp, bars, stages, flying, ghosts), None

        kind, bar, arg, tile, stage = self.progs[actor][state[actor]]
        if actor == 0:
            pp += 1
        else:
            cp += 1
        if kind == _WAIT:
            got = bars[bar][2] - 1  # the phase of that parity that has completed
            slot = actor * self.nb + bar
            if ghosts[slot] == got:
                return None, _Violation(
                    "protocol_phase_alias",
                    f"The {_ROLES[actor]}'s wait on {self.names[bar]} with parity {arg} "
                    f"returned for phase {_phase(got)}, a phase it had already waited for: "
                    f"a parity names the current and the previous phase only, so this wait "
                    f"did not wait for anything new.",
                )
            ghosts = (*ghosts[:slot], got, *ghosts[slot + 1 :])
        elif kind == _COPY:
            for other in flying:
                if self.copies[other][0] == stage:
                    return None, _Violation(
                        "protocol_overwrite",
                        f"The producer issued the copy of tile {tile} into stage {stage} "
                        f"while the copy of tile {other} into that stage was still in flight: "
                        f"tile {other} would be overwritten before the consumer reads it.",
                    )
            held = stages[stage]
            if held >= self.read_before[cp]:
                return None, _Violation(
                    "protocol_overwrite",
                    f"The producer issued the copy of tile {tile} into stage {stage} while "
                    f"stage {stage} still holds tile {held}, which the consumer has not read "
                    f"yet: the copy may land before that read.",
                )
            flying = (*flying, tile)
        elif kind == _CONSUME:
            if stages[stage] != tile:
                return None, _Violation(
                    "protocol_read_before_landed",
                    f"The consumer read stage {stage} expecting tile {tile}, but "
                    f"{self._stage_story(state, stage, tile)}.",
                )
        else:
            try:
                if kind == _EXPECT:
                    new = barrier_expect_tx(bars[bar], self.count, arg, self.names[bar])
                else:  # arrive (arg 0) or arrive_expect_tx (arg bytes)
                    new = barrier_arrive(bars[bar], self.count, arg, self.names[bar])
            except MBarrierError as error:
                return None, self._barrier_violation(error, _ROLES[actor])
            bars = (*bars[:bar], new, *bars[bar + 1 :])
        return (pp, cp, bars, stages, flying, ghosts), None

    def _stage_story(self, state: State, stage: int, tile: int) -> str:
        if tile in state[4]:
            return f"the copy of tile {tile} into stage {stage} has not landed yet"
        held = state[3][stage]
        holds = f"stage {stage} still holds tile {held}" if held >= 0 else "nothing landed there"
        if tile >= self.issued_before[state[0]]:
            return f"the producer has not even issued its copy yet ({holds})"
        return holds

    def _barrier_violation(self, error: MBarrierError, who: str = "") -> _Violation:
        if error.kind == "extra_arrive":
            return _Violation(
                "protocol_extra_arrive",
                f"The {who} made {error!s}: one arrival per phase is expected.",
            )
        return _Violation("protocol_tx_mismatch", f"{str(error)[0].upper()}{str(error)[1:]}.")

    def stuck_violation(self, state: State) -> _Violation:
        """Why nobody can move (called only where nobody can)."""
        lines = []
        mismatch = None
        for actor in (0, 1):
            pos = state[actor]
            if pos >= self.lengths[actor]:
                lines.append(f"the {_ROLES[actor]} has finished")
                continue
            _, bar, parity, _, _ = self.progs[actor][pos]
            pending, tx, phase = state[2][bar]
            name = self.names[bar]
            needs = []
            if pending:
                needs.append(_plural(pending, "more arrival"))
            if tx > 0:
                needs.append(f"{tx} B more to land")
            if tx < 0:
                needs.append(f"an expect_tx for the {-tx} B that already landed")
            lines.append(
                f"the {_ROLES[actor]} waits on {name} parity {parity}, which returns only once "
                f"phase {phase} of {name} completes, and that phase still needs "
                + " and ".join(needs)
            )
            if pending == 0 and tx != 0 and mismatch is None:
                mismatch = (name, phase, tx)
        story = "; ".join(lines)
        story = story[0].upper() + story[1:]
        if mismatch is not None:
            name, phase, tx = mismatch
            how = (
                f"{tx} B were announced with expect_tx that no copy brings"
                if tx > 0
                else f"the copies brought {-tx} B more than expect_tx announced"
            )
            return _Violation(
                "protocol_tx_mismatch",
                f"Stuck: {name} has all its arrivals for phase {phase}, but its tx-count is "
                f"{tx} B, not 0: {how}. {story}.",
            )
        return _Violation(
            "protocol_deadlock", f"Nobody can move, and no copy is in flight. {story}."
        )

    # -- words ---------------------------------------------------------------------------------

    def describe(self, state: State, actor: int, new: State | None) -> str:
        if actor >= 2:
            tile = actor - 2
            stage, bar, nbytes = self.copies[tile]
            text = (
                f"copy of tile {tile} lands in stage {stage} "
                f"(complete_tx {nbytes} B on {self.names[bar]})"
            )
            return text + (f" -> {self._bar_story(state, new, bar)}" if new else "")
        op = self.source[actor][state[actor]]
        kind, bar, arg, _, _ = self.progs[actor][state[actor]]
        text = f"{_ROLES[actor]}: {op}"
        if kind == _WAIT:
            phase = state[2][bar][2]
            name = self.names[bar]
            if phase == 0:
                return (
                    f"{text} -> returns at once ({name} is fresh: its phase 0 is still open, "
                    f"so parity 1 names the phase before it, which counts as completed)"
                )
            return (
                f"{text} -> returns (phase {phase - 1} of {name}, parity {arg}, has completed; "
                f"phase {phase} is open)"
            )
        if new is None:
            return text
        if kind == _COPY:
            return f"{text} -> in flight"
        if kind == _CONSUME:
            return f"{text} -> ok"
        return f"{text} -> {self._bar_story(state, new, bar)}"

    def _bar_story(self, old: State, new: State, bar: int) -> str:
        name = self.names[bar]
        before = old[2][bar][2]
        pending, tx, phase = new[2][bar]
        if phase > before:
            return f"phase {before} of {name} completes (now in phase {phase})"
        parts = [f"{_plural(pending, 'arrival')} pending"] if pending else ["all arrivals in"]
        parts.append(f"tx-count {tx} B")
        return f"{name} phase {phase}: " + ", ".join(parts)


def _phase(number: int) -> str:
    return "-1 (the one before phase 0)" if number == -1 else str(number)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _nth(n: int) -> str:
    return {0: "first", 1: "second", 2: "third"}.get(n, f"{n + 1}th")


def _actor_name(actor: int) -> str:
    return _ROLES[actor] if actor < 2 else f"copy {actor - 2}"


def _failure(
    model: _Model,
    actors: list[int],
    violation: _Violation,
    *,
    states: int,
    exhaustive: bool,
    walks: int,
    shortest: bool,
) -> ExploreResult:
    """Replay ``actors`` from the start, in words; the last step (or the final state) fails."""
    schedule = []
    state = model.initial()
    failed_in_a_step = False
    for n, actor in enumerate(actors, 1):
        new, _ = model.step(state, actor)
        line = f"{n}. {model.describe(state, actor, new)}"
        if new is None:
            schedule.append(line + "  <- FAILS HERE")
            failed_in_a_step = True
            break
        schedule.append(line)
        state = new
    if not failed_in_a_step:  # the state the schedule reaches is stuck
        schedule.append("then nobody can move  <- FAILS HERE")
    where = f"S = {model.S}, K = {model.K}"
    steps = _plural(len(actors), "step")
    how = (
        f"a shortest failing schedule: {steps}"
        if shortest
        else f"a failing schedule found by a random walk: {steps}, not necessarily the shortest"
    )
    if not actors:
        how = "before anyone moves"
    message = f"{violation.message} ({where}; {how}.)"
    return ExploreResult(
        ok=False,
        code=violation.code,
        message=message,
        schedule=schedule,
        actors=[_actor_name(a) for a in actors],
        states=states,
        exhaustive=exhaustive,
        walks=walks,
        stages=model.S,
        tiles=model.K,
    )


def explore(
    producer_ops: list[Op],
    consumer_ops: list[Op],
    stages: int,
    tiles: int,
    tile_bytes: int,
    *,
    max_states: int = DEFAULT_MAX_STATES,
    random_walks: int = DEFAULT_RANDOM_WALKS,
    seed: int = 0,
) -> ExploreResult:
    """Check a producer's and a consumer's op lists on S = ``stages``, K = ``tiles``.

    Breadth-first over every reachable state while there are at most ``max_states`` of them
    (the first failure found then comes with a shortest schedule); past the cap,
    ``random_walks`` random schedules drawn with ``seed``.
    """
    model = _Model(list(producer_ops), list(consumer_ops), stages, tiles, tile_bytes)
    common = {"stages": stages, "tiles": tiles}
    static = model.static_violation()
    if static is not None:
        return ExploreResult(False, static.code, static.message, states=0, **common)

    start = model.initial()
    parent: dict[State, tuple[State, int] | None] = {start: None}

    def path(state: State) -> list[int]:
        actors = []
        link = parent[state]
        while link is not None:
            state, actor = link
            actors.append(actor)
            link = parent[state]
        return actors[::-1]

    enabled = model.enabled(start)
    if not enabled and not model.done(start):
        return _failure(
            model,
            [],
            model.stuck_violation(start),
            states=1,
            exhaustive=True,
            walks=0,
            shortest=True,
        )
    queue = deque([(start, enabled)])
    capped = False
    while queue and not capped:
        state, enabled = queue.popleft()
        for actor in enabled:
            new, violation = model.step(state, actor)
            if violation is not None:
                return _failure(
                    model,
                    [*path(state), actor],
                    violation,
                    states=len(parent),
                    exhaustive=True,
                    walks=0,
                    shortest=True,
                )
            if new in parent:
                continue
            if len(parent) >= max_states:
                capped = True
                break
            parent[new] = (state, actor)
            next_enabled = model.enabled(new)
            if not next_enabled and not model.done(new):
                return _failure(
                    model,
                    path(new),
                    model.stuck_violation(new),
                    states=len(parent),
                    exhaustive=True,
                    walks=0,
                    shortest=True,
                )
            queue.append((new, next_enabled))
    states = len(parent)
    if not capped:
        return ExploreResult(
            True,
            None,
            f"Correct in every order: all {states} reachable states checked "
            f"(S = {stages}, K = {tiles}).",
            states=states,
            exhaustive=True,
            **common,
        )

    rng = random.Random(seed)
    best: tuple[list[int], _Violation] | None = None
    for _ in range(random_walks):
        state = start
        actors: list[int] = []
        while True:
            enabled = model.enabled(state)
            if not enabled:
                if not model.done(state):
                    found = (actors, model.stuck_violation(state))
                    if best is None or len(actors) < len(best[0]):
                        best = found
                break
            actor = rng.choice(enabled)
            actors.append(actor)
            new, violation = model.step(state, actor)
            if violation is not None:
                if best is None or len(actors) < len(best[0]):
                    best = (actors, violation)
                break
            state = new
    if best is not None:
        return _failure(
            model,
            best[0],
            best[1],
            states=states,
            exhaustive=False,
            walks=random_walks,
            shortest=False,
        )
    return ExploreResult(
        True,
        None,
        f"No failure found, but not a proof: {states} states checked breadth-first (the cap), "
        f"then {random_walks} random schedules (S = {stages}, K = {tiles}).",
        states=states,
        exhaustive=False,
        walks=random_walks,
        **common,
    )


def check(
    producer: Program,
    consumer: Program,
    stages: int,
    tiles: int,
    tile_bytes: int = 4096,
    *,
    max_ops: int | None = None,
    **options: Any,
) -> ExploreResult:
    """Collect both programs' ops in this process and explore them: for tests and students
    (the grader collects in a separate process and explores in its own)."""
    pipe = Pipe(stages, tiles, tile_bytes)
    limit = default_max_ops(stages, tiles) if max_ops is None else max_ops
    try:
        ops = [collect_ops(p, pipe, stages, tiles, limit) for p in (producer, consumer)]
    except ProgramError as error:
        return ExploreResult(False, error.code, str(error), stages=stages, tiles=tiles)
    return explore(ops[0], ops[1], stages, tiles, tile_bytes, **options)


def main(argv: list[str] | None = None) -> int:
    """``python -m labs.lab3_pipeline.explore``: check your programs on the usual cases."""
    import argparse
    import importlib

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", default="labs.lab3_pipeline.student")
    parser.add_argument("--stages", "-S", type=int, help="one case: S (with --tiles)")
    parser.add_argument("--tiles", "-K", type=int, help="one case: K (with --stages)")
    args = parser.parse_args(argv)
    module = importlib.import_module(args.module)
    cases = [(args.stages, args.tiles)] if args.stages and args.tiles else list(DEFAULT_CASES)
    failed = 0
    for stages, tiles in cases:
        result = check(module.producer, module.consumer, stages, tiles)
        mark = "ok  " if result.ok else f"FAIL {result.code}"
        print(f"S = {stages}, K = {tiles}: {mark}\n  {result.message}")
        for line in result.schedule:
            print(f"    {line}")
        failed += not result.ok
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
