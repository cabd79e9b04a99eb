# expect: full
"""Reference solution for lab 3, parts A and C (part B, the CUDA C kernel, is in student.cu's
reference, not here).

Part A is CUTLASS's TMA pipeline protocol: tile i lives in stage i % S, and the phase bit
flips each time the stage index wraps around to 0, i.e. it is (i // S) % 2. The consumer
waits for that phase of full[s]; the producer waits on empty[s] for the *other* parity,
because in round r (r = i // S) it needs the consumer to have released round r - 1, and in
round 0 there is nothing to release: a fresh barrier's wait(1) returns at once.
"""

from __future__ import annotations


def producer(pipe, S, K):
    for i in range(K):
        stage, phase = i % S, (i // S) % 2
        yield pipe.empty[stage].wait(phase ^ 1)  # producer_acquire: the stage is free
        yield pipe.full[stage].arrive_expect_tx(pipe.tile_bytes)  # "tile_bytes will land"
        yield pipe.copy(tile=i, stage=stage, barrier=pipe.full[stage], nbytes=pipe.tile_bytes)


def consumer(pipe, S, K):
    for i in range(K):
        stage, phase = i % S, (i // S) % 2
        yield pipe.full[stage].wait(phase)  # consumer_wait: the tile has landed
        yield pipe.consume(stage=stage, tile=i)
        yield pipe.empty[stage].arrive()  # consumer_release, only after the read


# -- part C -----------------------------------------------------------------------------------


def tma_saves_registers_over_cp_async() -> bool:
    # False: cp.async (Ampere) already copies global -> shared without staging in registers.
    return False


def threads_that_issue_a_tma_copy() -> int:
    return 1


def producer_start_phase() -> int:
    return 1


def consumer_start_phase() -> int:
    return 0


def consumer_parity(i: int, S: int) -> int:
    return (i // S) % 2


def producer_parity(i: int, S: int) -> int:
    return ((i // S) % 2) ^ 1


def bytes_in_flight_per_sm(bandwidth_bytes_per_s: float, latency_s: float, sms: int) -> float:
    # Little's law: bytes in flight = throughput x latency, shared by the SMs.
    return bandwidth_bytes_per_s * latency_s / sms


def why_not_two_phases_ahead() -> str:
    return "C"
