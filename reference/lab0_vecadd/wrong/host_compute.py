# Computes a*x+y on the host (reaching the copy by a name the static check does not see) and
# copies the answer into `out`: no kernel does the work. Without a GPU no kernel is launched;
# on a GPU the grader's re-run of the (missing) kernels leaves `out` unwritten.
# expect: zero no_kernel | not_reproducible
def saxpy(a, x, y, out):
    fetch = getattr(x, "copy_to_" + "host")
    result = a * fetch() + getattr(y, "copy_to_" + "host")()
    out.copy_to_device(result.astype(out.dtype))
    return out
