# The exam's j-i-k loop, unblocked: a complete order (full correctness for part A) with as many
# misses as the baseline, so no points for misses.
# expect: partial
# zero-items: misses
from reference.lab2_matmul.solution import matmul  # noqa: F401  (part B is right)


def blocked_order(n, block):
    return [(i, j, k) for j in range(n) for i in range(n) for k in range(n)]
