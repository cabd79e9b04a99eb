"""Lab 3 (TMA-style pipelining): the reference ring protocol, answers and known-wrong fixtures."""
