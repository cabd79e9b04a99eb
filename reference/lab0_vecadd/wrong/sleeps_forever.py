# Sleeps forever.
# expect: zero timeout
import time


def saxpy(a, x, y, out):
    time.sleep(10**9)
