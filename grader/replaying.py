"""The parent's side of record and replay: the worker's jobs, and what its frames prove.

For a kind that replays (``Kind.replays``: kernel tasks on a GPU), the submission's process only
records what each call did (:mod:`grader.record`). The parent validates every recording
(:func:`grader.replay.check_recording`), then has its worker (:mod:`grader.worker`) run the
recorded calls on inputs the submission never saw: to check them ("verify") and to time them
("time"). A case passes only if the submission's own output was right *and* the replay's is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader import devices
from grader.channel import Frame, encode
from grader.check import CaseResult
from grader.jobs import SECOND_CALL, bench_jobs, mix
from grader.kinds import kind_of
from grader.replay import LIBRARY_KERNEL, RecordingError, check_recording
from grader.sandbox import ChildOutcome, Phase
from grader.spec import Lab
from grader.worker import INBOUND_TOKEN

REPLAY_CALL = 7  # the verify phase's inputs: the seed of a call the child never makes


def replaying_tasks(lab: Lab, names: list[str] | None = None) -> list[str]:
    return [t.name for t in lab.tasks if kind_of(t).replays and (names is None or t.name in names)]


def _modules(frames: list[Frame]) -> dict[str, np.ndarray]:
    """Every CUBIN one process sent (each is sent once, with the first call that used it)."""
    found = {}
    for frame in frames:
        for name, array in frame.arrays.items():
            if name.startswith("rec.module."):
                found[name[len("rec.") :]] = array
    return found


def _buffer_sizes(task: Any, params: dict[str, Any], seed: int) -> dict[str, int]:
    """The grader's buffers a recording may name, with their sizes in bytes."""
    inputs = task.make_inputs(params, np.random.default_rng(seed))
    sizes = {f"in.{n}": v.nbytes for n, v in inputs.items() if isinstance(v, np.ndarray)}
    # Scalar inputs a parameter may stand for (their "size" is never used for bounds).
    sizes |= {f"scalar.{n}": 0 for n, v in inputs.items() if not isinstance(v, np.ndarray)}
    elements = int(np.prod(task.output_shape(params), dtype=np.int64))
    itemsize = np.dtype(task.output_dtype).itemsize
    sizes["out"] = (elements + 2 * devices.GUARD_ELEMENTS) * itemsize
    return sizes


def _payload_frame(key: str, recording: Any, modules: dict[str, np.ndarray], frame: Frame) -> bytes:
    arrays = {n[len("rec.") :]: a for n, a in frame.arrays.items() if n.startswith("rec.scratch.")}
    for op in recording.get("ops", []):
        if op.get("op") == "launch" and f"module.{op.get('module')}" in modules:
            arrays[f"module.{op['module']}"] = modules[f"module.{op['module']}"]
    return encode({"type": "recording", "key": key, "recording": recording}, arrays, INBOUND_TOKEN)


def _refusal(task: str, case: str, params: dict[str, Any], exc: RecordingError) -> CaseResult:
    text = str(exc)
    library = "library" in text or bool(LIBRARY_KERNEL.search(text))
    return CaseResult(
        task,
        case,
        dict(params),
        False,
        "library_kernel" if library else "not_reproducible",
        f"the grader could not re-run your call: {text}",
    )


def verify_request(
    lab: Lab, check: Phase, results: list[CaseResult], mode: str, secret: str | None
) -> tuple[dict[str, Any], bytes, dict[tuple[str, str], int]]:
    """The worker's verify job for every passing case of a replaying task, its payload, and
    the seed each case is replayed with; refused recordings fail their case here."""
    modules = _modules(check.frames)
    frames = {
        (f.header.get("task"), f.header.get("case")): f
        for f in check.of_type("case")
        if f.header.get("call") == 0
    }
    jobs: dict[str, list[dict[str, Any]]] = {}
    payload: list[bytes] = []
    seeds: dict[tuple[str, str], int] = {}
    for index, result in enumerate(results):
        task = lab.task(result.task)
        if not kind_of(task).replays or not result.passed:
            continue
        case = next(
            c
            for c in (task.sim_cases if mode == "simulator" else task.cases)
            if c.name == result.case
        )
        frame = frames.get((task.name, case.name))
        seed = mix(case.seed + REPLAY_CALL * SECOND_CALL, secret)
        recording = frame.header.get("recording") if frame else None
        try:
            if recording is None:
                raise RecordingError("no recording of the call was sent")
            arrays = {n[len("rec.") :]: a for n, a in frame.arrays.items()} | modules
            check_recording(recording, arrays, _buffer_sizes(task, dict(case.params), seed))
        except RecordingError as exc:
            results[index] = _refusal(task.name, case.name, case.params, exc)
            continue
        key = f"{task.name}/{case.name}"
        seeds[(task.name, case.name)] = seed
        jobs.setdefault(task.name, []).append(
            {"name": case.name, "params": dict(case.params), "seeds": [seed], "key": key}
        )
        payload.append(_payload_frame(key, recording, modules, frame))
    job = {
        "lab": lab.name,
        "phase": "verify",
        "tasks": [{"task": name, "cases": cases} for name, cases in jobs.items()],
    }
    return job, b"".join(payload), seeds


def judge_verify(
    lab: Lab,
    results: list[CaseResult],
    outcome: ChildOutcome,
    seeds: dict[tuple[str, str], int],
    problem: str | None,
) -> None:
    """Each verified case against its replay: a case right in the submission's process but
    wrong when its kernels ran alone on new inputs fails (``not_reproducible``)."""
    frames = {(f.header.get("task"), f.header.get("case")): f for f in outcome.of_type("case")}
    for index, result in enumerate(results):
        key = (result.task, result.case)
        if key not in seeds:
            continue
        task = lab.task(result.task)
        frame = frames.get(key)
        if frame is None:
            results[index] = CaseResult(
                result.task,
                result.case,
                result.params,
                False,
                "not_reproducible",
                f"the grader's re-run of your kernels did not finish: {problem or 'no result'}",
            )
            continue
        replayed = kind_of(task).judge_call(task, dict(result.params), seeds[key], frame, 0)
        if replayed.passed:
            continue
        hard = replayed.reason in ("cuda_error", "out_of_bounds", "modified_input", "timeout")
        replayed.reason = replayed.reason if hard else "not_reproducible"
        replayed.message = (
            "right in your process, but when the grader re-ran only the kernels your function "
            f"launched, on new inputs, in a process of its own: {replayed.message}"
        )
        replayed.case = result.case
        results[index] = replayed


def time_request(
    lab: Lab, record: Phase, names: list[str], secret: str | None, reference: bool
) -> tuple[dict[str, Any], bytes, list[CaseResult]]:
    """The worker's time job from the child's recordings at each benchmark size, its payload,
    and a failed case for each recording refused."""
    modules = _modules(record.frames)
    frames = {
        (f.header.get("task"), f.header.get("bench")): f for f in record.of_type("bench_recording")
    }
    tasks, payload, refused = [], [], []
    for name in names:
        task = lab.task(name)
        benches = []
        for bench in bench_jobs(task, secret, reference):
            frame = frames.get((name, bench["name"]))
            if frame is None or frame.header.get("status") != "recorded":
                continue  # the child's failure says why
            recording = frame.header.get("recording")
            try:
                arrays = {n[len("rec.") :]: a for n, a in frame.arrays.items()} | modules
                sizes = _buffer_sizes(task, bench["params"], bench["seeds"][0])
                check_recording(recording, arrays, sizes)
            except RecordingError as exc:
                refused.append(
                    _refusal(name, f"while timing {bench['name']}", bench["params"], exc)
                )
                continue
            key = f"{name}/{bench['name']}"
            benches.append({**bench, "key": key})
            payload.append(_payload_frame(key, recording, modules, frame))
        tasks.append({"task": name, "benchmarks": benches})
    job = {"lab": lab.name, "phase": "time", "tasks": tasks}
    if reference:
        job.update(reference=True, ceilings=True)
    return job, b"".join(payload), refused
