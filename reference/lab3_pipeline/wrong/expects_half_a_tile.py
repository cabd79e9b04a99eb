# The producer announces half a tile (arrive_expect_tx(tile_bytes // 2)) but the copy brings
# a whole one: the tx-count of full[s] overshoots below 0 and never returns to 0, so the
# phase never completes and the consumer waits forever.
# expect: zero protocol_tx_mismatch
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
        yield pipe.full[stage].arrive_expect_tx(pipe.tile_bytes // 2)  # half of what lands
        yield pipe.copy(tile=i, stage=stage, barrier=pipe.full[stage], nbytes=pipe.tile_bytes)
