# Little's law with the wrong units: the bytes in flight per SM returned in KiB, not bytes.
# expect: less wrong_answer
# task: answers
from reference.lab3_pipeline.solution import (  # noqa: F401  (part A and the rest of C are right)
    consumer,
    producer,
    consumer_parity,
    consumer_start_phase,
    producer_parity,
    producer_start_phase,
    threads_that_issue_a_tma_copy,
    tma_saves_registers_over_cp_async,
    why_not_two_phases_ahead,
)


def bytes_in_flight_per_sm(bandwidth_bytes_per_s, latency_s, sms):
    return bandwidth_bytes_per_s * latency_s / sms / 1024  # KiB, but the question asks for bytes
