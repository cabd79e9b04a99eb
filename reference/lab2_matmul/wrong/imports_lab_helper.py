# expect: zero import_error
"""Known wrong (lab 2): part A handed to a blocked loop order shipped with the lab, called with
the reference's loop orders (lab.py's REFERENCE_LOOPS); part B is the reference's. The lab
shipped one in labs/lab2_matmul/loops.py until 2026-12; the blocked order is part A's answer,
so it now lives on the grader's side (reference/lab2_matmul/orders.py, hidden from submissions)
and loops.py keeps only the tools (the unblocked order, check_order, count_misses).
"""

from labs.lab2_matmul.loops import blocked_order as _shipped
from reference.lab2_matmul.solution import matmul  # noqa: F401  (part B is right)


def blocked_order(n, block):
    return _shipped(n, block, "ikj", "ikj")
