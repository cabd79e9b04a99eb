# "Finds" the knee by returning the largest batch measured: wherever the curve bends, the
# answer is the end of the sweep.
# expect: less wrong_answer
# task: roofline
from reference.lab4_moe.solution import *  # noqa: F403  (everything else is right)


def find_knee(batches, times_ms):
    return float(max(batches))
