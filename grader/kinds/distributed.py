"""The distributed kind: functions run in one process per rank under torch.distributed
(lab 4 part C: MoE dispatch and combine with uneven all-to-alls, a tensor-parallel block).

Child: for each case, starts PyTorch's own launcher (torchrun) inside the sandbox, with the
lab's harness on every rank; reads back what each rank wrote (a JSON status and a numpy
archive, no pickles) and sends it. The launcher and its ranks are processes of the sandbox, so
a hung collective, a crash or a runaway rank ends with the sandbox.

Parent: rebuilds the ranks' files in a folder of its own and judges them with the lab's check,
which compares them with the expected outputs (the reference's, which only the grader imports)
and the least traffic the routing needs.

What the ranks write comes from the submission's processes: byte counts and outputs are
evidence of honest mistakes, not proof against a forger (the handout says so).
"""

from __future__ import annotations

import importlib
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from grader.channel import Frame
from grader.check import CaseResult, call_result
from grader.kinds.base import ChildHarness, Kind, ScoreContext, Scored
from grader.probe import gpu_count
from grader.sandbox import kill_group
from grader.spec import ROOT, DistributedTask

MAX_FILE_BYTES = 64 << 20  # one rank's archive
MAX_STATUS_BYTES = 1 << 20


class DistributedKind(Kind):
    name = "distributed"
    calls_per_case = 1
    has_timing = False
    starts_processes = True
    rubric_kinds = ("collectives",)

    def child_check(self, h: ChildHarness, task: DistributedTask, module, job, state) -> None:
        """Every case's launcher started at once (each is a few processes that mostly import
        torch: one after another, three cases took 28 s of lab 4's check on the H200), then
        each one's ranks' files read back in the cases' order."""
        launcher = importlib.import_module(task.launcher)
        cases = job["cases"]
        with tempfile.TemporaryDirectory(prefix="ranks-") as folder:
            running = []
            for index, case in enumerate(cases):
                out = Path(folder) / f"case{index}"
                out.mkdir()
                world, parts = int(case["params"]["world"]), str(case["params"]["parts"])
                command = launcher.command(
                    h.submission,
                    out,
                    world,
                    int(case["seeds"][0]),
                    backend=task.backend,
                    parts=parts.split(","),
                    timeout_s=task.collective_timeout_s,
                )
                log = (Path(folder) / f"case{index}.stderr").open("wb")
                proc = subprocess.Popen(
                    command,
                    cwd=ROOT,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    start_new_session=True,
                )
                running.append((case, out, world, proc, log, time.perf_counter()))
            deadline = time.perf_counter() + task.run_timeout_s
            for index, (case, out, world, proc, log, started) in enumerate(running):
                h.progress(index, len(cases), f"{task.name} {case['name']}")
                header = {"type": "case", "task": task.name, "case": case["name"], "call": 0}
                try:
                    returncode = proc.wait(timeout=max(0.1, deadline - time.perf_counter()))
                except subprocess.TimeoutExpired:
                    _stop(proc)
                    returncode = None
                log.close()
                stderr = Path(log.name).read_bytes()[-4000:]
                if returncode is None:
                    stderr = b"the launcher ran out of time"
                launched = {"returncode": returncode, "stderr": stderr.decode(errors="replace")}
                files, arrays = _read_ranks(out, world)
                header["elapsed_s"] = time.perf_counter() - started
                h.send(
                    {**header, "status": "returned", "files": files, "launcher": launched}, arrays
                )
            for _, _, _, proc, log, _ in running:
                _stop(proc)
                log.close()

    def judge_call(
        self, task: DistributedTask, params: dict[str, Any], seed: int, frame: Frame, call: int
    ) -> CaseResult:
        result = call_result(task.name, params, frame)
        if result.reason:
            return result
        world, parts = int(params["world"]), str(params["parts"]).split(",")
        files = frame.header.get("files")
        if not isinstance(files, dict):
            result.reason = "protocol"
            result.message = "the ranks' results sent back are malformed"
            return result
        module_name, _, function = task.check.partition(":")
        check = getattr(importlib.import_module(module_name), function)
        with tempfile.TemporaryDirectory(prefix="cwb-ranks-") as folder:
            out = Path(folder)
            for rank in range(world):
                status = files.get(f"rank{rank}.json")
                if isinstance(status, str):
                    (out / f"rank{rank}.json").write_text(status)
                mine = {
                    name.split("/", 1)[1]: array
                    for name, array in frame.arrays.items()
                    if name.startswith(f"rank{rank}/")
                }
                if mine:
                    np.savez(out / f"rank{rank}.npz", **mine)
            verdict = check(out, seed, world, parts)
        if verdict.get("ok"):
            result.passed = True
            result.measures = {"traffic": verdict.get("traffic")}
            return result
        reason = str(verdict.get("reason") or "wrong_answer")
        result.reason = reason
        result.message = str(verdict.get("message", ""))[:4000]
        launched = frame.header.get("launcher") or {}
        if reason in ("crashed", "no_result") and launched.get("stderr"):
            result.traceback = str(launched["stderr"])[-2000:]
        return result

    def score_item(self, ctx: ScoreContext) -> Scored:
        if ctx.item.kind != "collectives":
            return super().score_item(ctx)
        gpus = gpu_count()
        if gpus < 2:
            return 0.0, False, f"not measured: needs >= 2 GPUs (this machine has {gpus})"
        return 0.0, False, "not measured: the NCCL timing of part C is not built yet"

    def how_checked(self, task: DistributedTask) -> str:
        return (
            "Your part C functions run in one process per rank, started by torchrun inside "
            f"the sandbox ({task.backend}); every rank's inputs are uneven on purpose (a rank "
            "with no tokens, experts nobody routes to). The grader compares what each rank "
            "received and returned with the reference, and what it sent with the least the "
            "routing needs."
        )


def _read_ranks(out: Path, world: int) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    """Each rank's status (text) and arrays, read without unpickling anything."""
    files: dict[str, str] = {}
    arrays: dict[str, np.ndarray] = {}
    for rank in range(world):
        status = out / f"rank{rank}.json"
        if status.is_file() and status.stat().st_size <= MAX_STATUS_BYTES:
            files[status.name] = status.read_text(errors="replace")
        archive = out / f"rank{rank}.npz"
        if archive.is_file() and archive.stat().st_size <= MAX_FILE_BYTES:
            try:
                with np.load(archive, allow_pickle=False) as data:
                    for name in data.files:
                        arrays[f"rank{rank}/{name}"] = np.asarray(data[name])
            except (OSError, ValueError):
                files[f"rank{rank}.error"] = "its archive could not be read"
    return files, arrays


KIND = DistributedKind()


def _stop(proc: subprocess.Popen) -> None:
    """End a launcher and its ranks (its own session) if it is still running."""
    if proc.poll() is None:
        kill_group(proc)
        proc.wait()
