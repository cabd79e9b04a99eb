# The consumer waits on full[s] with the producer's parity, (i // S + 1) % 2: on a fresh
# full[0], wait(1) returns at once (it names the phase before phase 0), so the consumer reads
# stage 0 before tile 0 has landed.
# expect: zero protocol_read_before_landed
# task: protocol
from reference.lab3_pipeline.solution import producer  # noqa: F401  (the producer is right)
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


def consumer(pipe, S, K):
    for i in range(K):
        stage, phase = i % S, (i // S + 1) % 2  # off by one: should be (i // S) % 2
        yield pipe.full[stage].wait(phase)
        yield pipe.consume(stage=stage, tile=i)
        yield pipe.empty[stage].arrive()
