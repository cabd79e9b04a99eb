# Right answer, but leaves behind a process that ignores SIGTERM and escaped into its own
# session (so a kill of the process group misses it).
# expect: zero spawned_process
import subprocess
import sys

from numba import cuda

_STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(3600)"
_child = None


@cuda.jit
def saxpy_kernel(a, x, y, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a * x[i] + y[i]


def saxpy(a, x, y, out):
    global _child
    if _child is None:
        _child = subprocess.Popen([sys.executable, "-c", _STUBBORN], start_new_session=True)
    saxpy_kernel[(out.size + 255) // 256, 256](a, x, y, out)
    return out
