# Reaches cuBLAS without naming CuPy: the grader's harness has already imported it, so it sits
# in sys.modules. Right and fast in the submission's process; the grader's re-run of the
# kernels the call launched through numba (none) on new inputs leaves `out` unwritten. Under
# the simulator there is no CuPy to reach.
# expect: zero not_reproducible | library_kernel | no_kernel
# task: matmul
# needs: gpu
import sys

from reference.lab2_matmul.solution import blocked_order  # noqa: F401  (part A is right)


def matmul(a, b, out):
    library = sys.modules["cu" + "py"]
    library.matmul(library.asarray(a), library.asarray(b), out=library.asarray(out))
    return out
