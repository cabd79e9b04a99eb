# The producer arrives on full[s] without announcing the copy's bytes (arrive, not
# arrive_expect_tx): the arrival alone completes the phase, so the consumer's wait returns
# before the copy has landed.
# expect: zero protocol_read_before_landed
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
        yield pipe.full[stage].arrive()  # no expect_tx: the phase does not wait for the bytes
        yield pipe.copy(tile=i, stage=stage, barrier=pipe.full[stage], nbytes=pipe.tile_bytes)
