# expect: zero tampered
"""Known wrong (lab 1): a serial pipeline that replaces the grader's trace capture, so the
traced call would look perfectly overlapped. The grader's functions that measure inside the
submission's process are checked, by name and by code, after every task: replacing one is
tampering, and scores nothing.
"""

import sys

from reference.lab1_streams.serial import Pipeline, run, setup  # noqa: F401


def _ideal_capture(fn, synchronize, with_stack=True):
    result = fn()
    synchronize()
    return result, {"traceEvents": []}


sys.modules["grader.cupti"].capture = _ideal_capture
