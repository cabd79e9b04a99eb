# expect: zero stale
"""Known wrong (lab 1): computes once and returns the saved output on every later call.
"""

from reference.lab1_streams import solution

setup = solution.setup


def run(p: solution.Pipeline, gain: float) -> float:
    saved = getattr(p, "saved", None)
    if saved is not None:
        p.host_out[:] = saved
        return 1.0
    elapsed = solution.run(p, gain)
    p.saved = p.host_out.copy()
    return elapsed
