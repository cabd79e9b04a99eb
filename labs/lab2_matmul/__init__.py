"""Lab 2: matrix multiplication, from the cache's point of view to the GPU's."""
