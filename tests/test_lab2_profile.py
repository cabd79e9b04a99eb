"""`make profile-lab2`'s reading of Nsight Compute, tested on the CSV ncu wrote on the H200
for the reference kernel at 4096^3 (tests/fixtures/lab2/ncu-solution-h200.csv)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labs.lab2_matmul import profile

CSV = Path(__file__).parent / "fixtures" / "lab2" / "ncu-solution-h200.csv"


def test_the_h200_capture_parses_to_one_kernel_with_every_metric() -> None:
    kernels = profile.parse(CSV.read_text())
    assert len(kernels) == 1
    kernel = kernels[0]
    assert "_smem" in str(kernel["name"])
    assert set(profile.METRICS) <= set(kernel)
    # 4096^3 in ~23 ms under the profiler; 32x32 tiles move GBs, not the 201 MB minimum.
    assert 5e6 < kernel["gpu__time_duration.sum"] < 1e8  # ns
    dram = kernel["dram__bytes_read.sum"] + kernel["dram__bytes_write.sum"]
    assert 201e6 < dram < 137e9 / 4


def test_the_summary_gives_the_dram_intensity_and_shared_memory_figures() -> None:
    text = profile.summarize(profile.parse(CSV.read_text()), 4096)
    assert "FLOP per DRAM byte" in text and "x the fewest" in text
    assert "shared throughput" in text and "bank conflicts" in text


@pytest.mark.parametrize("text", ["", "==PROF== nothing profiled\n", '"ID","Kernel Name"\n'])
def test_output_without_kernels_parses_to_nothing(text: str) -> None:
    assert profile.parse(text) == []
