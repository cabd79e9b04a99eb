"""Lab 2 (matrix multiplication): the CUDA C SGEMM ladder, cuBLAS, tolerances and the bench."""
