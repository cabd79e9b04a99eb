# Prints megabytes (a debug print left in a loop).
# expect: zero output_limit
import sys


def saxpy(a, x, y, out):
    for i in range(100_000):
        sys.stdout.write(f"debug: element {i} of many, still printing\n")
    return out
