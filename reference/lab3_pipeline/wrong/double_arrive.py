# The producer arrives twice per tile on full[s] (arrive_expect_tx, then a stray arrive): the
# second arrival lands on a phase that already has its one arrival.
# expect: zero protocol_extra_arrive
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
        yield pipe.empty[stage].wait(phase ^ 1)
        yield pipe.full[stage].arrive_expect_tx(pipe.tile_bytes)
        yield pipe.full[stage].arrive()  # one arrival too many
        yield pipe.copy(tile=i, stage=stage, barrier=pipe.full[stage], nbytes=pipe.tile_bytes)
