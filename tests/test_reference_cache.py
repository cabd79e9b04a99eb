"""The reference's timed run kept between `cwb run`s (grader.reference_cache): what is kept reads
back the same, it is used only when this run's probe finds the same GPU as it was, and
anything else times the reference again. No GPU: the probe and the timing are stood in for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import labs
from grader import reference_cache, runner
from grader.kinds.base import ReferenceRun
from grader.runner import Grader, Options
from grader.timing import StopRule, TimingStats
from grader.trace import Activity, TraceSummary

LAB = labs.get("lab0")
DEVICE = {
    "mode": "gpu",
    "name": "NVIDIA H200",
    "pci_bus_id": "0000:19:00.0",
    "compute_capability": "9.0",
    "driver_version": "13.0",
    "runtime_version": "12.9",
    "cupy": "14.2.0",
}
PROBE = {"copy_bytes_per_s": 4.2e12, "sm_clock_hz": 1.98e9}


def _stats(median_s: float) -> TimingStats:
    return TimingStats(median_s, median_s, median_s, median_s, median_s, 10, 0.001, "fixed")


def _run() -> ReferenceRun:
    run = ReferenceRun()
    run.benches[("saxpy", "n=2^25+3")] = {"stats": _stats(1.2e-4).to_dict(), "fp": [1.5, None]}
    run.ceilings["copy_bandwidth"] = {"bytes_per_s": 4.2e12}
    run.extra(("saxpy", "n=2^25+3"))["library"] = _stats(8e-5)
    activity = Activity("kernel", "k", stream=7, start=0.0, end=10.0, correlation=3)
    run.extra(("saxpy", "n=2^25+3"))["trace"] = TraceSummary(
        [activity], [], [], 10.0, {"kernel": 10.0}, {}, {}, 0.0, 8.0, 8.0, [7]
    )
    return run


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CWB_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_kept_run_reads_back_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "lab0.json"
    reference_cache.save(path, _run(), DEVICE, PROBE, 12.5)
    kept = reference_cache.load(path)
    assert kept is not None
    assert kept.run == _run()
    assert kept.device == reference_cache.device_identity(DEVICE) and kept.probe == PROBE
    assert "cupy" not in kept.device  # a library's version is in the key, not the device


def test_a_run_with_an_error_is_not_kept(tmp_path: Path) -> None:
    run = _run()
    run.error = "the reference failed"
    reference_cache.save(tmp_path / "x.json", run, DEVICE, PROBE, 1.0)
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        json.dumps({"format": 999}),
        json.dumps({"format": 1, "benches": [], "ceilings": {}, "extras": []}),
        # Only the grader's own dataclasses may be rebuilt, never an arbitrary class.
        json.dumps(
            {
                "format": 1,
                "saved_at": "x",
                "seconds": 1,
                "device": {},
                "probe": {},
                "ceilings": {},
                "extras": [],
                "benches": [["t", "b", {"__dataclass__": "Popen", "fields": {"args": "sh"}}]],
            }
        ),
    ],
)
def test_an_unreadable_or_foreign_file_is_ignored(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    assert reference_cache.load(path) is None


def test_the_probe_must_agree_on_memory_and_clock() -> None:
    assert reference_cache.agrees(PROBE, dict(PROBE))[0]
    slower = {**PROBE, "copy_bytes_per_s": PROBE["copy_bytes_per_s"] * 0.9}
    ok, how = reference_cache.agrees(PROBE, slower)
    assert not ok and "-10.0%" in how
    throttled = {**PROBE, "sm_clock_hz": PROBE["sm_clock_hz"] * 0.8}
    assert not reference_cache.agrees(PROBE, throttled)[0]
    assert not reference_cache.agrees(PROBE, {"copy_bytes_per_s": 4.2e12})[0]


def test_the_key_names_the_lab_and_the_stop_rule() -> None:
    first = reference_cache.key(LAB, StopRule())
    assert first == reference_cache.key(LAB, StopRule())
    assert first != reference_cache.key(LAB, StopRule(fixed=50))
    assert first != reference_cache.key(labs.get("lab1"), StopRule())


def test_the_key_changes_with_the_references_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "ref"
    folder.mkdir()
    (folder / "solution.py").write_text("x = 1\n")
    monkeypatch.setattr(type(LAB), "reference_folder", property(lambda self: folder))
    before = reference_cache.key(LAB, StopRule())
    (folder / "solution.py").write_text("x = 2\n")
    assert reference_cache.key(LAB, StopRule()) != before


class _Stand:
    """The probe and the reference's timing, stood in for (each call counted)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.timed = 0
        self.probed = 0
        self.probe: tuple[dict, dict] | None = (DEVICE, PROBE)

        def time_reference(*args, **kwargs) -> ReferenceRun:
            self.timed += 1
            return _run()

        def probe(grader: Grader):
            self.probed += 1
            return self.probe

        monkeypatch.setattr(runner, "time_reference", time_reference)
        monkeypatch.setattr(Grader, "_probe", probe)

    def reference(self, **options) -> tuple[ReferenceRun, Grader]:
        grader = Grader(LAB, Options(mode="gpu", sandbox="off", **options))
        return grader.reference(), grader


def test_cwb_run_keeps_the_reference_and_uses_it_while_the_gpu_agrees(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stand = _Stand(monkeypatch)
    first, grader = stand.reference(reference_cache=True)
    assert stand.timed == 1 and grader.reference_source.startswith("timed in this run")
    assert grader.reference_phase[0] == "timing the reference"
    second, grader = stand.reference(reference_cache=True)
    assert stand.timed == 1 and second == first
    assert grader.reference_source.startswith("kept from"), grader.reference_source
    assert grader.reference_phase[0] == "probing the GPU for the kept reference"


@pytest.mark.parametrize(
    "change, why",
    [
        ({"copy_bytes_per_s": 3.5e12}, "the GPU is not as it was"),
        ({"sm_clock_hz": 1.2e9}, "the GPU is not as it was"),
        ({"device": {**DEVICE, "pci_bus_id": "0000:2a:00.0"}}, "another GPU"),
        ({"failed": True}, "the GPU probe failed"),
    ],
)
def test_the_reference_is_timed_again_when_the_gpu_is_not_as_it_was(
    monkeypatch: pytest.MonkeyPatch, change: dict, why: str
) -> None:
    stand = _Stand(monkeypatch)
    stand.reference(reference_cache=True)
    device = change.pop("device", DEVICE)
    stand.probe = None if change.pop("failed", False) else (device, {**PROBE, **change})
    _, grader = stand.reference(reference_cache=True)
    assert stand.timed == 2
    assert why in grader.reference_source, grader.reference_source


def test_graded_runs_and_fresh_runs_never_use_a_kept_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stand = _Stand(monkeypatch)
    stand.reference(reference_cache=True)
    stand.reference(reference_cache=True, secret="batch secret")
    stand.reference()  # the default: cwb grade, selftest, calibrate
    assert stand.timed == 3 and stand.probed == 1
