"""Every reason a submission can fail, with a title and what to do about it.

Reasons that only one kind of task produces live in that kind's module and are registered here
when :mod:`grader.kinds` is imported. The reason codes are stable: the known-wrong fixtures in
``reference/<lab>/wrong/`` name the reason they must be failed for (``# expect: out_of_bounds``),
and selftest checks it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    title: str
    hint: str
    zero_all: bool = False  # cheating or interference: every rubric item scores 0


REASONS: dict[str, Reason] = {
    "missing_file": Reason("Submission not found", "Check the path of the file you submitted."),
    "linked_file": Reason(
        "The submission is a link to files elsewhere",
        "Submit the files themselves: the grader does not follow symbolic links out of a "
        "submission.",
        zero_all=True,
    ),
    "syntax_error": Reason(
        "Python could not read the file", "Fix the syntax error on the line shown, then re-run."
    ),
    "forbidden": Reason(
        "Uses something this lab does not allow",
        "This task asks for your own kernel: remove the call shown and write the kernel.",
        zero_all=True,
    ),
    "import_error": Reason(
        "Failed while importing the file",
        "The error happened at import time, before any test ran: see the traceback.",
    ),
    "missing_function": Reason(
        "The function to grade is missing", "Keep the function names and signatures of the stub."
    ),
    "signature": Reason(
        "The function takes the wrong arguments", "Keep the signature of the stub: see the message."
    ),
    "not_implemented": Reason(
        "Not implemented yet",
        "Open {student}, fill in the parts marked FILL ME IN, then run `make {lab}` again.",
    ),
    "kernel_compile": Reason(
        "numba could not compile the kernel",
        "Read numba's message: usually a type it cannot infer or a Python feature kernels "
        "do not support (lists, dicts, printing objects).",
    ),
    "exception": Reason("Raised an exception", "See the message and the traceback."),
    "exited": Reason(
        "Ended the grading process early",
        "Do not call sys.exit(), exit() or os._exit() in a submission: return the result.",
    ),
    "crashed": Reason(
        "The process crashed",
        "A crash of the Python process itself (a segmentation fault, an abort): look for "
        "ctypes, raw pointers or a library used on memory it does not own.",
    ),
    "cuda_error": Reason(
        "CUDA error",
        "An illegal memory access usually means an index past the end of an array. After a "
        "CUDA error the context is lost, so the remaining cases were not run.",
    ),
    "out_of_memory": Reason(
        "Ran out of memory", "Allocate only what the task needs; free what you no longer use."
    ),
    "timeout": Reason(
        "Ran past the time limit",
        "An infinite loop in a kernel or on the host, or a wait that never ends?",
    ),
    "output_limit": Reason(
        "Printed too much output", "Remove the prints (a print inside a loop adds up fast)."
    ),
    "out_of_bounds": Reason(
        "Wrote outside the output array",
        "Guard every thread with `if i < n:` (the last block has threads past the end).",
    ),
    "type": Reason(
        "Returned the wrong kind of object", "Return the device array `out` that you were given."
    ),
    "dtype": Reason("Returned the wrong dtype", "Keep the dtype of `out`."),
    "shape": Reason("Returned the wrong shape", "Return `out` itself, whole."),
    "unwritten": Reason(
        "The output was never written",
        "Did the kernel launch? Is the grid large enough to cover every element?",
    ),
    "nan": Reason(
        "NaN or inf in the output",
        "An element left unwritten still holds the grader's NaN: check the grid covers every "
        "element and the index arithmetic.",
    ),
    "wrong_answer": Reason(
        "Wrong values", "Compare the first mismatches with what your kernel computes there."
    ),
    "stale": Reason(
        "Stale results on a repeated call",
        "Compute the result from the inputs on every call; never cache it.",
    ),
    "modified_input": Reason("Changed its inputs", "Write only to `out`; inputs are read-only."),
    "returned_input": Reason("Returned one of its inputs", "Write into `out` and return it."),
    "memory_limit": Reason(
        "Used more host memory than the limit",
        "The process tree held more host memory than a submission may: keep only the arrays "
        "the task needs on the host, and free what you no longer use.",
    ),
    "process_limit": Reason(
        "Started too many processes",
        "Submissions may not start processes; the grader ended the whole process tree.",
        zero_all=True,
    ),
    "spawned_process": Reason(
        "Started other processes",
        "Submissions may not start processes; the grader killed them.",
        zero_all=True,
    ),
    "tampered": Reason(
        "Replaced the grader's timing functions",
        "A submission must not modify timers or synchronisation functions.",
        zero_all=True,
    ),
    "channel": Reason(
        "Wrote to the grader's result channel",
        "A submission must not write to file descriptors it did not open.",
        zero_all=True,
    ),
    "not_reproducible": Reason(
        "Your kernels alone did not compute the result",
        "The grader re-ran only the kernels your function launched, with the same launch "
        "configuration, on new inputs, in a process of its own, and the output was wrong: part "
        "of the work happened elsewhere (on the host, in a library such as cuBLAS, in copies) "
        "or a result was reused. Compute the whole result in your kernels, on every call.",
    ),
    "library_kernel": Reason(
        "A library's kernel did the work",
        "This task asks for your own kernel: the grader found a library's kernel (cuBLAS, "
        "CUTLASS, CuPy's) among those your call ran. Remove the library call.",
    ),
    "protocol": Reason(
        "Sent the grader results it cannot read",
        "The grader's process received malformed results from the submission's process: a "
        "submission must not write to the grader's channel or replace the harness.",
        zero_all=True,
    ),
    "timing_output_wrong": Reason(
        "Wrong results while being timed",
        "The outputs produced during timing are checked too: is the work finished before the "
        "function returns, and never cached?",
        zero_all=True,
    ),
    "no_result": Reason(
        "Stopped without reporting results", "See the captured output below for what happened."
    ),
    "not_run": Reason("Not run", "An earlier failure stopped the run before this case."),
    "harness_failed": Reason(
        "The grading process failed while running your submission",
        "The grader's harness runs in the same process as your code, so something your code did "
        "(replacing a library function, exhausting a resource) is the usual cause. If your code "
        "does nothing unusual, report the message to your instructor.",
    ),
    "infrastructure": Reason(
        "The grader itself failed (not your fault)",
        "Run `cwb doctor` and report the message to your instructor.",
    ),
}


def register(reasons: dict[str, Reason]) -> None:
    """Add the reasons a kind of task produces (``grader.kinds`` registers every kind's)."""
    for code, entry in reasons.items():
        if code in REASONS and REASONS[code] != entry:
            raise ValueError(f"two different failure reasons are called {code!r}")
        REASONS[code] = entry


def reason(code: str) -> Reason:
    return REASONS.get(code, Reason(code.replace("_", " "), ""))


def hint(code: str, **fields: str) -> str:
    try:
        return reason(code).hint.format(**fields)
    except (KeyError, IndexError):
        return reason(code).hint
