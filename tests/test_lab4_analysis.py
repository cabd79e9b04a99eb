"""The grader's reading of its roofline sweep (reference/lab4_moe/analysis.py), on the sweep
measured on the lent H200 (2026-12-01, docs/gpu-runs/2026-12-01-h200/lab4.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reference.lab4_moe.analysis import analyse

RUN = Path(__file__).resolve().parent.parent / "docs" / "gpu-runs" / "2026-12-01-h200" / "lab4.json"


def _sweep() -> dict:
    data = json.loads(RUN.read_text())
    return dict(next(b["extra"] for b in data["benches"] if b["task"] == "measure"))


def test_the_h200_sweep_knee_and_the_prediction_from_the_copy() -> None:
    sweep = _sweep()
    sweep.pop("read_gbps", None)  # that run measured no read bandwidth
    found = analyse(sweep)
    assert found["knee"] == pytest.approx(262.5, abs=1.0)
    assert found["predicted_from_copy"] == pytest.approx(191.9, abs=0.5)
    assert found["predicted"] == found["predicted_from_copy"]  # no read rate: the copy's


def test_the_prediction_uses_the_read_bandwidth_when_it_was_measured() -> None:
    sweep = _sweep()
    sweep["read_gbps"] = 3100.0  # the rate the flat part of that sweep implies
    found = analyse(sweep)
    assert found["predicted"] == pytest.approx(797.85 / 3.1, rel=1e-3)
    assert 0.75 <= found["ratio"] <= 1.25
