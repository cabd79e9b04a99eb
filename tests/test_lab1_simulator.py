"""Lab 1 graded under numba's CUDA simulator: every pipeline's correctness is real (streams,
events and copies run in order there), the race check and every timing figure need a GPU and
say so, and the known-wrong fixtures that can fail without one fail for their reason."""

from __future__ import annotations

import numpy as np
import pytest

from grader.channel import Frame
from grader.kinds.pipeline import KIND as PIPELINE_KIND
from grader.runner import Grader, Options
from labs import get

LAB = get("lab1")
TASK = LAB.task("pipeline")


@pytest.fixture(scope="module")
def grader() -> Grader:
    return Grader(LAB, Options(mode="simulator", timeout_s=60))


def test_the_reference_is_correct_and_nothing_else_is_guessed(grader: Grader) -> None:
    result = grader.grade(LAB.solution_path)
    assert result.points == 40 and result.unmeasured_points == 60
    assert all(line.detail.startswith("not measured") for line in result.rubric[1:])
    assert len(result.cases) == len(TASK.sim_cases)


def test_the_race_check_is_on_only_with_a_gpu() -> None:
    on_gpu = Grader(LAB, Options(mode="gpu")).case_jobs(TASK)
    simulated = Grader(LAB, Options(mode="simulator")).case_jobs(TASK)
    assert all(case["stress"] == [False, False, True] for case in on_gpu)
    assert all(not any(case["stress"]) for case in simulated)


def _frame(output: np.ndarray, x: np.ndarray, stressed: bool) -> Frame:
    header = {"type": "case", "case": "c", "status": "returned", "stressed": stressed}
    return Frame(header, {"output": output, "input": x})


def test_a_wrong_answer_under_the_slow_table_is_called_a_race() -> None:
    params = {"n": 100, "chunks": 3, "streams": 2, "work": 16}
    inputs = TASK.make_inputs(params, np.random.default_rng(0))
    right = TASK.reference(inputs, params).astype(np.float32)
    stale = right + 0.25
    assert PIPELINE_KIND.judge_call(TASK, params, 0, _frame(right, inputs["x"], True), 2).passed
    raced = PIPELINE_KIND.judge_call(TASK, params, 0, _frame(stale, inputs["x"], True), 2)
    assert raced.reason == "race" and "prepare_table" in raced.message
    cached = PIPELINE_KIND.judge_call(TASK, params, 0, _frame(stale, inputs["x"], False), 1)
    assert cached.reason == "stale"
    late = PIPELINE_KIND.judge_call(
        TASK, params, 0, _frame(np.full(100, np.nan, np.float32), inputs["x"], False), 0
    )
    assert late.reason == "unwritten" and "Synchronise before returning" in late.message


def _counted(output: np.ndarray, x: np.ndarray, device: dict) -> Frame:
    frame = _frame(output, x, False)
    frame.header["device"] = device
    return frame


def test_a_right_output_not_made_on_the_device_fails() -> None:
    params = {"n": 100, "chunks": 3, "streams": 2, "work": 16}
    inputs = TASK.make_inputs(params, np.random.default_rng(0))
    right = TASK.reference(inputs, params).astype(np.float32)
    x = inputs["x"]
    honest = {"launches": 4, "h2d_bytes": 400, "d2h_bytes": 400}
    assert PIPELINE_KIND.judge_call(TASK, params, 0, _counted(right, x, honest), 0).passed
    host = PIPELINE_KIND.judge_call(
        TASK, params, 0, _counted(right, x, {**honest, "launches": 0, "d2h_bytes": 0}), 0
    )
    assert host.reason == "no_kernel" and "on the host" in host.message
    decoy = PIPELINE_KIND.judge_call(
        TASK, params, 0, _counted(right, x, {**honest, "d2h_bytes": 8}), 0
    )
    assert decoy.reason == "no_copy" and "8 bytes" in decoy.message
    # A wrong output is reported as wrong first, whatever the counts.
    wrong = PIPELINE_KIND.judge_call(
        TASK, params, 0, _counted(right + 1, x, {**honest, "launches": 0}), 0
    )
    assert wrong.reason == "wrong_answer"


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("host_compute", "no_kernel"),
        ("host_compute_with_decoy", "no_copy"),
        ("imports_lab_maths", "forbidden"),
    ],
)
def test_host_computed_pipelines_score_nothing(grader: Grader, fixture: str, reason: str) -> None:
    result = grader.grade(LAB.reference_folder / "wrong" / f"{fixture}.py")
    assert result.points == 0
    assert result.failure is not None and result.failure.reason == reason


def test_the_counts_see_a_host_array_passed_to_a_kernel_as_copied(grader: Grader, tmp_path) -> None:
    """numba copies a host array given to a kernel both ways; the simulator's count does too."""
    source = tmp_path / "implicit.py"
    source.write_text(
        "import numpy as np\n"
        "from numba import cuda\n"
        "from labs.lab1_streams.kernels import TABLE_SIZE, prepare_table, transform\n\n"
        "class Pipeline:\n"
        "    def __init__(self, n, chunks, streams, work):\n"
        "        self.work = work\n"
        "        self.host_in = cuda.pinned_array(n, dtype=np.float32)\n"
        "        self.host_out = cuda.pinned_array(n, dtype=np.float32)\n"
        "        self.table = cuda.device_array(TABLE_SIZE, dtype=np.float32)\n\n"
        "def setup(n, chunks, streams, work):\n"
        "    return Pipeline(n, chunks, streams, work)\n\n"
        "def run(p, gain):\n"
        "    prepare_table(p.table, gain, p.work)\n"
        "    transform(p.host_in, p.host_out, p.table, p.work)\n"
        "    cuda.synchronize()\n"
        "    return 1.0\n"
    )
    result = grader.grade(source)
    assert result.points == 40, result.failure


def test_on_a_gpu_the_copies_back_are_judged_by_the_trace_not_by_counts() -> None:
    """On a GPU the counter counts launches only (the copies back are seen in the CUPTI trace):
    counts without copies never fail a call for no_copy, and no launch still fails it."""
    from grader.kinds.pipeline import _not_on_device
    from grader.record import Tally

    task = next(t for t in get("lab1").tasks)
    output = np.zeros(1 << 10, dtype=np.float32)
    launched = Tally(launches=3, copies_counted=False).header()
    assert launched["d2h_bytes"] is None
    assert _not_on_device(task, launched, output) is None
    idle = Tally(launches=0, copies_counted=False).header()
    assert _not_on_device(task, idle, output)[0] == "no_kernel"
    counted = Tally(launches=3, d2h_bytes=16).header()
    assert _not_on_device(task, counted, output)[0] == "no_copy"
