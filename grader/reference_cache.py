"""The reference solution's timed run, kept between `cwb run`s on one machine.

Timing the reference is most of a `make labN` (52 s of lab 0's 106 s and 38 s of lab 1's 59 s
on the H200, CWB_PROFILE, 2026-12-01), and it gives the same numbers run after run on the same
machine. So `cwb run` keeps it, and uses it again only when

* nothing it depends on changed: the key hashes the lab's, the reference's and the grader's
  sources, the stop rule, Python's and the GPU libraries' versions;
* the same GPU answers (name, PCI bus, driver and runtime, in the probe's hello frame);
* a probe in this run (:func:`grader.worker.Worker._probe`, ~2 s) finds the device as it was:
  its copy bandwidth and the time of a fixed count of SM cycles each within
  :data:`PROBE_TOLERANCE` of what the same probe measured with the cached run.

Otherwise the reference is timed again, with a new probe, and the cache replaced. Graded runs
(`cwb grade`, a secret, varied inputs) never use it: a batch times the reference once anyway.

The file is JSON, decoded into an allow-list of the grader's own dataclasses: a process that
could write it (only without the sandbox, on a student's own machine) could change that
student's own report, and never run code in the grader.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from grader.kinds.base import ReferenceRun
from grader.sandbox import grader_cache
from grader.spec import ROOT, Lab
from grader.timing import StopRule, TimingStats
from grader.trace import Activity, Finding, Range, SyncEvent, TraceSummary

FORMAT = 1
PROBE_TOLERANCE = 0.05  # the copy bandwidth measured 4158 and 4267 GB/s in two H200 runs
DEVICE_FIELDS = (
    "name",
    "pci_bus_id",
    "compute_capability",
    "multiprocessors",
    "memory_bytes",
    "driver_version",
    "runtime_version",
)
PACKAGES = ("cupy-cuda12x", "cupy-cuda13x", "numba", "numba-cuda", "torch", "numpy", "nvtx")
_CLASSES: dict[str, type] = {
    cls.__name__: cls for cls in (TimingStats, TraceSummary, Activity, Range, SyncEvent, Finding)
}
_SOURCES = ("*.py", "*.cu", "*.cuh", "*.h")


def _sources(folder: Path) -> list[Path]:
    return sorted(p for pattern in _SOURCES for p in folder.rglob(pattern) if p.is_file())


def key(lab: Lab, stop_rule: StopRule) -> str:
    """What the cached run depends on, hashed (sources, stop rule, software versions)."""
    digest = hashlib.sha256()
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    head = {
        "format": FORMAT,
        "lab": lab.name,
        "stop_rule": dataclasses.asdict(stop_rule),
        "python": platform.python_version(),
        "versions": versions,
    }
    digest.update(json.dumps(head, sort_keys=True).encode())
    folders = [ROOT / "grader", ROOT / "kernels", lab.folder, lab.reference_folder]
    for folder in dict.fromkeys(Path(f).resolve() for f in folders):
        for path in _sources(folder):
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def path_for(lab: Lab, cache_key: str) -> Path:
    return grader_cache() / "reference" / f"{lab.name}-{cache_key[:20]}.json"


def device_identity(device: dict[str, Any]) -> dict[str, Any]:
    """The fields of a hello frame's device that name one GPU and its driver."""
    return {k: device[k] for k in DEVICE_FIELDS if k in device}


def probe_values(ceilings: dict[str, Any]) -> dict[str, float]:
    """The probe's numbers from its ceiling frames (by name)."""
    found = {}
    copy = ceilings.get("copy_bandwidth", {})
    clock = ceilings.get("sm_clock", {})
    if isinstance(copy.get("bytes_per_s"), int | float):
        found["copy_bytes_per_s"] = float(copy["bytes_per_s"])
    if isinstance(clock.get("hz"), int | float):
        found["sm_clock_hz"] = float(clock["hz"])
    return found


def agrees(then: dict[str, float], now: dict[str, float]) -> tuple[bool, str]:
    """Whether the probe now finds the device as it was; a sentence either way."""
    parts, ok = [], True
    names = {"copy_bytes_per_s": ("copy", 1e9, "GB/s"), "sm_clock_hz": ("SM clock", 1e6, "MHz")}
    for field, (label, unit, suffix) in names.items():
        if field not in then or field not in now or then[field] <= 0:
            return False, f"the probe did not measure the {label}"
        change = now[field] / then[field] - 1
        ok = ok and abs(change) <= PROBE_TOLERANCE
        parts.append(f"{label} {now[field] / unit:.0f} {suffix} ({100 * change:+.1f}%)")
    return ok, ", ".join(parts)


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if name not in _CLASSES:
            raise TypeError(f"{name} cannot be cached")
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return {"__dataclass__": name, "fields": fields}
    if hasattr(value, "item") and hasattr(value, "dtype"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} cannot be cached")


def _decode(obj: dict[str, Any]) -> Any:
    name = obj.get("__dataclass__")
    if name is None:
        return obj
    cls = _CLASSES.get(name) if isinstance(name, str) else None
    if cls is None or not isinstance(obj.get("fields"), dict):
        raise ValueError(f"unknown cached object {name!r}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    fields = {k: v for k, v in obj["fields"].items() if k in known}
    for k, v in fields.items():  # tuples were written as lists
        if isinstance(v, list) and "tuple" in str(known[k].type):
            fields[k] = tuple(v)
    return cls(**fields)


def _pairs(mapping: dict[tuple[str, str], Any]) -> list[list[Any]]:
    return [[task, bench, value] for (task, bench), value in mapping.items()]


def save(
    path: Path,
    run: ReferenceRun,
    device: dict[str, Any],
    probe: dict[str, float],
    seconds: float,
) -> None:
    """Write the run (only a run without error is worth keeping), atomically."""
    if run.error:
        return
    data = {
        "format": FORMAT,
        "saved_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "device": device_identity(device),
        "probe": probe,
        "benches": _pairs(run.benches),
        "ceilings": run.ceilings,
        "extras": _pairs(run.extras),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data, default=_encode))
    partial.replace(path)


@dataclasses.dataclass
class Cached:
    run: ReferenceRun
    device: dict[str, Any]
    probe: dict[str, float]
    saved_at: str
    seconds: float


def load(path: Path) -> Cached | None:
    """The cached run, or None (missing, another format, unreadable: timed again)."""
    try:
        data = json.loads(path.read_text(), object_hook=_decode)
        if data.get("format") != FORMAT:
            return None
        run = ReferenceRun(
            benches={(t, b): v for t, b, v in data["benches"]},
            ceilings=dict(data["ceilings"]),
            extras={(t, b): dict(v) for t, b, v in data["extras"]},
        )
        probe = {k: float(v) for k, v in data["probe"].items()}
        return Cached(run, dict(data["device"]), probe, str(data["saved_at"]), data["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
