# The producer waits on empty[s] with the consumer's parity, (i // S) % 2, so its very first
# wait, on a fresh empty[0] with parity 0, waits for phase 0 to complete, which needs the
# consumer's release of a tile that was never copied: nobody can ever move.
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


def producer(pipe, S, K):
    for i in range(K):
        stage, phase = i % S, (i // S) % 2
        yield pipe.empty[stage].wait(phase)  # should be phase ^ 1: start on phase 1
        yield pipe.full[stage].arrive_expect_tx(pipe.tile_bytes)
        yield pipe.copy(tile=i, stage=stage, barrier=pipe.full[stage], nbytes=pipe.tile_bytes)
