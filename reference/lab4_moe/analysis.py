"""The grader's reading of its own roofline sweep (lab 4 part B), in its own process: the knee
of the measured curve and the critical batch the model predicts from ceilings measured in the
same run. The report shows both; the lab's GPU check asks that they agree within 25%.

Which ceilings: the compute ceiling is the matmul's own (the same GEMM at b = 8192). The
memory ceiling that bounds a memory-bound matmul is the rate at which *this* GEMM streams its
weights, the most bytes per second any point of the sweep reached. Generic streams run faster
than cuBLAS does at small b, and predict too small a knee. On the lent H200 (2026-12-01,
docs/gpu-runs.md; knee 264): from the GEMM's own streaming rate (3.16 TB/s) 244, 8% low; from a
cold read-only sum over 1 GiB (4.02 TB/s) 191, and from a device copy (4.16 TB/s read +
written) 185, both about 28% low. All three are kept, for the lesson.
"""

from __future__ import annotations

from typing import Any

from reference.lab4_moe.model import critical_batch
from reference.lab4_moe.solution import find_knee

BF16_BYTES = 2


def analyse(sweep: dict[str, Any]) -> dict[str, Any]:
    """``{"knee", "predicted", "ratio", ...}`` for a measured sweep (labs/lab4_moe/roofline.py):
    the prediction from the GEMM's own streaming rate, with those from the read-only stream
    and the copy beside it."""
    knee = float(find_knee(sweep["batches"], sweep["times_ms"]))
    flops = sweep["ceiling_tflops"] * 1e12
    streaming = streaming_bytes_per_s(sweep)
    from_copy = float(critical_batch(flops, sweep["copy_gbps"] * 1e9, BF16_BYTES))
    read = sweep.get("read_gbps")
    predicted = float(critical_batch(flops, streaming, BF16_BYTES))
    return {
        "knee": knee,
        "predicted": predicted,
        "streaming_gbps": streaming / 1e9,
        "predicted_from_read": float(critical_batch(flops, read * 1e9, BF16_BYTES))
        if read
        else None,
        "predicted_from_copy": from_copy,
        "ratio": predicted / knee if knee else None,
    }


def streaming_bytes_per_s(sweep: dict[str, Any]) -> float:
    """The most bytes per second the sweep's matmuls moved: weights ``d x d`` plus ``X`` and
    the output (``b x d`` each), bf16, over each point's time. Reached in the flat part, where
    the weights' stream is all the time there is."""
    d = int(sweep["d"])
    return max(
        (d * d + 2 * int(b) * d) * BF16_BYTES / (float(t) * 1e-3)
        for b, t in zip(sweep["batches"], sweep["times_ms"], strict=True)
    )
