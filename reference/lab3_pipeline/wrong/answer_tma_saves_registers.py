# Believes the claim that TMA saves registers over cp.async because cp.async passes the data
# through registers. It does not: cp.async copies global -> shared without registers too.
# expect: less wrong_answer
# task: answers
from reference.lab3_pipeline.solution import (  # noqa: F401  (part A and the rest of C are right)
    consumer,
    producer,
    bytes_in_flight_per_sm,
    consumer_parity,
    consumer_start_phase,
    producer_parity,
    producer_start_phase,
    threads_that_issue_a_tma_copy,
    why_not_two_phases_ahead,
)


def tma_saves_registers_over_cp_async():
    return True
