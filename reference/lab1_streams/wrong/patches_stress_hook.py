# expect: zero tampered
"""Known wrong (lab 1): no cross-stream wait, and the race check switched off by replacing the
lab's stress hook with one that never slows the producer. The hook is one of the functions the
grader checks, by name and by code, after every task.
"""

import labs.lab1_streams.kernels as kernels
from reference.lab1_streams.wrong.missing_wait import run  # noqa: F401
from reference.lab1_streams.solution import Pipeline, setup  # noqa: F401

kernels.set_table_delay = lambda ns: None
