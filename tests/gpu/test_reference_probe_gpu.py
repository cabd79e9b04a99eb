"""The probe that lets `cwb run` use a kept reference run (grader.reference_cache), on a real
GPU: it names the device and measures what it must, and two probes in a row agree."""

from __future__ import annotations

import pytest

import labs
from grader import reference_cache
from grader.runner import Grader, Options

pytestmark = pytest.mark.gpu


def test_two_probes_in_a_row_find_the_same_gpu() -> None:
    grader = Grader(labs.get("lab0"), Options(mode="gpu", sandbox="auto"))
    first, second = grader._probe(), grader._probe()
    assert first is not None and second is not None
    device = reference_cache.device_identity(first[0])
    assert device["name"] and device["pci_bus_id"], device
    assert device == reference_cache.device_identity(second[0])
    assert first[1]["copy_bytes_per_s"] > 1e11 and first[1]["sm_clock_hz"] > 1e8, first[1]
    ok, how = reference_cache.agrees(first[1], second[1])
    assert ok, how
