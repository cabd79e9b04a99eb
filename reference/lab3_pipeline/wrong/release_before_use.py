# The consumer releases the stage (arrives on empty[s]) before it reads it: the producer may
# then copy the next round's tile into the stage while the consumer still has to read it.
# expect: zero protocol_overwrite
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
        stage, phase = i % S, (i // S) % 2
        yield pipe.full[stage].wait(phase)
        yield pipe.empty[stage].arrive()  # too early: the read below has not happened yet
        yield pipe.consume(stage=stage, tile=i)
