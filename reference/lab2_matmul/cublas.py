"""The ceiling lab 2's speed is measured against: cuBLAS SGEMM in true fp32 (never TF32).

The grader times ``matmul(a, b, out)`` with the student's arguments (numba device arrays:
a float32 (M, K), b float32 (K, N), out float32 (M, N)) on the reference's inputs, in the
reference's process. The implementation and its TF32 guard are in cuda_c.py, shared with
the benchmark harness. GPU only.
"""

from reference.lab2_matmul.cuda_c import cublas_matmul as matmul

__all__ = ["matmul"]
