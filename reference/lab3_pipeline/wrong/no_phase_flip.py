# Both programs keep the same parity forever (they never flip it when the stage index wraps
# to 0). In the second round a wait returns for a phase its program had already waited for
# (the producer's wait(1) on empty[0] names the phase before phase 0 again), so it does not
# wait for the consumer at all.
# expect: zero protocol_phase_alias
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
        stage = i % S
        yield pipe.empty[stage].wait(1)  # should flip: (i // S) % 2 ^ 1
        yield pipe.full[stage].arrive_expect_tx(pipe.tile_bytes)
        yield pipe.copy(tile=i, stage=stage, barrier=pipe.full[stage], nbytes=pipe.tile_bytes)


def consumer(pipe, S, K):
    for i in range(K):
        stage = i % S
        yield pipe.full[stage].wait(0)  # should flip: (i // S) % 2
        yield pipe.consume(stage=stage, tile=i)
        yield pipe.empty[stage].arrive()
