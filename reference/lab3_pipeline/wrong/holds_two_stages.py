# The producer acquires the stage of tile i + 1 before it issues tile i's copy, so it always
# holds two stages. With two stages or more that works; with S = 1 both are stage 0, and the
# producer waits for the consumer to release a tile it has not copied yet: a deadlock that
# only S = 1 shows.
# expect: zero protocol_deadlock
# task: protocol
from reference.lab3_pipeline.solution import consumer  # noqa: F401  (the consumer is right)
from reference.lab3_pipeline.solution import (  # noqa: F401  (part C is right)
    bytes_in_flight_per_sm,
    consumer_parity,
    consumer_start_phase,
    producer_parity,
    producer_start_phase,
    threads_that_issue_a_tma_copy,
    tma_saves_registers_over_cp_async,
    why_not_two_phases_ahead,
)


def _acquire(pipe, S, i):
    return pipe.empty[i % S].wait((i // S) % 2 ^ 1)


def producer(pipe, S, K):
    yield _acquire(pipe, S, 0)
    for i in range(K):
        stage = i % S
        if i + 1 < K:
            yield _acquire(pipe, S, i + 1)  # one stage ahead, before the copy below
        yield pipe.full[stage].arrive_expect_tx(pipe.tile_bytes)
        yield pipe.copy(tile=i, stage=stage, barrier=pipe.full[stage], nbytes=pipe.tile_bytes)
