"""What a child process is asked to do: the job for one phase, with every seed it needs.

Seeds are the spec's public ones, or with the batch's secret mixed in (``cwb grade``), so a
submission cannot precompute its inputs. A case's k-th call gets ``seed + k * SECOND_CALL``; a
benchmark's input sets and its fingerprint weights get seeds of their own.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from grader.kinds import kind_of
from grader.spec import Lab, Task
from grader.timing import StopRule

SECOND_CALL = 1_000_003  # offset of the seed of each case's later calls


def mix(seed: int, secret: str | None) -> int:
    """The public seed, or with a secret mixed in so inputs cannot be precomputed."""
    if not secret:
        return seed
    digest = hashlib.blake2b(str(seed).encode(), key=secret.encode()[:64], digest_size=8)
    return int.from_bytes(digest.digest(), "little") >> 1


def case_jobs(task: Task, mode: str, secret: str | None) -> list[dict[str, Any]]:
    """Every correctness case of ``task`` for this mode, with one seed per call."""
    kind = kind_of(task)
    cases = task.sim_cases if mode == "simulator" else task.cases
    return [
        {
            "name": c.name,
            "params": dict(c.params),
            "seeds": [mix(c.seed + k * SECOND_CALL, secret) for k in range(kind.calls_per_case)],
            **kind.case_job(task, mode),
        }
        for c in cases
    ]


def bench_jobs(task: Task, secret: str | None, reference: bool = False) -> list[dict[str, Any]]:
    """Every benchmark of ``task``: its input sets' seeds and its fingerprint weights' seed.
    ``reference``: the process computes what the fingerprints must be."""
    sets = getattr(task, "input_sets", 3)
    return [
        {
            "name": b.name,
            "params": dict(b.params),
            "seeds": [mix(b.seed * 16 + k, secret) for k in range(sets)],
            "weights_seed": mix(b.seed * 16 + 15, secret),
            **({"expected": True} if reference else {}),
        }
        for b in task.benchmarks
    ]


def phase_job(
    lab: Lab,
    submission: Path,
    phase: str,
    mode: str,
    secret: str | None,
    *,
    only: list[str] | None = None,
    stop_rule: StopRule | None = None,
    reference: bool = False,
    ceilings: bool = False,
) -> dict[str, Any]:
    """The child's job for ``phase`` ("check" or "time"); ``only`` names the tasks to run."""
    tasks = []
    for task in lab.tasks:
        if only is not None and task.name not in only:
            continue
        if phase == "check":
            tasks.append({"task": task.name, "cases": case_jobs(task, mode, secret)})
        else:
            tasks.append({"task": task.name, "benchmarks": bench_jobs(task, secret, reference)})
    job: dict[str, Any] = {
        "lab": lab.name,
        "submission": str(submission),
        "phase": phase,
        "tasks": tasks,
    }
    if phase == "time":
        job["stop_rule"] = (stop_rule or StopRule()).__dict__
    if reference:
        job["reference"] = True
    if ceilings:
        job["ceilings"] = True
    return job
