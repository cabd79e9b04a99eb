# expect: partial
# zero-items: event_timing
"""Known wrong (lab 1): reports a made-up elapsed time instead of measuring it with events.
"""

from reference.lab1_streams import solution

setup = solution.setup


def run(p: solution.Pipeline, gain: float) -> float:
    solution.run(p, gain)
    return 0.5  # milliseconds, made up
