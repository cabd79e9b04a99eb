# expect: zero modified_input
"""Known wrong (lab 1): scales its input buffer in place before copying it.
"""

from reference.lab1_streams import solution

setup = solution.setup


def run(p: solution.Pipeline, gain: float) -> float:
    p.host_in *= 1.0001
    return solution.run(p, gain)
