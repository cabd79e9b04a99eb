# Ends the process before returning anything.
# expect: zero exited
import os


def saxpy(a, x, y, out):
    os._exit(0)
