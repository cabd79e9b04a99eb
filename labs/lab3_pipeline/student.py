"""Lab 3: TMA-style pipelining. Edit this file (parts A and C) and student.cu (part B).
Read labs/lab3_pipeline/README.md first.

Part A. Write the producer and the consumer of an S-stage ring as generator functions that
``yield`` ops built from ``pipe`` (the op API is in labs/lab3_pipeline/protocol.py). Tile i
uses stage i % S. Check them on your machine, no GPU needed:

    python -m labs.lab3_pipeline.explore            # the usual (S, K) cases
    python -m labs.lab3_pipeline.explore -S 1 -K 3  # one case

A failure comes with the shortest schedule (who moved when) that breaks your protocol.

Part C. Answer each question by returning a value from its function; the questions are in
labs/lab3_pipeline/questions.py and in the handout. Functions with arguments are called with
many argument values, some you have not seen: compute, do not look up.
"""

from __future__ import annotations

from labs.lab3_pipeline.protocol import Pipe  # noqa: F401  (for your type hints)

# == Part A: the ring protocol ===============================================================


def producer(pipe, S, K):
    """Copy tiles 0 .. K-1 into the ring: tile i into stage i % S.

    For each tile: wait until its stage is free (pipe.empty[s].wait(parity)), announce the
    bytes that will land (pipe.full[s].arrive_expect_tx(pipe.tile_bytes)), then issue the
    copy (pipe.copy(tile=i, stage=s, barrier=pipe.full[s], nbytes=pipe.tile_bytes)).
    """
    # FILL ME IN: one `yield` per op, in a loop over the K tiles. The stage index is i % S;
    # the parity flips every time the stage index wraps around to 0. Which parity makes the
    # producer's first wait on each (fresh) empty[s] return at once? (Hint: the phase before
    # phase 0 counts as completed.)
    raise NotImplementedError("producer is not written yet")


def consumer(pipe, S, K):
    """Read tiles 0 .. K-1 from the ring, in order, and hand each stage back.

    For each tile: wait until its stage holds it (pipe.full[s].wait(parity)), read it
    (pipe.consume(stage=s, tile=i)), then release the stage (pipe.empty[s].arrive()).
    """
    # FILL ME IN: the same loop shape as the producer. The consumer must wait for phase 0 of
    # full[s] on its first use of stage s: which parity is that? Release only after the read.
    raise NotImplementedError("consumer is not written yet")


# == Part B: the CUDA C pipeline kernel lives in student.cu, not here ========================


# == Part C: short answers ===================================================================


def tma_saves_registers_over_cp_async() -> bool:
    """True or False: "TMA saves registers compared with cp.async, because cp.async passes the
    data through registers." Return True if the claim is right."""
    # FILL ME IN
    raise NotImplementedError("tma_saves_registers_over_cp_async is not answered yet")


def threads_that_issue_a_tma_copy() -> int:
    """How many threads issue one TMA copy of a tile?"""
    # FILL ME IN
    raise NotImplementedError("threads_that_issue_a_tma_copy is not answered yet")


def producer_start_phase() -> int:
    """The parity of the producer's first wait on empty[s] (CUTLASS's convention): 0 or 1."""
    # FILL ME IN
    raise NotImplementedError("producer_start_phase is not answered yet")


def consumer_start_phase() -> int:
    """The parity of the consumer's first wait on full[s]: 0 or 1."""
    # FILL ME IN
    raise NotImplementedError("consumer_start_phase is not answered yet")


def consumer_parity(i: int, S: int) -> int:
    """The parity the consumer passes to full[i % S].wait before reading tile i (S stages)."""
    # FILL ME IN: a formula in i and S, right for every S, not only the S you tried.
    raise NotImplementedError("consumer_parity is not answered yet")


def producer_parity(i: int, S: int) -> int:
    """The parity the producer passes to empty[i % S].wait before copying tile i."""
    # FILL ME IN
    raise NotImplementedError("producer_parity is not answered yet")


def bytes_in_flight_per_sm(bandwidth_bytes_per_s: float, latency_s: float, sms: int) -> float:
    """Little's law: the bytes each of ``sms`` SMs must have in flight to sustain
    ``bandwidth_bytes_per_s`` (the whole GPU) when each request takes ``latency_s`` seconds.
    Return bytes."""
    # FILL ME IN: mind the units (bytes, seconds).
    raise NotImplementedError("bytes_in_flight_per_sm is not answered yet")


def why_not_two_phases_ahead() -> str:
    """Why may a program never wait for a phase two or more ahead of the barrier's current
    phase? Return the letter ("A", "B", "C" or "D") of the right choice in the handout."""
    # FILL ME IN
    raise NotImplementedError("why_not_two_phases_ahead is not answered yet")
