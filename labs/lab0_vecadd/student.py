"""Lab 0: SAXPY, out = a * x + y, with numba.cuda. Edit this file; `make lab0` grades it.

Read labs/lab0_vecadd/README.md first. The grader calls ``saxpy(a, x, y, out)`` with

    a    numpy.float32 scalar
    x    device array, float32, shape (n,)
    y    device array, float32, shape (n,)
    out  device array, float32, shape (n,), filled with NaN

and checks the array that ``saxpy`` returns. n is often not a multiple of your block size.
"""

from numba import cuda


@cuda.jit
def saxpy_kernel(a, x, y, out):
    # FILL ME IN: one thread per element.
    #   1. work out this thread's global index i (cuda.grid(1) does it for you);
    #   2. guard it: the last block has threads past the end of the arrays;
    #   3. out[i] = a * x[i] + y[i]
    pass


def saxpy(a, x, y, out):
    """Launch ``saxpy_kernel`` over all n elements and return ``out``."""
    # FILL ME IN: choose threads per block (a multiple of 32, say 256), compute how many
    # blocks cover n elements (round up!), launch with saxpy_kernel[blocks, threads](...),
    # then return out. Delete the line below when you start.
    raise NotImplementedError("saxpy is not written yet: fill in saxpy_kernel and saxpy")
