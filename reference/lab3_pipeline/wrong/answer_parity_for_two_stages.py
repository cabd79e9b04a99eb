# The consumer's parity written for S = 2 only ((i >> 1) & 1): right when S = 2, wrong for
# every other stage count.
# expect: less wrong_answer
# task: answers
from reference.lab3_pipeline.solution import (  # noqa: F401  (part A and the rest of C are right)
    consumer,
    producer,
    bytes_in_flight_per_sm,
    consumer_start_phase,
    producer_parity,
    producer_start_phase,
    threads_that_issue_a_tma_copy,
    tma_saves_registers_over_cp_async,
    why_not_two_phases_ahead,
)


def consumer_parity(i, S):
    return (i >> 1) & 1  # i // 2 % 2: the stage count is hard-wired
