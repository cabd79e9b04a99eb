"""Lab 3, part A: a model of Hopper's mbarrier and of an S-stage producer/consumer ring.

You write two programs, ``producer(pipe, S, K)`` and ``consumer(pipe, S, K)``, as Python
generator functions. Each ``yield``s one *op* at a time; the ops are built from ``pipe``, a
handle that only names things (barriers, stages, the tile size) and never shows you a
barrier's state. So your op list depends on (S, K) only, exactly as a GPU kernel's
instruction stream does not depend on how fast the copy engine happens to be. The checker
(``explore.py``) then runs the two op lists against *every* order in which the producer,
the consumer and the copies in flight could move, and reports the shortest order that breaks.

The ring: K tiles go through S shared-memory stages; tile ``i`` uses stage ``i % S``. Each
stage ``s`` has two barriers:

``pipe.full[s]``   "stage s holds a tile": one arrival per phase (the producer's
                   ``arrive_expect_tx``) plus the bytes of the copy (``complete_tx``).
``pipe.empty[s]``  "stage s may be overwritten": one arrival per phase (the consumer's
                   ``arrive`` once it has read the stage).

The ops (names follow PTX and CUTLASS):

==========================================  ============================================
``pipe.full[s].wait(parity)``                ``mbarrier.try_wait.parity`` in a loop: blocks
                                             until the phase with that parity has completed
``pipe.empty[s].arrive()``                   ``mbarrier.arrive``
``pipe.full[s].arrive_expect_tx(nbytes)``    ``mbarrier.arrive.expect_tx``: expect nbytes
                                             more, then arrive
``pipe.full[s].expect_tx(nbytes)``           ``mbarrier.expect_tx`` (no arrival)
``pipe.copy(tile, stage, barrier, nbytes)``  ``cp.async.bulk ... mbarrier::complete_tx``:
                                             start copying tile into stage; it lands at any
                                             later moment, then does complete_tx(nbytes) on
                                             barrier
``pipe.consume(stage, tile)``                read the stage, expecting that tile in it
==========================================  ============================================

A tiny example, S = 1 and K = 1 (no stage is ever reused, so nobody waits on ``empty``)::

    def producer(pipe, S, K):
        yield pipe.full[0].arrive_expect_tx(pipe.tile_bytes)   # "4096 B will land here"
        yield pipe.copy(tile=0, stage=0, barrier=pipe.full[0], nbytes=pipe.tile_bytes)

    def consumer(pipe, S, K):
        yield pipe.full[0].wait(0)        # until phase 0 of full[0] completes
        yield pipe.consume(stage=0, tile=0)
        yield pipe.empty[0].arrive()      # "I am done with stage 0"

Phases and parity. A barrier counts *phases*: phase 0, 1, 2, ... . A phase completes when
all its expected arrivals have come (pending arrivals 0) and its transaction count is 0
(every expected byte has landed); the barrier then moves to the next phase and expects its
arrivals again. The hardware keeps only the current phase's parity bit, so a wait names a
phase by its parity: ``wait(p)`` returns once "the phase of parity p" has completed, which
means *the current phase's parity is not p* (the phase of parity p is then the previous
one). On a fresh barrier (phase 0 still open) ``wait(1)`` returns at once: the phase before
phase 0 counts as completed. That is why CUTLASS's producer starts at phase 1 on its empty
barriers. Working out the stage index and the parity for each tile is your job.

This module is trusted by the grader: ``collect_ops`` runs your generator and
``ops_to_json`` / ``ops_from_json`` carry the op list between processes as plain JSON.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

# The hardware's transaction count is a 20-bit signed quantity: |tx-count| < 2^20.
TX_LIMIT = (1 << 20) - 1
BARRIER_KINDS = ("full", "empty")
# op name -> its fields besides "op", in the order they are printed and serialised.
OP_FIELDS: dict[str, tuple[str, ...]] = {
    "wait": ("barrier", "index", "parity"),
    "arrive": ("barrier", "index"),
    "arrive_expect_tx": ("barrier", "index", "bytes"),
    "expect_tx": ("barrier", "index", "bytes"),
    "copy": ("tile", "stage", "barrier", "index", "bytes"),
    "consume": ("stage", "tile"),
}
ARRIVALS_PER_PHASE = 1  # both kinds of barrier: one producer (full) or one consumer (empty)


class ProgramError(ValueError):
    """A program (or an op list) the checker cannot run, with a failure code.

    ``code`` is ``protocol_bad_program`` (not a generator, yields something that is not an
    op, an op out of range, malformed JSON) or ``protocol_too_many_ops`` (more ops than the
    limit: usually an endless loop).
    """

    def __init__(self, message: str, code: str = "protocol_bad_program") -> None:
        super().__init__(message)
        self.code = code


class MBarrierError(Exception):
    """An operation the hardware does not define: ``kind`` is ``extra_arrive`` (an arrival on
    a phase that has all its arrivals already) or ``tx_range`` (tx-count beyond +-TX_LIMIT)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


# -- the mbarrier ---------------------------------------------------------------------------
#
# A barrier's state is (pending arrivals, tx-count, phase). ``phase`` is the absolute number
# of the current (open) phase: 0, 1, 2, ... . The hardware stores only its parity; the
# absolute number is kept here so the checker can tell which phase a wait really returned
# for. The functions below are the whole semantics; MBarrier wraps them, and the checker
# calls them on tuples.

BarrierState = tuple[int, int, int]


def barrier_init(count: int = ARRIVALS_PER_PHASE) -> BarrierState:
    return (count, 0, 0)


def _settle(pending: int, tx: int, phase: int, count: int, name: str) -> BarrierState:
    if abs(tx) > TX_LIMIT:
        raise MBarrierError(
            "tx_range",
            f"the tx-count of {name} reached {tx} B, outside the hardware's range (+-{TX_LIMIT} B)",
        )
    if pending == 0 and tx == 0:
        return (count, 0, phase + 1)  # the phase completes; the next one starts
    return (pending, tx, phase)


def barrier_arrive(
    state: BarrierState, count: int, nbytes: int = 0, name: str = "the barrier"
) -> BarrierState:
    """``mbarrier.arrive`` (with ``nbytes`` > 0: ``mbarrier.arrive.expect_tx``, which adds
    ``nbytes`` to the tx-count first, then arrives)."""
    pending, tx, phase = state
    if pending == 0:
        raise MBarrierError(
            "extra_arrive",
            f"an arrival on {name}, whose phase {phase} already has "
            f"{'its one arrival' if count == 1 else f'all its {count} arrivals'} "
            f"and waits only for {tx} B to land",
        )
    return _settle(pending - 1, tx + nbytes, phase, count, name)


def barrier_expect_tx(
    state: BarrierState, count: int, nbytes: int, name: str = "the barrier"
) -> BarrierState:
    """``mbarrier.expect_tx``: the current phase also waits for ``nbytes`` more bytes."""
    pending, tx, phase = state
    return _settle(pending, tx + nbytes, phase, count, name)


def barrier_complete_tx(
    state: BarrierState, count: int, nbytes: int, name: str = "the barrier"
) -> BarrierState:
    """``complete_tx``: ``nbytes`` have landed (the copy engine does this, not a thread).
    It may come before the matching expect_tx: the tx-count then goes negative for a while."""
    pending, tx, phase = state
    return _settle(pending, tx - nbytes, phase, count, name)


def barrier_try_wait_parity(state: BarrierState, parity: int) -> bool:
    """``mbarrier.try_wait.parity``: has the phase of this parity completed? True iff the
    current phase's parity differs, i.e. the phase of parity ``parity`` is the previous one."""
    return state[2] % 2 != parity


class MBarrier:
    """One mbarrier, as the hardware sees it (plus the absolute phase number, for teaching).

    >>> bar = MBarrier(1)
    >>> bar.try_wait_parity(0), bar.try_wait_parity(1)  # fresh: phase 0 open
    (False, True)
    >>> bar.arrive_expect_tx(4096); bar.phase, bar.pending, bar.tx
    (0, 0, 4096)
    >>> bar.complete_tx(4096); bar.phase, bar.try_wait_parity(0)
    (1, True)
    """

    def __init__(self, count: int = ARRIVALS_PER_PHASE, name: str = "mbarrier") -> None:
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"the arrival count must be an int >= 1, not {count!r}")
        self.count = count
        self.name = name
        self.pending, self.tx, self.phase = barrier_init(count)

    @property
    def state(self) -> BarrierState:
        return (self.pending, self.tx, self.phase)

    @property
    def phase_bit(self) -> int:
        """What the hardware really stores: the parity of the current phase."""
        return self.phase % 2

    def _set(self, state: BarrierState) -> None:
        self.pending, self.tx, self.phase = state

    def arrive(self) -> None:
        self._set(barrier_arrive(self.state, self.count, 0, self.name))

    def arrive_expect_tx(self, nbytes: int) -> None:
        self._set(barrier_arrive(self.state, self.count, nbytes, self.name))

    def expect_tx(self, nbytes: int) -> None:
        self._set(barrier_expect_tx(self.state, self.count, nbytes, self.name))

    def complete_tx(self, nbytes: int) -> None:
        self._set(barrier_complete_tx(self.state, self.count, nbytes, self.name))

    def try_wait_parity(self, parity: int) -> bool:
        return barrier_try_wait_parity(self.state, parity)

    def __repr__(self) -> str:
        return (
            f"MBarrier({self.name}: phase {self.phase} (bit {self.phase_bit}), "
            f"pending arrivals {self.pending} of {self.count}, tx-count {self.tx} B)"
        )


# -- ops ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One step of a program. Build ops with ``pipe`` (below), not by hand."""

    name: str
    barrier: str | None = None  # "full" or "empty"
    index: int | None = None  # the barrier's stage
    parity: int | None = None
    nbytes: int | None = None
    tile: int | None = None
    stage: int | None = None

    def barrier_name(self) -> str:
        return f"{self.barrier}[{self.index}]"

    def __str__(self) -> str:
        if self.name == "wait":
            return f"wait {self.barrier_name()} parity {self.parity}"
        if self.name == "arrive":
            return f"arrive on {self.barrier_name()}"
        if self.name in ("arrive_expect_tx", "expect_tx"):
            return f"{self.name} {self.nbytes} B on {self.barrier_name()}"
        if self.name == "copy":
            return (
                f"copy tile {self.tile} into stage {self.stage} "
                f"(complete_tx {self.nbytes} B on {self.barrier_name()})"
            )
        return f"read stage {self.stage} (tile {self.tile})"

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: ``{"op": "wait", "barrier": "full", "index": 1, "parity": 0}``."""
        data: dict[str, Any] = {"op": self.name}
        for field in OP_FIELDS[self.name]:
            data[field] = getattr(self, "nbytes" if field == "bytes" else field)
        return data


def _int(value: Any, what: str) -> int:
    """An int, or a clear error: bools and floats are refused (numpy integers are fine)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        hint = ""
        if isinstance(value, float):
            hint = " (a float: use // for integer division)"
        elif isinstance(value, bool):
            hint = " (a bool: write 0 or 1)"
        raise ProgramError(f"{what} must be an int, not {value!r}{hint}")
    return int(value)


def _in_range(value: Any, low: int, high: int, what: str, why: str) -> int:
    number = _int(value, what)
    if not low <= number <= high:
        raise ProgramError(f"{what} is {number}, out of range: {why}")
    return number


@dataclass(frozen=True)
class BarrierHandle:
    """The name of one barrier (``pipe.full[s]`` or ``pipe.empty[s]``): it builds ops, and
    does not show the barrier's state."""

    kind: str
    index: int

    def __str__(self) -> str:
        return f"{self.kind}[{self.index}]"

    def wait(self, parity: int) -> Op:
        """Block until the phase with this parity (0 or 1) has completed."""
        parity = _in_range(parity, 0, 1, f"the parity of {self}.wait", "a parity is 0 or 1")
        return Op("wait", self.kind, self.index, parity=parity)

    def arrive(self) -> Op:
        return Op("arrive", self.kind, self.index)

    def arrive_expect_tx(self, nbytes: int) -> Op:
        return Op("arrive_expect_tx", self.kind, self.index, nbytes=_bytes(nbytes, str(self)))

    def expect_tx(self, nbytes: int) -> Op:
        return Op("expect_tx", self.kind, self.index, nbytes=_bytes(nbytes, str(self)))


def _bytes(nbytes: Any, where: str) -> int:
    return _in_range(
        nbytes, 1, TX_LIMIT, f"the byte count on {where}", f"it must be 1 .. {TX_LIMIT}"
    )


class Pipe:
    """The handle your programs get: barrier names, stage count and tile size. Nothing else.

    ``pipe.full[s]``, ``pipe.empty[s]`` for s in range(S); ``pipe.tile_bytes``: the size of
    one tile (and of one copy); ``pipe.stages`` (S) and ``pipe.tiles`` (K).
    """

    def __init__(self, stages: int, tiles: int, tile_bytes: int = 4096) -> None:
        self.stages = _in_range(stages, 1, 64, "S (stages)", "use 1 .. 64 stages")
        self.tiles = _in_range(tiles, 1, 100_000, "K (tiles)", "use 1 .. 100000 tiles")
        self.tile_bytes = _in_range(tile_bytes, 16, TX_LIMIT, "tile_bytes", f"16 .. {TX_LIMIT}")
        if self.tile_bytes % 16:
            raise ProgramError(
                f"tile_bytes must be a multiple of 16 (TMA's unit), not {tile_bytes}"
            )
        self.full = tuple(BarrierHandle("full", s) for s in range(self.stages))
        self.empty = tuple(BarrierHandle("empty", s) for s in range(self.stages))

    def copy(self, tile: int, stage: int, barrier: BarrierHandle, nbytes: int) -> Op:
        """Start an asynchronous bulk copy of ``tile`` into ``stage``; when it lands it does
        complete_tx(nbytes) on ``barrier``. Issued by one thread, like a TMA copy."""
        tile = _in_range(tile, 0, self.tiles - 1, "the tile of a copy", self._tiles())
        stage = _in_range(stage, 0, self.stages - 1, "the stage of a copy", self._stages())
        if not isinstance(barrier, BarrierHandle):
            raise ProgramError(
                f"the barrier of a copy must be pipe.full[s] or pipe.empty[s], not {barrier!r}"
            )
        return Op(
            "copy",
            barrier.kind,
            barrier.index,
            nbytes=_bytes(nbytes, "a copy"),
            tile=tile,
            stage=stage,
        )

    def consume(self, stage: int, tile: int) -> Op:
        """Read ``stage``, which must hold ``tile`` (landed, not overwritten)."""
        stage = _in_range(stage, 0, self.stages - 1, "the stage of a read", self._stages())
        tile = _in_range(tile, 0, self.tiles - 1, "the tile of a read", self._tiles())
        return Op("consume", stage=stage, tile=tile)

    def _tiles(self) -> str:
        return f"tiles are 0 .. {self.tiles - 1} (K = {self.tiles})"

    def _stages(self) -> str:
        return f"stages are 0 .. {self.stages - 1} (S = {self.stages})"

    def __repr__(self) -> str:
        return f"Pipe(S={self.stages}, K={self.tiles}, tile_bytes={self.tile_bytes})"


Program = Callable[[Pipe, int, int], Iterator[Op]]


def default_max_ops(stages: int, tiles: int) -> int:
    """A generous op limit per program: a correct one needs 3 ops per tile."""
    return 8 * tiles + 4 * stages + 32


# -- JSON, for moving op lists out of an untrusted process ----------------------------------


def ops_to_json(ops: list[Op]) -> list[dict[str, Any]]:
    return [op.to_json() for op in ops]


def _strict_int(data: dict[str, Any], field: str, where: str) -> int:
    value = data[field]
    if type(value) is not int:  # JSON ints only: no bools, floats or strings posing as ints
        kind = type(value).__name__
        raise ProgramError(f"{where}: {field!r} must be an integer, not {value!r} ({kind})")
    return value


def op_from_json(data: Any, stages: int, tiles: int, where: str = "op") -> Op:
    """One op from its JSON form, checked field by field against S and K."""
    if not isinstance(data, dict):
        raise ProgramError(f"{where} must be a JSON object, not {type(data).__name__}")
    name = data.get("op")
    if not isinstance(name, str) or name not in OP_FIELDS:
        known = ", ".join(OP_FIELDS)
        raise ProgramError(f"{where}: unknown op {name!r}; the ops are: {known}")
    fields = OP_FIELDS[name]
    missing = [f for f in fields if f not in data]
    extra = sorted(str(k) for k in data if k != "op" and k not in fields)
    if missing or extra:
        raise ProgramError(
            f"{where} ({name}): fields must be exactly {', '.join(fields)}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unexpected {', '.join(extra)}" if extra else "")
        )
    where = f"{where} ({name})"
    values: dict[str, Any] = {}
    for field in fields:
        if field == "barrier":
            kind = data["barrier"]
            if not isinstance(kind, str) or kind not in BARRIER_KINDS:
                raise ProgramError(f"{where}: barrier must be 'full' or 'empty', not {kind!r}")
            values["barrier"] = kind
            continue
        number = _strict_int(data, field, where)
        limits = {
            "index": (stages - 1, f"barrier indices are 0 .. {stages - 1} (S = {stages})"),
            "stage": (stages - 1, f"stages are 0 .. {stages - 1} (S = {stages})"),
            "tile": (tiles - 1, f"tiles are 0 .. {tiles - 1} (K = {tiles})"),
            "parity": (1, "a parity is 0 or 1"),
            "bytes": (TX_LIMIT, f"a byte count is 1 .. {TX_LIMIT}"),
        }
        high, why = limits[field]
        low = 1 if field == "bytes" else 0
        if not low <= number <= high:
            raise ProgramError(f"{where}: {field} {number} is out of range: {why}")
        values["nbytes" if field == "bytes" else field] = number
    return Op(name, **values)


def ops_from_json(data: Any, stages: int, tiles: int, max_ops: int) -> list[Op]:
    """Parse an op list sent as JSON, refusing anything malformed with a ValueError
    (``ProgramError``) that says what is wrong and where."""
    if not isinstance(data, list):
        raise ProgramError(f"an op list must be a JSON array, not {type(data).__name__}")
    if len(data) > max_ops:
        raise ProgramError(
            f"the op list has {len(data)} ops, more than the limit of {max_ops}",
            "protocol_too_many_ops",
        )
    return [op_from_json(item, stages, tiles, f"op {n}") for n, item in enumerate(data)]


# -- running a student's program ------------------------------------------------------------


def _describe_non_op(item: Any) -> str:
    if isinstance(item, BarrierHandle):
        return f"the barrier {item} itself; yield an op such as {item}.wait(parity)"
    if inspect.ismethod(item) or inspect.isfunction(item):
        name = getattr(item, "__name__", "a function")
        return f"the method {name} itself, not its result: add the call's parentheses"
    if isinstance(item, (list, tuple)):
        return f"a {type(item).__name__} ({len(item)} items); yield one op at a time"
    text = repr(item)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} (a {type(item).__name__})"


def collect_ops(program: Program, pipe: Pipe, stages: int, tiles: int, max_ops: int) -> list[Op]:
    """Run ``program(pipe, S, K)`` to the end and return its ops, checked.

    Refuses a program that is not a generator function, yields something other than an op,
    or yields more than ``max_ops`` ops (an endless loop is cut off there). Exceptions raised
    by the program itself propagate unchanged.
    """
    name = getattr(program, "__name__", "the program")
    if not callable(program):
        raise ProgramError(f"{name} must be a function, not {type(program).__name__}")
    produced = program(pipe, stages, tiles)
    if not inspect.isgenerator(produced):
        what = type(produced).__name__
        hint = (
            "; yield the ops one at a time instead of returning a list"
            if isinstance(produced, (list, tuple))
            else ""
        )
        raise ProgramError(
            f"{name} must be a generator function (one `yield op` per op); "
            f"calling it returned {what}{hint}"
        )
    ops: list[Op] = []
    try:
        for item in produced:
            if len(ops) >= max_ops:
                raise ProgramError(
                    f"{name} yielded more than {max_ops} ops for S = {stages}, K = {tiles} "
                    f"(a correct one needs about {3 * tiles}): is there an endless loop?",
                    "protocol_too_many_ops",
                )
            if type(item) is not Op:
                raise ProgramError(
                    f"{name}'s op {len(ops)} is not an op: it yielded {_describe_non_op(item)}"
                )
            # Through JSON and back: the same checks the grader applies to a list it receives.
            ops.append(op_from_json(item.to_json(), stages, tiles, f"{name}'s op {len(ops)}"))
    finally:
        produced.close()
    return ops
