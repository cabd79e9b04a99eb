"""A lab's specification, as data: tasks, cases, tolerances, benchmarks and rubric.

A lab folder's ``lab.py`` builds one :class:`Lab` from these classes. The spec is trusted code:
the grader's parent process reads it to make expected outputs, and the child process reads it to
make the same inputs from the same seeds. It never imports numba, CuPy or torch, so reading a
spec never touches a GPU.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

Params = Mapping[str, Any]
HostInputs = dict[str, Any]  # name -> numpy array or numpy scalar

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Tolerance:
    """``|got - expected| <= atol + rtol * scale`` element-wise; NaN never passes.

    ``scale`` is ``|expected|`` unless the task supplies a better one (for a dot product of
    length K, the sum of ``|a_k b_k|``), which is how a tolerance accounts for K.
    """

    rtol: float
    atol: float


# torch.testing's defaults: a sane start for element-wise work.
DEFAULT_TOLERANCES: dict[str, Tolerance] = {
    "float16": Tolerance(rtol=1e-3, atol=1e-5),
    "bfloat16": Tolerance(rtol=1.6e-2, atol=1e-5),
    "float32": Tolerance(rtol=1.3e-6, atol=1e-5),
    "float64": Tolerance(rtol=1e-7, atol=1e-7),
}


@dataclass(frozen=True)
class Case:
    """One correctness case: parameters for ``make_inputs`` and the seed of its inputs."""

    name: str
    params: Params
    seed: int


@dataclass(frozen=True)
class Benchmark:
    """One timed size. Timed cold (L2 flushed before every sample)."""

    name: str
    params: Params
    seed: int


@dataclass(frozen=True)
class KernelTask:
    """A task where the student writes a function that launches a kernel.

    The harness calls ``entry(*[inputs[name] for name in arg_names], out)`` with device arrays
    made by ``array_module`` and a NaN-poisoned output buffer ``out`` (shape ``output_shape``,
    dtype ``output_dtype``, followed in memory by guard elements that must stay untouched), and
    checks the array the function returns.
    """

    name: str
    title: str
    entry: str
    arg_names: tuple[str, ...]
    array_module: str  # "numba" (runs under the simulator too), "cupy" or "torch"
    make_inputs: Callable[[Params, np.random.Generator], HostInputs]
    reference: Callable[[HostInputs], np.ndarray]  # float64, on the CPU
    output_dtype: str
    output_shape: Callable[[Params], tuple[int, ...]]
    cases: tuple[Case, ...]
    sim_cases: tuple[Case, ...]
    benchmarks: tuple[Benchmark, ...] = ()
    tolerance: Tolerance | None = None
    tolerance_scale: Callable[[HostInputs], np.ndarray] | None = None
    traffic_bytes: Callable[[Params], int] | None = None  # fewest bytes moved: the floor
    flops: Callable[[Params], int] | None = None
    forbidden: Mapping[str, str] = field(default_factory=dict)  # name -> why it is not allowed
    input_sets: int = 3  # input sets rotated through fixed buffers while timing
    # "module:function" with the entry's arguments (out last): a library doing the same work
    # (cuBLAS for a matmul), timed with the reference on every benchmark. A SpeedRule with
    # of="ceiling" scores the student's share of it.
    ceiling: str = ""
    ceiling_name: str = ""  # what the report calls it: "cuBLAS"
    hints: Mapping[str, str] = field(default_factory=dict)  # failure reason -> this lab's hint
    kind: str = "kernel"

    @property
    def effective_tolerance(self) -> Tolerance:
        return self.tolerance or DEFAULT_TOLERANCES[self.output_dtype]

    def expected(self, inputs: HostInputs) -> tuple[np.ndarray, np.ndarray]:
        """The float64 expected output and the scale its tolerance is relative to."""
        expected = np.asarray(self.reference(inputs), dtype=np.float64)
        scale = (
            np.abs(expected)
            if self.tolerance_scale is None
            else np.asarray(self.tolerance_scale(inputs), dtype=np.float64)
        )
        return expected, scale


@dataclass(frozen=True)
class PipelineTask:
    """A task where the student writes a whole host-side pipeline, not one kernel (lab 1).

    The submission defines ``setup_entry(*setup_args) -> p`` (untimed: it allocates buffers,
    streams and events) and ``entry(p, *scalar_args) -> float`` (timed: it runs the pipeline and
    returns its own event-measured milliseconds). ``p`` carries two float32 numpy arrays of shape
    (n,) named by ``buffers`` (input, output); the harness writes the input ``input_name`` into
    the first and NaN into the second before every call, and reads the second the moment
    ``entry`` returns.

    Correctness runs every case three times in the same pipeline: plain; with new values; and,
    on a GPU, with new values and the lab's race check switched on (``stress_hook`` makes
    ``stress_subject``, the given producer kernel, ``stress_ns`` slower), so a missing
    cross-stream wait shows as a wrong answer. Timing spans all streams (events around the call
    and a device-wide synchronise), and one more call is traced with CUPTI for the overlap
    figures.
    """

    name: str
    title: str
    make_inputs: Callable[[Params, np.random.Generator], HostInputs]
    reference: Callable[[HostInputs, Params], np.ndarray]  # float64, on the CPU
    tolerance_scale: Callable[[HostInputs, Params], np.ndarray]
    setup_args: tuple[str, ...]  # params passed to setup, in order
    cases: tuple[Case, ...]
    sim_cases: tuple[Case, ...]
    benchmarks: tuple[Benchmark, ...] = ()
    setup_entry: str = "setup"
    entry: str = "run"
    input_name: str = "x"  # the array make_inputs returns that goes into the input buffer
    scalar_args: tuple[str, ...] = ()  # what make_inputs returns that run takes after p
    buffers: tuple[str, str] = ("host_in", "host_out")
    baseline: str = "serial.py"  # under the lab's reference folder: what speedups are over
    stress_ns: int = 5_000_000
    stress_hook: str = ""  # "module:function" the child calls with stress_ns (0 to switch off)
    stress_subject: str = "the producer kernel"  # what the stress hook slows, for messages
    timed_calls: int = 10  # fixed count: every call has its own input set written untimed
    warmup_calls: int = 2
    traced_calls: int = 3  # the overlap is judged on the median of these
    forbidden: Mapping[str, str] = field(default_factory=dict)
    hints: Mapping[str, str] = field(default_factory=dict)
    kind: str = "pipeline"
    output_dtype: str = "float32"

    @property
    def effective_tolerance(self) -> Tolerance:
        return Tolerance(rtol=1.0, atol=1e-6)  # the scale already holds the error model

    def expected(self, inputs: HostInputs, params: Params) -> tuple[np.ndarray, np.ndarray]:
        expected = np.asarray(self.reference(inputs, params), dtype=np.float64)
        return expected, np.asarray(self.tolerance_scale(inputs, params), dtype=np.float64)


@dataclass(frozen=True)
class CacheTask:
    """A loop order scored by a CPU cache simulator (lab 2, part A); no GPU is involved.

    The student's ``entry(*[params[name] for name in arg_names])`` returns the order of a loop
    nest's innermost iterations: an integer array (or a sequence of triples) of shape (T, 3).
    The child only calls it and sends the order back; the parent checks it with ``validate``
    and counts misses with ``count``, so a submission cannot reach the simulator. The score
    is where the misses fall between ``baseline``'s order (0 points) and ``reference``'s
    order (full points, with ``slack``).
    """

    name: str
    title: str
    entry: str
    arg_names: tuple[str, ...]
    cases: tuple[Case, ...]
    reference: Callable[[Params], np.ndarray]  # (T, 3) int: the reference blocked order
    baseline: Callable[[Params], np.ndarray]  # (T, 3) int: the unblocked order
    validate: Callable[[np.ndarray, Params], list[str]]  # problems, in sentences
    count: Callable[[np.ndarray, Params], dict[str, int]]  # order -> misses per array
    describe: Callable[[Params], str]  # the cache and arrays of a case, for the report
    max_rows: Callable[[Params], int]  # refuse bigger answers before copying them
    slack: float = 1.10  # full points at up to 10% more misses than the reference
    forbidden: Mapping[str, str] = field(default_factory=dict)
    hints: Mapping[str, str] = field(default_factory=dict)
    benchmarks: tuple[Benchmark, ...] = ()
    kind: str = "cache"

    @property
    def sim_cases(self) -> tuple[Case, ...]:
        return self.cases  # plain Python on the CPU: the same cases everywhere


@dataclass(frozen=True)
class Question:
    """One short-answer question: the student's function ``entry``, called with keyword
    arguments; its answer is compared with the reference function of the same name.

    ``public``: the argument sets the handout shows (``({},)`` for a question without
    arguments); ``secret(rng)``: one hidden argument set, ``secret_count`` of them drawn per
    grading from the run's seeds; ``rtol``: 0 compares exactly (bools, integers, strings: a
    bool must be answered with a bool), above 0 compares real numbers relatively.
    """

    entry: str
    public: tuple[Mapping[str, Any], ...] = ({},)
    secret: Callable[[np.random.Generator], dict[str, Any]] | None = None
    secret_count: int = 0
    rtol: float = 0.0


@dataclass(frozen=True)
class AnswersTask:
    """Short answers graded against a reference model (lab 3 part C, lab 4 parts A and D).

    ``reference`` names the module holding the reference functions; only the grader's own
    process imports it (students never see reference/). Each question is one case; the
    ``answers`` rubric item gives its points in proportion to the questions answered right on
    every argument set.
    """

    name: str
    title: str
    questions: tuple[Question, ...]
    reference: str  # "reference.lab3_pipeline.solution": functions named like the questions
    forbidden: Mapping[str, str] = field(default_factory=dict)
    hints: Mapping[str, str] = field(default_factory=dict)
    benchmarks: tuple[Benchmark, ...] = ()
    kind: str = "answers"

    @property
    def cases(self) -> tuple[Case, ...]:
        return tuple(
            Case(q.entry, {"question": index}, seed=1 + index)
            for index, q in enumerate(self.questions)
        )

    @property
    def sim_cases(self) -> tuple[Case, ...]:
        return self.cases  # plain Python: the same cases everywhere

    def arguments(self, index: int, seed: int) -> list[dict[str, Any]]:
        """Every argument set question ``index`` is asked with: the public ones, then the
        hidden ones drawn from ``seed``."""
        question = self.questions[index]
        sets = [dict(args) for args in question.public]
        if question.secret is not None:
            rng = np.random.default_rng(seed)
            sets += [dict(question.secret(rng)) for _ in range(question.secret_count)]
        return sets


@dataclass(frozen=True)
class ProtocolTask:
    """A producer/consumer protocol checked by exploring every interleaving (lab 3 part A).

    The student writes ``producer(pipe, S, K)`` and ``consumer(pipe, S, K)``. The child only
    runs them to collect their op lists (``collect(program, S, K)`` -> JSON-able ops); the
    parent parses the lists (``parse(data, S, K)``, which refuses malformed ones) and explores
    every schedule of the two programs and the copies in flight (``explore(producer_ops,
    consumer_ops, S, K)`` -> an object with ``ok``, ``code``, ``message``, ``schedule``,
    ``states``, ``exhaustive``). ``reasons``: the explorer's failure codes, with their titles
    and hints for the report.
    """

    name: str
    title: str
    cases: tuple[Case, ...]  # params: {"stages": S, "tiles": K}
    collect: Callable[[Any, int, int], list[dict[str, Any]]]
    parse: Callable[[Any, int, int], Any]
    explore: Callable[[Any, Any, int, int], Any]
    reasons: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # code -> (title, hint)
    entries: tuple[str, str] = ("producer", "consumer")
    forbidden: Mapping[str, str] = field(default_factory=dict)
    hints: Mapping[str, str] = field(default_factory=dict)
    benchmarks: tuple[Benchmark, ...] = ()
    kind: str = "protocol"

    @property
    def sim_cases(self) -> tuple[Case, ...]:
        return self.cases  # plain Python: the same cases everywhere


@dataclass(frozen=True)
class StreamKernelTask:
    """A CUDA C streaming kernel ``out = f(in)`` with a compile-time stage count, compiled and
    launched by the grader's own host code (lab 3 part B): no Python of the student's runs.

    ``source``: the file of the submission's folder that holds the kernel (``student.cu``);
    ``kernel``: its entry. The grader's worker compiles it with NVRTC (``host``, a module with
    ``ptx_of``, ``compile_stream_kernel``, ``async_copy_kinds``, ``compile_error_lines``,
    ``device_props``, ``launch_config`` and ``prepare_stream_launch``), checks its output on
    every case (``checks``: ``make_case(n, seed)``, ``Output.fresh(n)``, ``check(out, case)``),
    and times it at every stage count of ``sweep`` against a device-to-device copy, the
    synchronous ``baseline_kernel`` of the reference's ``baseline_source`` at the same tile, and
    Little's law from the latency ``little`` measures (``measure_latency``,
    ``predicted_bandwidth``, ``implied_latency``). Without a GPU it is compiled for ``archs``
    only. ``copies``: the asynchronous copy instructions the PTX may show (any one counts).
    """

    name: str
    title: str
    source: str
    kernel: str
    host: str
    checks: str
    little: str
    cases: tuple[Case, ...]  # params: {"n": ...}
    benchmarks: tuple[Benchmark, ...]
    stages: int = 4
    tile_floats: int = 1024
    sweep: tuple[int, ...] = (1, 2, 3, 4, 6, 8)
    archs: tuple[str, ...] = ("sm_80", "sm_90")
    copies: tuple[str, ...] = ("cp.async", "cp.async.bulk", "cp.async.bulk.tensor")
    baseline_source: str = ""  # under the lab's reference folder
    baseline_kernel: str = ""
    forbidden: Mapping[str, str] = field(default_factory=dict)
    hints: Mapping[str, str] = field(default_factory=dict)
    kind: str = "stream"

    @property
    def sim_cases(self) -> tuple[Case, ...]:
        # Without a GPU the source is compiled (every arch) and nothing runs.
        return tuple(c for c in self.cases if c.params.get("compile"))

    def traffic_bytes(self, params: Params) -> int:
        return 8 * int(params["n"])  # one float read and one written per element


@dataclass(frozen=True)
class DistributedTask:
    """Functions run in one process per rank under torch.distributed (lab 4 part C).

    For each case (``{"world": ranks, "parts": "moe,tp"}``) the child starts PyTorch's own
    launcher (``launcher``: a module whose ``command(submission, out, world, seed, backend,
    parts, timeout_s)`` is the torchrun command line) inside the sandbox, and sends back what
    every rank wrote (a JSON status and a numpy archive each). The parent rebuilds those files
    and judges them with ``check`` ("module:function", imported only by the grader: it holds
    the expected outputs): ``check(out_dir, seed, world, parts) -> {"ok", "reason",
    "message"}``. ``collectives``: the task also times collectives with NCCL, which needs at
    least two GPUs (the ``collectives`` rubric item says "not measured" with fewer).
    """

    name: str
    title: str
    cases: tuple[Case, ...]
    launcher: str
    check: str
    backend: str = "gloo"
    collective_timeout_s: float = 30.0  # per collective, inside the submission's group
    run_timeout_s: float = 240.0  # one launcher run, start-up included
    reasons: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    forbidden: Mapping[str, str] = field(default_factory=dict)
    hints: Mapping[str, str] = field(default_factory=dict)
    benchmarks: tuple[Benchmark, ...] = ()
    kind: str = "distributed"

    @property
    def sim_cases(self) -> tuple[Case, ...]:
        return self.cases  # gloo on the CPU: the same cases everywhere


@dataclass(frozen=True)
class MeasureTask:
    """The student's own measurement, checked against the grader's in the same run (lab 4
    part B): ``entry(**args)`` returns one number per point of the sweep (milliseconds), and
    the grader's worker measures the same sweep itself (``measure``: "module:function" taking
    ``**args``, returning ``{"measured", "times_ms", ...}``). ``tolerance``: how far, relative,
    the student's median may be from the grader's at each point. ``analysis``:
    "module:function" the parent applies to the grader's measurement for the report (the knee
    and the predicted critical batch, from the reference model)."""

    name: str
    title: str
    entry: str
    args: Mapping[str, Any]
    measure: str
    analysis: str = ""
    tolerance: float = 0.25
    forbidden: Mapping[str, str] = field(default_factory=dict)
    hints: Mapping[str, str] = field(default_factory=dict)
    kind: str = "measure"

    @property
    def cases(self) -> tuple[Case, ...]:
        return (Case("your sweep", {}, seed=1),)

    @property
    def sim_cases(self) -> tuple[Case, ...]:
        return ()  # a measurement needs a GPU

    @property
    def benchmarks(self) -> tuple[Benchmark, ...]:
        return (Benchmark("the grader's sweep", {}, seed=1),)


Task = (
    KernelTask
    | PipelineTask
    | CacheTask
    | AnswersTask
    | ProtocolTask
    | StreamKernelTask
    | DistributedTask
    | MeasureTask
)


@dataclass(frozen=True)
class SpeedRule:
    """Speed points from the speedup over the reference solution timed in the same run.

    The speedup is the geometric mean over the task's benchmarks of reference time / student
    time. Points rise linearly from 0 at ``zero_at`` to full at ``full_at``. With
    ``of="ceiling"`` the ratio is the task's ceiling's time / student time instead (the share
    of cuBLAS, say), the ceiling timed in the same run.
    """

    zero_at: float
    full_at: float
    of: str = "reference"  # or "ceiling"

    def fraction(self, speedup: float) -> float:
        if not speedup > self.zero_at:  # NaN scores nothing
            return 0.0
        return min(1.0, (speedup - self.zero_at) / (self.full_at - self.zero_at))


@dataclass(frozen=True)
class RubricItem:
    task: str
    # "correctness" for every kind; the others are scored by the task's kind (grader.kinds):
    # kernels "speed"; pipelines "speedup", "overlap", "sync", "event_timing"; caches "misses"
    kind: str
    points: float
    speed: SpeedRule | None = None
    description: str = ""


@dataclass(frozen=True)
class Lab:
    name: str  # what `make lab0` and the CLI call it
    slug: str  # the folder under labs/ and reference/
    title: str
    tasks: tuple[Task, ...]
    rubric: tuple[RubricItem, ...]
    timeout_s: float = 60.0  # wall limit for one checking process
    sim_timeout_s: float = 60.0
    # Wall limit for one timing process: it makes several input sets of the largest size and
    # times every benchmark, and it only runs once the submission has passed every check.
    time_timeout_s: float = 300.0
    host_memory_gib: float = 8.0  # resident host memory one grading process tree may hold
    # `cwb profile LAB` runs this module with `python -m` (a profiler of the student's work);
    # nsys wraps it where installed when ``profile_nsys`` is set.
    profile: str = ""
    profile_nsys: bool = False

    # Where the lab lives, when not in this repository (a course's own lab, see CWB_LABS):
    # its folder, and its reference folder.
    home: Path | None = None
    reference_home: Path | None = None

    @property
    def folder(self) -> Path:
        return self.home or ROOT / "labs" / self.slug

    @property
    def handout(self) -> Path:
        return self.folder / "README.md"

    @property
    def student_path(self) -> Path:
        return self.folder / "student.py"

    @property
    def reference_folder(self) -> Path:
        return self.reference_home or ROOT / "reference" / self.slug

    @property
    def solution_path(self) -> Path:
        return self.reference_folder / "solution.py"

    @property
    def max_points(self) -> float:
        return sum(item.points for item in self.rubric)

    def task(self, name: str) -> Task:
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(f"{self.name} has no task {name!r}")
