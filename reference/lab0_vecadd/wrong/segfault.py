# Crashes the Python process itself.
# expect: zero crashed
import ctypes


def saxpy(a, x, y, out):
    ctypes.string_at(0)
