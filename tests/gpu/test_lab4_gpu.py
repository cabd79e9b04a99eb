"""Lab 4 on real GPUs: the roofline sweep (one GPU) and the collectives and the part C harness
over NCCL (two or more). Skipped, with the reason, where no device answers.

What to compare with (domain brief, measured on the lent H200, 2026-11-21): bf16
X[b, 8192] @ W[8192, 8192] flat at ~35 us up to b = 64, 88.3 us at 512, ~800 TFLOP/s at
1024-2048, knee near 150-200; two H200s over NVLink, NCCL bf16: all-reduce bus bandwidth 19,
224, 331 GB/s at 1 MiB, 16 MiB, 1 GiB; all-to-all 12, 160, 331.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from labs.lab4_moe import collectives, dist_harness, roofline
from reference.lab4_moe.dist_reference import check
from reference.lab4_moe.solution import find_knee, predict_critical_batch, time_matmul_sweep

pytestmark = pytest.mark.gpu

ROOT = Path(__file__).resolve().parents[2]
BATCHES = [1, 2, 4, 8, 16, 32, 64, 128, 192, 256, 320, 384, 512, 768, 1024, 2048]


def _gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@pytest.fixture(scope="module")
def sweep() -> dict:
    result = roofline.measure_sweep(BATCHES, d=8192)
    assert result["measured"], result
    return result


def test_the_sweep_is_flat_then_rising(sweep: dict) -> None:
    t = dict(zip(sweep["batches"], sweep["times_ms"], strict=True))
    assert t[64] < 1.3 * t[1]  # memory-bound: the weights dominate
    assert t[2048] > 4 * t[64]  # compute-bound: time follows the FLOPs
    assert sweep["ceiling_tflops"] > 100 and sweep["copy_gbps"] > 500


def test_the_knee_is_near_the_predicted_critical_batch(sweep: dict) -> None:
    knee = find_knee(sweep["batches"], sweep["times_ms"])
    predicted = predict_critical_batch(sweep["ceiling_tflops"] * 1e12, sweep["copy_gbps"] * 1e9, 2)
    print(f"knee {knee:.0f}, predicted {predicted:.0f}, {sweep}")
    assert 0.5 * predicted < knee < 2.0 * predicted


def test_the_reference_timer_agrees_with_the_graders(sweep: dict) -> None:
    mine = time_matmul_sweep(sweep["batches"], 8192)
    ratios = np.array(mine) / np.array(sweep["times_ms"])
    print(f"reference / grader per batch: {np.round(ratios, 3).tolist()}")
    assert 0.8 < float(np.median(ratios)) < 1.25


def test_nccl_collective_sweep() -> None:
    if _gpus() < 2:
        result = collectives.run(backend="nccl")
        assert result == {"measured": False, "reason": collectives.NOT_MEASURED, "gpus": _gpus()}
        pytest.skip("needs >= 2 GPUs")
    result = collectives.run([1 << 20, 1 << 24, 1 << 30], backend="nccl", world_size=2)
    assert result["measured"], result
    print(result)
    for name in ("all_reduce", "all_to_all"):
        busbw = [r["busbw_gbps"] for r in result["results"][name]]
        assert busbw[0] < busbw[-1] and busbw[-1] > 50


@pytest.mark.skipif("_gpus() < 2", reason="needs >= 2 GPUs")
@pytest.mark.parametrize(
    "stem", ["solution", "wrong/sends_every_token", "wrong/splits_not_exchanged"]
)
def test_the_harness_over_nccl(tmp_path: Path, stem: str) -> None:
    path = ROOT / "reference" / "lab4_moe" / f"{stem}.py"
    cmd = dist_harness.command(path, tmp_path, 2, 7, backend="nccl")
    subprocess.run(cmd, cwd=ROOT, timeout=300, start_new_session=True, check=False)
    verdict = check(tmp_path, 7, 2)
    expected = {
        "solution": None,
        "wrong/sends_every_token": "excess_traffic",
        "wrong/splits_not_exchanged": "split_mismatch",
    }[stem]
    assert verdict["reason"] == expected, verdict
