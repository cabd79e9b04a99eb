# Rewrites the grader's evidence from inside its own process: every call is reported as one
# launch of nothing, and the answer is computed on the host. The child's reports are claims:
# on a GPU the grader re-runs what was recorded (nothing) and `out` stays unwritten. Under
# the simulator nothing is re-run, so this fixture needs a GPU.
# expect: zero not_reproducible
# needs: gpu
import contextlib
import sys


def _forged_recording(self, *args, **kwargs):
    recording = sys.modules["grader.record"].Recording(launches=1)

    @contextlib.contextmanager
    def forged():
        yield recording

    return forged()


sys.modules["grader.record"].Recorder.recording = _forged_recording


def saxpy(a, x, y, out):
    fetch = getattr(x, "copy_to_" + "host")
    result = a * fetch() + getattr(y, "copy_to_" + "host")()
    out.copy_to_device(result.astype(out.dtype))
    return out
