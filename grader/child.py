"""The child process: imports one submission and runs one phase of a lab on it.

Started by :mod:`grader.sandbox` as ``python -m grader.child FD`` with the job as JSON on stdin.
It sends frames on file descriptor FD (see :mod:`grader.channel`) and never decides a verdict:
outputs go back to the parent, which alone knows the expected values. What each task does in
each phase is its kind's (:mod:`grader.kinds`): this module sets up, imports the submission,
and hands every task to its kind.

Phases:
    check   run every correctness case (each kind says how) and send back what it returned;
    time    time every benchmark (GPU only), and send back a fingerprint of every output.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import sys
from pathlib import Path
from typing import Any

from grader import devices, errors
from grader.annotate import nvtx_range
from grader.ceilings import copy_bandwidth
from grader.channel import FrameWriter
from grader.kinds import kind_of
from grader.selfprofile import run_profiled
from grader.spec import Lab


class Harness:
    def __init__(self, job: dict[str, Any], writer: FrameWriter):
        import labs

        self.job = job
        self.send = writer.send
        self.lab: Lab = labs.get(job["lab"])
        self.submission = Path(job["submission"])
        self.poisoned = False  # after a CUDA error the context is unusable

    def failure(self, exc: BaseException) -> dict[str, Any]:
        """The submission's exception, described; after a CUDA error the context is lost."""
        error = errors.describe(exc, self.submission)
        self.poisoned = self.poisoned or error["kind"] == "cuda_error"
        return error

    def progress(self, done: int, total: int, text: str) -> None:
        self.send({"type": "progress", "done": done, "total": total, "text": text})

    # -- set-up -------------------------------------------------------------------------------

    def run(self) -> None:
        info = devices.device_info()
        timer = None
        if self.job["phase"] == "time":
            from grader.timing import EventTimer

            timer = EventTimer(warmup_s=self.job.get("warmup_s", 0.1))
            info["sync_gap_s"] = timer.calibrate()
        # Each kind prepares before the submission is imported (the array libraries its tasks
        # use), so the snapshot below holds the real timing functions.
        tasks = [(self.lab.task(t["task"]), t) for t in self.job["tasks"]]
        states = {task.name: kind_of(task).child_prepare(task) for task, _ in tasks}
        from grader.timing import replaced_timing_functions, timing_snapshot

        hooks = tuple(
            str(getattr(task, "stress_hook", "")).replace(":", ".")
            for task, _ in tasks
            if getattr(task, "stress_hook", "")
        )
        for hook in hooks:  # import the lab's hooks now, so the snapshot holds the real ones
            importlib.import_module(hook.rsplit(".", 1)[0])
        snapshot = timing_snapshot(hooks)
        # The first frame on the channel, written before the submission is loaded: it says which
        # harness this is, and no submission can have written it (grader.judge.runs_in_worker).
        self.send({"type": "hello", "process": "child", "device": info, "pid": os.getpid()})
        module = self.load_submission()
        if module is None:
            return
        for task, task_job in tasks:
            kind = kind_of(task)
            if self.job["phase"] == "check":
                kind.child_check(self, task, module, task_job, states[task.name])
            else:
                kind.child_time(self, task, module, task_job, states[task.name], timer)
            replaced = replaced_timing_functions(snapshot)
            if replaced:
                self.send({"type": "tampered", "task": task.name, "replaced": replaced})
            if self.poisoned:
                break
        if timer is not None and self.job.get("ceilings") and not self.poisoned:
            self.send(copy_bandwidth(timer))
        self.send({"type": "done"})

    def load_submission(self) -> Any:
        sys.path.insert(0, str(self.submission.parent))
        spec = importlib.util.spec_from_file_location("submission", self.submission)
        module = importlib.util.module_from_spec(spec)
        sys.modules["submission"] = module
        try:
            with nvtx_range("import submission"):
                spec.loader.exec_module(module)
        except BaseException as exc:
            info = errors.describe(exc, self.submission)
            if info["kind"] not in ("exited", "not_implemented"):
                info["kind"] = "import_error"
            self.send({"type": "fatal", "stage": "import", "error": info})
            return None
        return module

    def entry_point(self, module: Any, task: Any, name: str, args: list[str]) -> Any:
        """The submission's function ``name``, callable with ``args``; or a fatal frame."""
        fn = getattr(module, name, None)
        if fn is None or not callable(fn):
            self.send(
                {
                    "type": "fatal",
                    "stage": "entry",
                    "task": task.name,
                    "error": {
                        "kind": "missing_function",
                        "type": "AttributeError",
                        "message": f"the submission has no function named {name!r}",
                    },
                }
            )
            return None
        try:
            inspect.signature(fn).bind(*args)
        except TypeError as exc:
            wanted = ", ".join(args)
            self.send(
                {
                    "type": "fatal",
                    "stage": "entry",
                    "task": task.name,
                    "error": {
                        "kind": "signature",
                        "type": "TypeError",
                        "message": f"{name} must take ({wanted}): {exc}",
                    },
                }
            )
            return None
        except ValueError:
            pass  # no signature to read (a builtin or a compiled dispatcher): call it anyway
        return fn


def main() -> None:
    fd = int(sys.argv[1])
    job = json.loads(sys.stdin.buffer.readline())
    sys.stdin.close()
    sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the process
    writer = FrameWriter(fd, bytes.fromhex(job.pop("token")))
    try:
        run_profiled(job, Harness(job, writer).run)
    except BaseException as exc:
        writer.send({"type": "fatal", "stage": "harness", "error": errors.describe(exc)})
    sys.stdout.flush()
    sys.stderr.flush()


if __name__ == "__main__":
    main()
