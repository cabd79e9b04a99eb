"""Lab 3: TMA-style pipelining, from the ring protocol on paper to copies on the GPU."""
