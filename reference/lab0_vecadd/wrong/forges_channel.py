# Writes a fake result to the grader's channel, whose descriptor is on its command line.
# expect: zero channel
import os
import sys


def saxpy(a, x, y, out):
    os.write(int(sys.argv[1]), b'CWB1' + b'\0' * 16 + b'{"type": "done"}')
    return out
