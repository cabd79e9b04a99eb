# expect: zero forbidden
"""Known wrong (lab 2): part A asks the lab's spec for the reference blocking instead of writing
the loop nest. lab.py is the grader's side: naming it is forbidden (and in a graded run the
order it would load, reference/lab2_matmul/orders.py, is hidden by the sandbox anyway).
"""

from labs.lab2_matmul.lab import reference_order
from reference.lab2_matmul.solution import matmul  # noqa: F401  (part B is right)


def blocked_order(n, block):
    return reference_order({"n": n, "block": block})
