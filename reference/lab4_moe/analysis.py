"""The grader's reading of its own roofline sweep (lab 4 part B), in its own process: the knee
of the measured curve and the critical batch the model predicts from the ceilings measured in
the same run. The report shows both; the lab's GPU check asks that they agree within 25%.

Which bandwidth: a memory-bound matmul *reads* its weights and writes little, so the ceiling
that bounds it is the read bandwidth (a cold sum over 1 GiB). On the lent H200 (2026-12-01,
docs/gpu-runs.md) the prediction from the copy's bandwidth (bytes read + written) was 192
against a measured knee of 262: the weights streamed at ~3.1 TB/s, not the copy's 4.2. The
prediction from the copy is kept beside the other, for the lesson."""

from __future__ import annotations

from typing import Any

from reference.lab4_moe.model import critical_batch
from reference.lab4_moe.solution import find_knee

BF16_BYTES = 2


def analyse(sweep: dict[str, Any]) -> dict[str, Any]:
    """``{"knee", "predicted", "ratio"}`` for a measured sweep (labs/lab4_moe/roofline.py)."""
    knee = float(find_knee(sweep["batches"], sweep["times_ms"]))
    flops = sweep["ceiling_tflops"] * 1e12
    from_copy = float(critical_batch(flops, sweep["copy_gbps"] * 1e9, BF16_BYTES))
    read = sweep.get("read_gbps") or sweep["copy_gbps"]
    predicted = float(critical_batch(flops, read * 1e9, BF16_BYTES))
    return {
        "knee": knee,
        "predicted": predicted,
        "predicted_from_copy": from_copy,
        "ratio": predicted / knee if knee else None,
    }
