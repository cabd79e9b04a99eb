"""A reference model for tests/test_answers_kind.py."""


def start_phase() -> int:
    return 1


def parity(i: int, stages: int) -> int:
    return (i // stages) % 2


def bandwidth(bytes_: float, seconds: float) -> float:
    return bytes_ / seconds


def is_true() -> bool:
    return False
