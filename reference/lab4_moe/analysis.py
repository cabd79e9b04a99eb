"""The grader's reading of its own roofline sweep (lab 4 part B), in its own process: the knee
of the measured curve and the critical batch the model predicts from the ceilings measured in
the same run. The report shows both; the lab's GPU check asks that they agree within 25%."""

from __future__ import annotations

from typing import Any

from reference.lab4_moe.model import critical_batch
from reference.lab4_moe.solution import find_knee

BF16_BYTES = 2


def analyse(sweep: dict[str, Any]) -> dict[str, Any]:
    """``{"knee", "predicted", "ratio"}`` for a measured sweep (labs/lab4_moe/roofline.py)."""
    knee = float(find_knee(sweep["batches"], sweep["times_ms"]))
    predicted = float(
        critical_batch(sweep["ceiling_tflops"] * 1e12, sweep["copy_gbps"] * 1e9, BF16_BYTES)
    )
    return {"knee": knee, "predicted": predicted, "ratio": predicted / knee if knee else None}
