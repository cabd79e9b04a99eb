"""CUPTI traces (Kineto's Chrome-trace JSON) -> per-stream intervals -> overlap figures.

What a pipeline's trace is reduced to:

- ``activities``: every kernel, copy and memset on the GPU, with its stream, engine and issue
  order (CUPTI's correlation id, which grows with every API call the host makes);
- ``busy_us``: how long each engine was busy (the union of its intervals): the copy engine
  host-to-device (``h2d``), the one device-to-host (``d2h``) and the SMs (``kernel``);
- ``overlap_us``: how long at least two, and all three, engines were busy at once;
- ``bound_us``: the lower bound for this chunking, max over engines of (that engine's busy time
  plus the first chunk's earlier stages and the last chunk's later ones): a pipeline can do no
  better, however it issues its work;
- ``findings``: what broke the overlap, in words: host synchronisations issued before the last
  piece of work, copies on the legacy default stream (it waits for every other stream and
  every other stream waits for it), copies from pageable memory.

All times are microseconds on CUPTI's clock, relative to the first GPU activity.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ENGINES = ("h2d", "kernel", "d2h")
LEGACY_DEFAULT_STREAM = 7  # CUPTI's id for the legacy default (NULL) stream
BLOCKING_SYNCS = ("Stream Sync", "Context Sync", "Event Sync")
RUN_RANGE = "cwb: run"
TINY_FRACTION = 0.01  # ops below 1% of their engine's total (the table kernel) are not chunks


@dataclass(frozen=True)
class Activity:
    kind: str  # "h2d", "d2h", "kernel", "d2d", "memset"
    name: str
    stream: int
    start: float
    end: float
    correlation: int
    pageable: bool = False
    bytes: int = 0

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def engine(self) -> str | None:
        return self.kind if self.kind in ENGINES else None


@dataclass(frozen=True)
class Range:
    name: str
    start: float
    end: float


@dataclass(frozen=True)
class SyncEvent:
    kind: str  # "Stream Sync", "Context Sync", "Event Sync", "Stream Wait Event"
    start: float
    end: float
    correlation: int
    stream: int


@dataclass
class Finding:
    code: str  # "host_sync", "default_stream", "pageable", "idle_gap"
    message: str
    count: int = 1
    total_us: float = 0.0


@dataclass
class TraceSummary:
    activities: list[Activity]
    ranges: list[Range]
    syncs: list[SyncEvent]
    span_us: float  # first GPU activity start -> last end
    busy_us: dict[str, float]
    sum_us: dict[str, float]
    overlap_us: dict[str, float]  # "two" and "three": engines busy at once
    idle_us: float  # inside the span, no engine busy
    bound_us: float
    ideal_us: float  # max over engines of busy time: no fill and no drain
    streams: list[int]
    findings: list[Finding] = field(default_factory=list)
    device: str = ""

    @property
    def over_bound(self) -> float:
        return self.span_us / self.bound_us if self.bound_us > 0 else float("nan")

    @property
    def concurrency(self) -> float:
        """Average number of engines busy over the span: 1 for serial, up to 3."""
        total = sum(self.busy_us.values())
        return total / self.span_us if self.span_us > 0 else float("nan")

    def fraction(self, key: str) -> float:
        return self.overlap_us[key] / self.span_us if self.span_us > 0 else 0.0

    def figures(self) -> dict[str, Any]:
        """The numbers a report or a JSON file shows."""
        return {
            "span_us": round(self.span_us, 1),
            "bound_us": round(self.bound_us, 1),
            "ideal_us": round(self.ideal_us, 1),
            "over_bound": round(self.over_bound, 3),
            "concurrency": round(self.concurrency, 3),
            "busy_us": {k: round(v, 1) for k, v in self.busy_us.items()},
            "sum_us": {k: round(v, 1) for k, v in self.sum_us.items()},
            "two_busy_fraction": round(self.fraction("two"), 3),
            "three_busy_fraction": round(self.fraction("three"), 3),
            "idle_us": round(self.idle_us, 1),
            "streams": self.streams,
            "findings": [asdict(f) for f in self.findings],
        }


def load(path: Path) -> dict[str, Any]:
    """A trace file, gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        return json.load(f)


def _kind(name: str) -> str:
    if "HtoD" in name:
        return "h2d"
    if "DtoH" in name:
        return "d2h"
    if "DtoD" in name or "PtoP" in name:
        return "d2d"
    if name.startswith("Memset"):
        return "memset"
    return "kernel"


def parse(trace: dict[str, Any]) -> tuple[list[Activity], list[Range], list[SyncEvent]]:
    """GPU activities, named host ranges and sync events, in absolute CUPTI microseconds."""
    activities, ranges, syncs = [], [], []
    for e in trace.get("traceEvents", []):
        cat = e.get("cat")
        if e.get("ph") != "X":
            continue
        start = float(e.get("ts", 0.0))
        end = start + float(e.get("dur", 0.0))
        args = e.get("args") or {}
        if cat in ("kernel", "gpu_memcpy", "gpu_memset"):
            name = str(e.get("name", ""))
            kind = "memset" if cat == "gpu_memset" else _kind(name)
            activities.append(
                Activity(
                    kind=kind,
                    name=name,
                    stream=int(args.get("stream", -1)),
                    start=start,
                    end=end,
                    correlation=int(args.get("correlation", -1)),
                    pageable="Pageable" in name,
                    bytes=int(args.get("bytes", 0) or 0),
                )
            )
        elif cat == "user_annotation":
            ranges.append(Range(str(e.get("name", "")), start, end))
        elif cat == "cuda_sync":
            syncs.append(
                SyncEvent(
                    kind=str(args.get("cuda_sync_kind", e.get("name", ""))),
                    start=start,
                    end=end,
                    correlation=int(args.get("correlation", -1)),
                    stream=int(args.get("stream", -1)),
                )
            )
    return activities, ranges, syncs


def union_length(intervals: list[tuple[float, float]]) -> float:
    total, current_start, current_end = 0.0, None, None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_end is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None:
        total += current_end - current_start
    return total


def busy_at_once(by_engine: dict[str, list[tuple[float, float]]]) -> dict[int, float]:
    """Time during which exactly k engines were busy, for k = 0..3, over the engines' span."""
    edges = []
    for engine, intervals in by_engine.items():
        for start, end in intervals:
            edges.append((start, 1, engine))
            edges.append((end, -1, engine))
    edges.sort(key=lambda edge: (edge[0], edge[1]))
    depth = dict.fromkeys(by_engine, 0)
    time_at: dict[int, float] = {k: 0.0 for k in range(len(by_engine) + 1)}
    last = None
    for when, step, engine in edges:
        if last is not None:
            busy = sum(1 for d in depth.values() if d > 0)
            time_at[busy] += when - last
        depth[engine] += step
        last = when
    return time_at


def pipeline_bound(chunks: dict[str, list[float]], busy: dict[str, float]) -> float:
    """max over engines e of (busy[e] + the shortest op of every other engine).

    Before the first op on engine e can start, at least one op of each earlier stage must have
    run, and after its last op, one op of each later stage: with the shortest op standing in for
    the first and the last chunk, that is a lower bound whatever the issue order.
    """
    shortest = {e: min(chunks[e]) if chunks[e] else 0.0 for e in ENGINES}
    return max(busy[e] + sum(shortest[o] for o in ENGINES if o != e) for e in ENGINES)


def summarize(trace: dict[str, Any]) -> TraceSummary:
    """Reduce one traced call of a pipeline to its figures and findings."""
    activities, ranges, syncs = parse(trace)
    run = next((r for r in ranges if r.name == RUN_RANGE), None)
    if run is not None:  # only what the traced call issued
        activities = [a for a in activities if a.start >= run.start]
        syncs = [s for s in syncs if s.start >= run.start]
    activities.sort(key=lambda a: a.start)
    if not activities:
        raise ValueError("the trace holds no GPU activity: nothing ran on the device")
    origin = activities[0].start
    shift = _shifted(origin)
    activities = [shift(a) for a in activities]
    ranges = [shift(r) for r in ranges if run is None or r.start >= run.start]
    syncs = [shift(s) for s in syncs]
    span = max(a.end for a in activities)
    by_engine = {e: [(a.start, a.end) for a in activities if a.engine == e] for e in ENGINES}
    busy = {e: union_length(by_engine[e]) for e in ENGINES}
    sums = {e: sum(end - start for start, end in by_engine[e]) for e in ENGINES}
    chunks = {
        e: [end - start for start, end in by_engine[e] if end - start >= TINY_FRACTION * sums[e]]
        for e in ENGINES
    }
    at_once = busy_at_once(by_engine)
    all_busy = union_length([(a.start, a.end) for a in activities])
    summary = TraceSummary(
        activities=activities,
        ranges=ranges,
        syncs=syncs,
        span_us=span,
        busy_us=busy,
        sum_us=sums,
        overlap_us={"two": at_once[2] + at_once[3], "three": at_once[3]},
        idle_us=max(0.0, span - all_busy),
        bound_us=pipeline_bound(chunks, busy),
        ideal_us=max(busy.values()),
        streams=sorted({a.stream for a in activities}),
        device=_device_name(trace),
    )
    summary.findings = findings(summary)
    return summary


def _run_end(summary: TraceSummary) -> float:
    run = next((r for r in summary.ranges if r.name == RUN_RANGE), None)
    return run.end if run is not None else 0.0


def _shifted(origin: float):
    def shift(item):
        moved = {"start": item.start - origin, "end": item.end - origin}
        return type(item)(**{**asdict(item), **moved})

    return shift


def _device_name(trace: dict[str, Any]) -> str:
    props = trace.get("deviceProperties") or [{}]
    return str(props[0].get("name", ""))


RETURN_SLACK_US = 20.0  # host and device clocks of one trace agree to within a few us


def returned_early(summary: TraceSummary) -> list[Activity]:
    """Copies to the host that were still running when the traced call returned: the output
    read at that moment was complete only by luck, if at all."""
    run = next((r for r in summary.ranges if r.name == RUN_RANGE), None)
    if run is None:
        return []
    return [a for a in summary.activities if a.kind == "d2h" and a.end > run.end + RETURN_SLACK_US]


def findings(summary: TraceSummary) -> list[Finding]:
    """What broke the overlap, as the trace shows it (the call log names the source lines)."""
    found: list[Finding] = []
    late = returned_early(summary)
    if late:
        found.append(
            Finding(
                "returned_early",
                f"{len(late)} copies to the host were still running when run returned (the "
                f"last ended {max(a.end for a in late) - _run_end(summary):.0f} us later): the "
                "output read at that moment was complete only by luck",
                len(late),
                sum(a.duration for a in late),
            )
        )
    last_issue = max(a.correlation for a in summary.activities)
    early = [s for s in summary.syncs if s.kind in BLOCKING_SYNCS and s.correlation < last_issue]
    for kind in BLOCKING_SYNCS:
        these = [s for s in early if s.kind == kind]
        if these:
            total = sum(s.end - s.start for s in these)
            found.append(
                Finding(
                    "host_sync",
                    f"{len(these)} host synchronisation(s) ({kind}) before the last piece of "
                    f"work was issued: the host waited {total:.0f} us in all instead of issuing",
                    len(these),
                    total,
                )
            )
    other_streams = {a.stream for a in summary.activities} - {LEGACY_DEFAULT_STREAM}
    on_default = [
        a
        for a in summary.activities
        if a.stream == LEGACY_DEFAULT_STREAM and a.kind in ("h2d", "d2h", "d2d")
    ]
    if on_default and other_streams:
        total = sum(a.duration for a in on_default)
        found.append(
            Finding(
                "default_stream",
                f"{len(on_default)} copies ran on the legacy default stream, which waits for "
                "every other stream and makes them wait for it: a copy without a stream "
                "argument is a blocking cudaMemcpy",
                len(on_default),
                total,
            )
        )
    pageable = [a for a in summary.activities if a.pageable]
    if pageable:
        total = sum(a.duration for a in pageable)
        found.append(
            Finding(
                "pageable",
                f"{len(pageable)} copies were from or to pageable host memory: the driver "
                "stages them through its own pinned buffer, synchronously, at a lower rate. "
                "Allocate the host buffers with cuda.pinned_array",
                len(pageable),
                total,
            )
        )
    if summary.span_us > 0 and summary.idle_us > 0.1 * summary.span_us:
        found.append(
            Finding(
                "idle_gap",
                f"the GPU was idle for {summary.idle_us:.0f} us of the {summary.span_us:.0f} us "
                "span: the host was not issuing work fast enough, or was waiting",
                1,
                summary.idle_us,
            )
        )
    return found
