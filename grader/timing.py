"""CUDA-event timing: warm-up by time, L2 flush, adaptive stop, median and IQR.

One sample, as the grader takes it (all outside the timed region but the call)::

    prepare()                     # fresh input set copied into the fixed buffers, output poisoned
    flush L2                      # write 2x the L2 size, so every sample starts cold
    spin 100 us                   # device busy while the host issues the launch
    start.record()
    fn()                          # the submission
    end_stream.record()           # end of the work issued on the launch stream
    cudaDeviceSynchronize()       # wait for every stream, so side-stream work is counted
    end_device.record()
    end_device.synchronize()

The sample is ``t_stream``, as ``triton.testing.do_bench`` takes it: ``end_device`` would add
the host's round trip through the synchronise (6 to 9 us on an H200) and any late wake-up of
the host. ``t_device`` is there to catch work left running on other streams: when the median
of ``t_device - sync_gap - t_stream`` over the first samples says work outlives the launch
stream (``sync_gap`` is the median ``t_device`` of an empty call measured in the same run),
the benchmark is timed again in strict mode, below, as ``max(t_stream, t_device - sync_gap)``.
A short spin kernel after the flush keeps the device busy while the host issues the launch,
so the host's launch overhead stays out of the timed region.

Work on a non-blocking stream is not ordered after the flush and the spin, so it could run
before ``start`` and look faster than it is (seen on an H200: 1.3 us for a 65 us kernel). So
the first ten samples of every benchmark are *strict*: the device is synchronised after the
spin and before ``start``, so nothing can begin early, and their median says whether work
outlives the launch stream. If it does, the benchmark stays strict: the host's launch overhead
then counts (tens of microseconds for a numba launch), and the stats say so
(``strict_start``). If not, sampling starts over in the normal mode. Side-stream work shorter
than 20 us (or 1% of the call) goes unnoticed; the physical-floor check in the runner is the
net under it.

The functions are bound when this module is imported, before a submission is, and
:func:`replaced_timing_functions` reports any a submission swapped out afterwards.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

_perf_counter = time.perf_counter
OUTLIVED_MIN_S = 20e-6  # work past the launch stream's end that is not the sync's own jitter
# ... nor a late wake-up after a long wait: a 17 ms matmul on an H200 saw the host return from
# the synchronise more than 20 us late (docs/gpu-runs.md, 2026-11-22), which read as "work on
# another stream". Work outliving the launch stream by under 1% of the call changes nothing.
OUTLIVED_FRACTION = 0.01
STRICT_DECISION_SAMPLES = 10  # samples whose median decides whether to time strictly


@dataclass(frozen=True)
class StopRule:
    """When to stop sampling: a fixed count, or a relative standard error with caps."""

    min_samples: int = 10
    max_samples: int = 1000
    target_rse: float = 0.005
    time_cap_s: float = 2.0
    fixed: int | None = None  # grading mode: exactly this many samples

    def done(self, samples: Sequence[float], elapsed_s: float) -> str | None:
        """The reason to stop now, or None to take another sample."""
        n = len(samples)
        if self.fixed is not None:
            return "fixed count" if n >= self.fixed else None
        if n >= self.max_samples:
            return "sample cap"
        if n < self.min_samples:
            return None
        if relative_standard_error(samples) <= self.target_rse:
            return "standard error target"
        if elapsed_s >= self.time_cap_s:
            return "time cap"
        return None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> StopRule:
        return cls(**(data or {}))


def relative_standard_error(samples: Sequence[float]) -> float:
    """Standard error of the mean over the mean; infinite with fewer than two samples."""
    if len(samples) < 2:
        return math.inf
    mean = statistics.fmean(samples)
    return statistics.stdev(samples) / math.sqrt(len(samples)) / mean if mean > 0 else math.inf


@dataclass
class TimingStats:
    """Summary of one benchmark's samples, in seconds."""

    median_s: float
    q1_s: float
    q3_s: float
    mean_s: float
    min_s: float
    n: int
    rse: float
    stop_reason: str
    cold: bool = True
    host_median_s: float | None = None
    sync_gap_s: float | None = None
    strict_start: bool = False  # work outlived the launch stream: synchronised start
    samples_s: list[float] = field(default_factory=list)

    @property
    def iqr_s(self) -> float:
        return self.q3_s - self.q1_s

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TimingStats:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile of already sorted values (numpy's default method)."""
    if not sorted_values:
        return math.nan
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarize(samples: Sequence[float], stop_reason: str, **extra: Any) -> TimingStats:
    ordered = sorted(samples)
    return TimingStats(
        median_s=quantile(ordered, 0.5),
        q1_s=quantile(ordered, 0.25),
        q3_s=quantile(ordered, 0.75),
        mean_s=statistics.fmean(ordered) if ordered else math.nan,
        min_s=ordered[0] if ordered else math.nan,
        n=len(ordered),
        rse=relative_standard_error(ordered),
        stop_reason=stop_reason,
        samples_s=list(samples),
        **extra,
    )


_SPIN_SOURCE = r"""
extern "C" __global__ void cwb_spin(long long cycles) {
    long long start = clock64();
    while (clock64() - start < cycles) { }
}
"""


class EventTimer:
    """Times calls on the current CUDA device with events (CuPy's, which time any library)."""

    def __init__(self, warmup_s: float = 0.1, min_warmup_calls: int = 3, shield_s: float = 100e-6):
        import cupy

        self._cp = cupy
        self._event = cupy.cuda.Event
        self._elapsed_ms = cupy.cuda.get_elapsed_time
        self._device_sync = cupy.cuda.runtime.deviceSynchronize
        self.warmup_s = warmup_s
        self.min_warmup_calls = min_warmup_calls
        l2 = int(cupy.cuda.runtime.getDeviceProperties(0)["l2CacheSize"])
        # Writing twice the L2 evicts everything a previous sample left there; at least 256 MB,
        # as do_bench writes.
        self._flush_buffer = cupy.empty(max(2 * l2, 256 << 20), dtype=cupy.uint8)
        self._flush_value = 0
        # A spin on the device, touching no memory, that outlasts the host's launch overhead.
        clock_khz = cupy.cuda.Device().attributes["ClockRate"]
        self._shield_cycles = int(shield_s * clock_khz * 1e3)
        self._spin = cupy.RawKernel(_SPIN_SOURCE, "cwb_spin")
        self.sync_gap_s = 0.0

    def flush_l2(self) -> None:
        # cudaMemsetAsync, not an element-wise fill: with CuPy's fill of 256 MB of uint8 as the
        # flush, a sample took 1.34 ms of host time on an H200 (median, 2026-11-21).
        self._flush_value = (self._flush_value + 1) & 0xFF
        buf = self._flush_buffer
        self._cp.cuda.runtime.memsetAsync(buf.data.ptr, self._flush_value, buf.nbytes, 0)

    def shield(self) -> None:
        self.spin(self._shield_cycles)

    def spin(self, cycles: int) -> None:
        """One thread spinning ``cycles`` SM cycles, touching no memory."""
        self._spin((1,), (1,), (self._cp.int64(cycles),))

    def _sample(
        self, fn: Callable[[], Any], cold: bool, strict: bool, events: tuple[Any, Any, Any]
    ) -> tuple[float, float, float, Any]:
        start, end_stream, end_device = events
        if cold:
            self.flush_l2()
        # The memset alone can finish before the host has issued a numba launch (~33 us of host
        # time on an H200): the spin keeps the device busy until the work is queued.
        self.shield()
        if strict:
            self._device_sync()
        host_start = _perf_counter()
        start.record()
        result = fn()
        end_stream.record()
        self._device_sync()
        end_device.record()
        end_device.synchronize()
        host_s = _perf_counter() - host_start
        t_stream = self._elapsed_ms(start, end_stream) / 1e3
        t_device = self._elapsed_ms(start, end_device) / 1e3
        return t_stream, t_device, host_s, result

    def _events(self) -> tuple[Any, Any, Any]:
        return self._event(), self._event(), self._event()

    def calibrate(self, samples: int = 100) -> float:
        """The device-wide synchronise's own cost: the median time of an empty call."""
        events = self._events()
        gaps = [self._sample(lambda: None, False, False, events)[1] for _ in range(samples)]
        self.sync_gap_s = statistics.median(gaps)
        return self.sync_gap_s

    def measure(
        self,
        fn: Callable[[], Any],
        rule: StopRule,
        prepare: Callable[[int], None] | None = None,
        check: Callable[[int, Any], None] | None = None,
        cold: bool = True,
    ) -> TimingStats:
        """Warm up, then sample until ``rule`` says stop.

        ``prepare(i)`` runs before sample i, outside the timed region (fresh inputs, poisoned
        output), followed by a device-wide synchronise so that work on any stream finds its
        inputs ready; ``check(i, result)`` runs after the sample, also outside (re-checks the
        output).
        """
        warm_start = _perf_counter()
        calls = 0
        while calls < self.min_warmup_calls or _perf_counter() - warm_start < self.warmup_s:
            if prepare:
                prepare(calls)
                self._device_sync()
            fn()
            self._device_sync()
            calls += 1
        events = self._events()
        samples: list[float] = []
        host: list[float] = []
        excess: list[float] = []  # how long work outlived the launch stream, per sample
        decide_after = min(STRICT_DECISION_SAMPLES, rule.fixed or STRICT_DECISION_SAMPLES)
        # The first samples are strict: nothing can start before the start event, so work
        # left on another stream shows as work outliving the launch stream. (In a normal
        # sample such work could run during the flush and the spin, before the start event.)
        strict = True
        deciding = True
        loop_start = _perf_counter()
        while (reason := rule.done(samples, _perf_counter() - loop_start)) is None:
            i = len(samples)
            if prepare:
                prepare(i)
                self._device_sync()
            t_stream, t_device, host_s, result = self._sample(fn, cold, strict, events)
            if check:
                check(i, result)
            corrected = t_device - self.sync_gap_s
            # Work on the launch stream is timed by its own end event, as do_bench does; only
            # work that outlives it is timed to an idle device, where a late host wake-up after
            # the synchronise would leak into the sample.
            samples.append(max(t_stream, corrected) if strict else t_stream)
            host.append(host_s)
            if deciding:
                excess.append(corrected - t_stream)
                # The synchronise's round trip varies by a few microseconds from sample to
                # sample and a late host wake-up adds tens now and then; work on another
                # stream outlives the launch stream in every sample. Hence the median.
                if len(excess) == decide_after:
                    deciding = False
                    threshold = max(
                        3 * self.sync_gap_s,
                        OUTLIVED_MIN_S,
                        OUTLIVED_FRACTION * statistics.median(samples),
                    )
                    if statistics.median(excess) <= threshold:
                        strict = False  # all on the launch stream: start over, normally
                        samples.clear()
                        host.clear()
                        loop_start = _perf_counter()
        return summarize(
            samples,
            reason,
            cold=cold,
            host_median_s=statistics.median(host),
            sync_gap_s=self.sync_gap_s,
            strict_start=strict,
        )


def replaced_timing_functions(snapshot: dict[str, Any]) -> list[str]:
    """Names in ``snapshot`` whose current value is no longer the object captured there, or
    whose code was swapped inside the same function object."""
    replaced = []
    for name, (original, code) in snapshot.items():
        try:
            now = _lookup(name)
        except AttributeError:
            replaced.append(name)
            continue
        if now is not original or getattr(now, "__code__", None) is not code:
            replaced.append(name)
    return replaced


# The grader's own functions that measure or report inside the submission's process: replacing
# one is tampering, however it is done (these are checked by name and by code object).
GUARDED = (
    "grader.timing.EventTimer.measure",
    "grader.timing.EventTimer._sample",
    "grader.timing.replaced_timing_functions",
    "grader.timing.summarize",
    "grader.cupti.capture",
    "grader.calllog.CallLog.record",
    "grader.calllog.CallLog.install",
    "grader.channel.FrameWriter.send",
    "grader.channel.encode",
    "grader.kinds.pipeline.timed_call",
    "grader.kinds.pipeline.load_inputs",
    "grader.kinds.pipeline.PipelineKind._time_benchmark",
    "grader.kinds.pipeline.PipelineKind._check_case",
    "grader.kinds.kernel.KernelKind._run_case",
    "grader.kinds.kernel.KernelKind._send_result",
    "grader.record.Recorder.recording",
    "grader.record.Recorder._record_launch",
    "grader.record.Counter.counting",
    "grader.record.Tally.header",
)


def timing_snapshot(extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """The timing, synchronising and measuring functions a submission might swap out, as they
    are now (each with its code object); ``extra``: more (a lab's stress hook)."""
    import sys

    names = ["time.perf_counter", "time.time", "time.monotonic", *GUARDED, *extra]
    if "cupy" in sys.modules:
        names += [
            "cupy.cuda.get_elapsed_time",
            "cupy.cuda.Event",
            "cupy.cuda.runtime.deviceSynchronize",
        ]
    if "numba" in sys.modules:
        names += ["numba.cuda.synchronize", "numba.cuda.event_elapsed_time"]
    if "torch" in sys.modules:
        names += ["torch.cuda.synchronize", "torch.cuda.Event.elapsed_time"]
    snapshot = {}
    for name in names:
        if name.split(".")[0] not in sys.modules:
            continue  # never imported: nothing to replace (and importing it here is not ours)
        try:
            found = _lookup(name)
        except AttributeError:
            continue
        snapshot[name] = (found, getattr(found, "__code__", None))
    return snapshot


def _lookup(dotted: str) -> Any:
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise AttributeError(dotted)
