# Hands the product to cuBLAS through CuPy instead of writing a kernel: right and fast, and
# not what the lab asks for.
# expect: zero forbidden
import cupy

from reference.lab2_matmul.solution import blocked_order  # noqa: F401  (part A is right)


def matmul(a, b, out):
    cupy.matmul(cupy.asarray(a), cupy.asarray(b), out=cupy.asarray(out))
    return out
