# One barrier per stage for both directions: the producer waits on full[s] (not empty[s])
# and the consumer releases on full[s]. The completion of "tile landed" then also looks like
# "stage free" to the producer, which copies over a tile the consumer has not read.
# expect: zero protocol_overwrite
# task: protocol
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
        yield pipe.full[stage].wait(phase ^ 1)  # should be empty[stage]
        yield pipe.full[stage].arrive_expect_tx(pipe.tile_bytes)
        yield pipe.copy(tile=i, stage=stage, barrier=pipe.full[stage], nbytes=pipe.tile_bytes)


def consumer(pipe, S, K):
    for i in range(K):
        stage, phase = i % S, (i // S) % 2
        yield pipe.full[stage].wait(phase)
        yield pipe.consume(stage=stage, tile=i)
        yield pipe.full[stage].arrive()  # should be empty[stage]
