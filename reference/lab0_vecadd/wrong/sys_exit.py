# Calls sys.exit(0) from inside the function.
# expect: zero exited
import sys


def saxpy(a, x, y, out):
    sys.exit(0)
