"""The protocol kind: two programs checked against every interleaving (lab 3 part A).

Child: runs the submission's producer and consumer for each case's (S, K) to collect their op
lists, and sends them as JSON. Nothing is judged there.

Parent: parses the lists (malformed ones are refused with the reason), explores every order in
which the producer, the consumer and the copies in flight can move (exhaustively for small S
and K, by random walks beyond), and reports the shortest schedule that breaks the protocol.
"""

from __future__ import annotations

import time
from typing import Any

from grader.channel import Frame
from grader.check import CaseResult, call_result
from grader.kinds.base import ChildHarness, Kind
from grader.spec import ProtocolTask

MAX_SCHEDULE = 60  # steps of a failing schedule shown


class ProtocolKind(Kind):
    name = "protocol"
    calls_per_case = 1  # the programs' op lists depend on (S, K) only
    has_timing = False
    charts_in = "check"

    def child_check(self, h: ChildHarness, task: ProtocolTask, module, job, state) -> None:
        programs = []
        for entry in task.entries:
            fn = h.entry_point(module, task, entry, ["pipe", "S", "K"])
            if fn is None:
                return
            programs.append(fn)
        cases = job["cases"]
        for index, case in enumerate(cases):
            stages, tiles = int(case["params"]["stages"]), int(case["params"]["tiles"])
            header = {"type": "case", "task": task.name, "case": case["name"], "call": 0}
            started = time.perf_counter()
            collected: dict[str, Any] = {}
            for entry, fn in zip(task.entries, programs, strict=True):
                try:
                    collected[entry] = task.collect(fn, stages, tiles)
                except NotImplementedError as exc:
                    h.send({**header, "status": "error", "error": h.failure(exc)})
                    return
                except ValueError as exc:  # the lab's checks on a program (not a generator...)
                    code = getattr(exc, "code", "")
                    collected[entry] = {"problem": str(exc)[:2000], "code": str(code)}
                except BaseException as exc:
                    h.send({**header, "status": "error", "error": h.failure(exc)})
                    return
            header["elapsed_s"] = time.perf_counter() - started
            h.send({**header, "status": "returned", "programs": collected})
            h.progress(index + 1, len(cases), f"{task.name} {case['name']}")

    def judge_call(
        self, task: ProtocolTask, params: dict[str, Any], seed: int, frame: Frame, call: int
    ) -> CaseResult:
        result = call_result(task.name, params, frame)
        if result.reason:
            return result
        stages, tiles = int(params["stages"]), int(params["tiles"])
        programs = frame.header.get("programs")
        if not isinstance(programs, dict):
            result.reason = "protocol"
            result.message = "the op lists sent back are malformed"
            return result
        parsed = []
        for entry in task.entries:
            data = programs.get(entry)
            if isinstance(data, dict) and "problem" in data:
                code = data.get("code")
                result.reason = code if code in task.reasons else "protocol_bad_program"
                result.message = f"{entry}: {data['problem']}"
                return result
            try:
                parsed.append(task.parse(data, stages, tiles))
            except ValueError as exc:
                code = getattr(exc, "code", "")
                result.reason = code if code in task.reasons else "protocol_bad_program"
                result.message = f"{entry}: {exc}"
                return result
        found = task.explore(parsed[0], parsed[1], stages, tiles)
        result.measures = {
            "stages": stages,
            "tiles": tiles,
            "states": int(found.states),
            "exhaustive": bool(found.exhaustive),
            "schedule": list(found.schedule)[:MAX_SCHEDULE],
            "code": found.code or "",
        }
        if found.ok:
            result.passed = True
            return result
        result.reason = found.code if found.code in task.reasons else "protocol_bad_program"
        how = "every schedule" if found.exhaustive else "random schedules"
        result.message = f"{found.message} (checked {how}, {found.states} states)"
        result.mismatches = list(found.schedule)[:MAX_SCHEDULE]
        return result

    def how_checked(self, task: ProtocolTask) -> str:
        return (
            "Your producer and consumer are run once per (S, K) to collect their op lists; the "
            "grader then explores, in its own process, every order in which the producer, the "
            "consumer and the copies in flight can move (random orders past a state limit), "
            "and shows the shortest schedule that breaks the protocol."
        )


KIND = ProtocolKind()
