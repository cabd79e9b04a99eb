# The consumer yields the barrier itself (pipe.full[s]) where it means to wait on it: that is
# not an op, and the grader says so instead of guessing.
# expect: zero protocol_bad_program
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
        stage = i % S
        yield pipe.full[stage]  # should be pipe.full[stage].wait((i // S) % 2)
        yield pipe.consume(stage=stage, tile=i)
        yield pipe.empty[stage].arrive()
