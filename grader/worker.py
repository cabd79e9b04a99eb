"""The grader's own GPU process: replays recorded calls, checks them and times them.

Started like a child (``python -m grader.worker FD``, sandboxed the same way, since the kernels
it runs are the submission's), but it imports no submission: it reads a job (one JSON line)
and the recordings (frames) from stdin, and runs only the recorded kernels
(:mod:`grader.replay`) on inputs of its own. Its frames have the child's formats, so the parent
judges them with the same code; what it measures, the submission's Python never touched.

Phases:
    verify  each recorded case, replayed once on fresh inputs: "case" frames;
    time    each recorded benchmark, timed cold over rotating input sets, with fingerprints;
            in the reference's run, also the ceilings (copy bandwidth, the library's kernel)
            and what the fingerprints must be.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from grader import devices, errors
from grader.ceilings import copy_bandwidth
from grader.channel import FrameReader, FrameWriter
from grader.kinds import kind_of
from grader.selfprofile import run_profiled
from grader.spec import Lab
from grader.timing import EventTimer, StopRule

INBOUND_TOKEN = bytes(16)  # the parent writes the payload; no submission process can reach it


class Worker:
    """Implements the part of the child's harness the kinds use (grader.kinds.base)."""

    def __init__(self, job: dict[str, Any], writer: FrameWriter, recordings: dict[str, Any]):
        import labs

        self.job = job
        self.send = writer.send
        self.lab: Lab = labs.get(job["lab"])
        self.submission = Path(job.get("submission", "<replay>"))
        self.poisoned = False
        self.recordings = recordings

    def failure(self, exc: BaseException) -> dict[str, Any]:
        error = errors.describe(exc)
        self.poisoned = self.poisoned or error["kind"] == "cuda_error"
        return error

    def progress(self, done: int, total: int, text: str) -> None:
        self.send({"type": "progress", "done": done, "total": total, "text": text})

    def run(self) -> None:

        info = devices.device_info()
        timer = None
        if self.job["phase"] == "probe":
            self._probe(info)
            return
        if self.job["phase"] == "time":
            timer = EventTimer(warmup_s=self.job.get("warmup_s", 0.1))
            info["sync_gap_s"] = timer.calibrate()
        # The first frame on the channel: the tasks this process runs are the worker's to speak
        # for (grader.judge.runs_in_worker); it runs no Python of the submission.
        self.send({"type": "hello", "process": "worker", "device": info, "pid": os.getpid()})
        for task_job in self.job["tasks"]:
            task = self.lab.task(task_job["task"])
            kind_of(task).worker_run(self, task, task_job, timer)
            if self.poisoned:
                break
        if timer is not None and self.job.get("ceilings") and not self.poisoned:
            self.send(copy_bandwidth(timer))
        self.send({"type": "done"})

    def _probe(self, info: dict[str, Any]) -> None:
        """What a cached reference run must still find (grader.reference_cache): the device,
        its copy bandwidth (memory clock, and what else shares the memory) and the time of a
        fixed number of SM cycles (the SM clock the compute-bound labs run at)."""
        timer = EventTimer(warmup_s=0.1)
        info["sync_gap_s"] = timer.calibrate()
        self.send({"type": "hello", "process": "worker", "device": info, "pid": os.getpid()})
        self.send(copy_bandwidth(timer))
        self.send(spin_clock(timer))
        self.send({"type": "done"})


def spin_clock(timer: EventTimer) -> dict[str, Any]:
    """The SM clock as it runs now: a spin of a fixed count of cycles, timed with events."""
    cycles = 2_000_000  # about 1 ms at the H200's 1.98 GHz
    stats = timer.measure(lambda: timer.spin(cycles), StopRule(max_samples=50), cold=False)
    return {
        "type": "ceiling",
        "name": "sm_clock",
        "hz": cycles / stats.median_s,
        "stats": stats.to_dict(),
    }


def read_payload(data: bytes) -> dict[str, Any]:
    """The recordings the parent sent after the job line, by key."""
    reader = FrameReader(INBOUND_TOKEN)
    frames = reader.feed(data)
    if reader.error:
        raise ValueError(f"the worker's payload is malformed: {reader.error}")
    return {str(f.header.get("key")): f for f in frames if f.type == "recording"}


def main() -> None:
    fd = int(sys.argv[1])
    job = json.loads(sys.stdin.buffer.readline())
    payload = sys.stdin.buffer.read()
    sys.stdin.close()
    sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the process
    writer = FrameWriter(fd, bytes.fromhex(job.pop("token")))
    try:
        run_profiled(job, Worker(job, writer, read_payload(payload)).run)
    except BaseException as exc:
        writer.send({"type": "fatal", "stage": "harness", "error": errors.describe(exc)})
    sys.stdout.flush()
    sys.stderr.flush()


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
