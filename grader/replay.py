"""Replaying a recorded call (:mod:`grader.record`) in a process of the grader's own.

The replay loads the recorded CUBINs, allocates the submission's scratch memory itself, puts the
grader's own buffers where the recording pointed at the submission's, and issues the recorded
launches, memsets and device copies in order, on one stream. Nothing of the submission's Python
runs here: its kernels are all that computes, so what the output holds is what they computed.

``check_recording`` validates a recording before anything is loaded (it comes from the
submission's process): it raises :class:`RecordingError` with a sentence naming the problem.
"""

from __future__ import annotations

import ctypes
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.devices import GUARD_ELEMENTS, Arrays
from grader.record import (
    MAX_MODULE_BYTES,
    MAX_OPS,
    MAX_PARAM_BYTES,
    MAX_SCRATCH_BYTES,
    SCALAR_ENCODINGS,
    _encode,
)

# Names of library kernels: a recording naming one is not the student's kernel, however it came.
LIBRARY_KERNEL = re.compile(r"gemm|cublas|cutlass|cudnn|xmma|cutensor|cub::|thrust", re.I)
MAX_GRID = (2**31 - 1, 65535, 65535)
MAX_BLOCK = (1024, 1024, 64)
MAX_SHARED = 227 * 1024  # Hopper's largest dynamic shared memory per block
_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8
_MEMCPY_DEVICE_TO_DEVICE = 3


class RecordingError(ValueError):
    """A recording the replay refuses: malformed, oversized, or naming a library kernel."""


def _int(value: Any, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RecordingError(f"{what} is {value!r}, not an integer in [{low}, {high}]")
    return value


def _where(where: Any, buffers: dict[str, int], scratch: list[int], size: int) -> None:
    if not isinstance(where, dict):
        raise RecordingError("an operation's address is malformed")
    if "buffer" in where:
        if where["buffer"] not in buffers or str(where["buffer"]).startswith("scalar."):
            raise RecordingError(f"an operation names an unknown buffer {where['buffer']!r}")
        limit = buffers[where["buffer"]]
    elif "scratch" in where:
        index = _int(where["scratch"], 0, len(scratch) - 1, "a scratch index")
        limit = scratch[index]
    else:
        raise RecordingError("an operation's address names neither a buffer nor scratch")
    offset = _int(where.get("offset"), 0, limit, "an offset")
    if offset + size > limit:
        raise RecordingError("an operation reaches past the end of its buffer")


def check_recording(header: Any, arrays: dict[str, np.ndarray], buffers: dict[str, int]) -> None:
    """Raise RecordingError unless ``header`` (a recording's) is one the replay can run safely.

    ``buffers``: the grader's buffers the recording may name, with their sizes in bytes.
    """
    if not isinstance(header, dict):
        raise RecordingError("the recording is not an object")
    if header.get("error"):
        raise RecordingError(str(header["error"]))
    ops, scratch = header.get("ops"), header.get("scratch")
    if not isinstance(ops, list) or not isinstance(scratch, list) or len(ops) > MAX_OPS:
        raise RecordingError("the recording's operations are malformed")
    sizes = [
        _int(s.get("size") if isinstance(s, dict) else None, 0, MAX_SCRATCH_BYTES, "a size")
        for s in scratch
    ]
    if sum(sizes) > MAX_SCRATCH_BYTES:
        raise RecordingError("the recording's scratch memory is too large")
    for index, size in enumerate(sizes):
        data = arrays.get(f"scratch.{index}")
        if data is None or data.dtype != np.uint8 or data.size != size:
            raise RecordingError("a scratch snapshot is missing or the wrong size")
    for op in ops:
        if not isinstance(op, dict):
            raise RecordingError("an operation is not an object")
        kind = op.get("op")
        if kind == "launch":
            _check_launch(op, arrays, buffers, sizes)
        elif kind == "memset":
            size = _int(op.get("size"), 0, 1 << 40, "a memset's size")
            _int(op.get("value"), 0, 255, "a memset's value")
            _where(op.get("dst"), buffers, sizes, size)
        elif kind == "copy":
            size = _int(op.get("size"), 0, 1 << 40, "a copy's size")
            _where(op.get("dst"), buffers, sizes, size)
            _where(op.get("src"), buffers, sizes, size)
        else:
            raise RecordingError(f"unknown operation {kind!r}")


def _check_launch(op, arrays, buffers, scratch) -> None:
    sha = op.get("module")
    cubin = arrays.get(f"module.{sha}")
    if not isinstance(sha, str) or cubin is None or cubin.dtype != np.uint8:
        raise RecordingError("a launch names compiled code the recording does not carry")
    if cubin.size > MAX_MODULE_BYTES or hashlib.sha256(cubin.tobytes()).hexdigest() != sha:
        raise RecordingError("a kernel's compiled code does not match its hash")
    entry = op.get("entry")
    if not isinstance(entry, str) or not 0 < len(entry) <= 1024 or not entry.isascii():
        raise RecordingError("a launch's kernel name is malformed")
    if LIBRARY_KERNEL.search(entry):
        raise RecordingError(f"a library's kernel ran in the call: {entry[:80]}")
    for key, limits in (("grid", MAX_GRID), ("block", MAX_BLOCK)):
        dims = op.get(key)
        if not isinstance(dims, list) or len(dims) != 3:
            raise RecordingError(f"a launch's {key} is malformed")
        for d, limit in zip(dims, limits, strict=True):
            _int(d, 1, limit, f"a launch's {key} size")
    block = op["block"]
    _int(block[0] * block[1] * block[2], 1, 1024, "a block's thread count")
    _int(op.get("shared"), 0, MAX_SHARED, "a launch's dynamic shared memory")
    params = op.get("params")
    if not isinstance(params, list) or len(params) > 1024:
        raise RecordingError("a launch's parameters are malformed")
    total = 0
    for param in params:
        if not isinstance(param, dict):
            raise RecordingError("a parameter is malformed")
        size = _int(param.get("size"), 1, 256, "a parameter's size")
        total += size
        if "input" in param:
            if param.get("as") not in SCALAR_ENCODINGS or not isinstance(param["input"], str):
                raise RecordingError("a parameter names a scalar input malformed")
            if f"scalar.{param['input']}" not in buffers:
                raise RecordingError(f"a parameter names an unknown input {param['input']!r}")
        elif "hex" in param:
            text = param["hex"]
            if not isinstance(text, str) or len(text) != 2 * size:
                raise RecordingError("a parameter's bytes are malformed")
            try:
                bytes.fromhex(text)
            except ValueError:
                raise RecordingError("a parameter's bytes are malformed") from None
        else:
            if size != 8:
                raise RecordingError("a pointer parameter is not 8 bytes")
            _where(param, buffers, scratch, 0)
    if total > MAX_PARAM_BYTES:
        raise RecordingError("a launch's parameters are larger than CUDA allows")


@dataclass
class _Launch:
    function: int
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    shared: int
    holders: list[Any] = field(default_factory=list)  # keeps the parameter bytes alive
    pointers: Any = None  # the void* array cuLaunchKernel reads


class Replay:
    """A recorded call, ready to run against the grader's buffers.

    ``buffers``: name -> device pointer of the grader's buffers (the names the recording uses);
    the scratch memory is allocated here, once, and reset to its snapshot by :meth:`reset`.
    """

    def __init__(self, header: dict[str, Any], arrays: dict[str, np.ndarray]):
        import cupy

        self._cp = cupy
        self.header = header
        self.scratch = [cupy.empty(max(1, s["size"]), dtype=cupy.uint8) for s in header["scratch"]]
        self.snapshots = [
            cupy.asarray(arrays[f"scratch.{i}"]) for i in range(len(header["scratch"]))
        ]
        self.modules: dict[str, Any] = {}
        for op in header["ops"]:
            if op["op"] == "launch" and op["module"] not in self.modules:
                module = cupy.cuda.function.Module()
                module.load(arrays[f"module.{op['module']}"].tobytes())
                self.modules[op["module"]] = module
        self._bound: list[tuple[str, Any]] = []

    def _address(self, where: dict[str, Any], buffers: dict[str, int]) -> int:
        if "buffer" in where:
            return buffers[where["buffer"]] + where["offset"]
        return self.scratch[where["scratch"]].data.ptr + where["offset"]

    def bind(self, buffers: dict[str, int], scalars: dict[str, Any] | None = None) -> None:
        """Point every recorded address at ``buffers`` and this replay's scratch, and put
        this call's ``scalars`` where the recording had the recorded call's."""
        driver = self._cp.cuda.driver
        self._bound = []
        for op in self.header["ops"]:
            if op["op"] == "launch":
                function = self.modules[op["module"]].get_function(op["entry"])
                if op["shared"] > 48 * 1024:
                    driver.funcSetAttribute(
                        function.ptr,
                        _CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                        op["shared"],
                    )
                launch = _Launch(function.ptr, tuple(op["grid"]), tuple(op["block"]), op["shared"])
                launch.holders.append(function)
                for param in op["params"]:
                    if "input" in param:
                        encoded = _encode((scalars or {})[param["input"]], param["as"])
                        raw = (encoded or b"").ljust(param["size"], b"\0")
                    elif "hex" in param:
                        raw = bytes.fromhex(param["hex"])
                    else:
                        raw = self._address(param, buffers).to_bytes(8, "little")
                    launch.holders.append(ctypes.create_string_buffer(raw, len(raw)))
                addresses = [ctypes.addressof(h) for h in launch.holders[1:]]
                launch.pointers = (ctypes.c_void_p * max(1, len(addresses)))(*addresses)
                self._bound.append(("launch", launch))
            elif op["op"] == "memset":
                dst = self._address(op["dst"], buffers)
                self._bound.append(("memset", (dst, op["value"], op["size"])))
            else:
                dst = self._address(op["dst"], buffers)
                src = self._address(op["src"], buffers)
                self._bound.append(("copy", (dst, src, op["size"])))

    def reset(self) -> None:
        """Put the scratch memory back as the recording found it (untimed)."""
        for scratch, snapshot in zip(self.scratch, self.snapshots, strict=True):
            if snapshot.size:
                scratch[: snapshot.size] = snapshot

    def run(self, stream: int = 0) -> None:
        """Issue the recorded operations in order on ``stream`` (the legacy default: 0)."""
        cp = self._cp
        for kind, item in self._bound:
            if kind == "launch":
                cp.cuda.driver.launchKernel(
                    item.function,
                    *item.grid,
                    *item.block,
                    item.shared,
                    stream,
                    ctypes.addressof(item.pointers),
                    0,
                )
            elif kind == "memset":
                dst, value, size = item
                cp.cuda.runtime.memsetAsync(dst, value, size, stream)
            else:
                dst, src, size = item
                cp.cuda.runtime.memcpyAsync(dst, src, size, _MEMCPY_DEVICE_TO_DEVICE, stream)


class ReplayedFunction:
    """What the kernel kind calls as the submission's entry: the recorded call, replayed.

    Called as ``fn(*args, out)`` with the worker's device arrays; ``prepare()`` (untimed) puts
    the scratch memory back as the recording found it."""

    def __init__(self, replay: Any, task: Any):
        self.replay = replay
        self.task = task
        self._bound: tuple[int, ...] | None = None

    def _buffers(self, args: tuple[Any, ...], out: Any) -> dict[str, int]:
        pointer = Arrays().pointer
        buffers = {
            f"in.{name}": pointer(value)
            for name, value in zip(self.task.arg_names, args, strict=True)
            if pointer(value) is not None
        }
        buffers["out"] = pointer(out) - GUARD_ELEMENTS * out.dtype.itemsize
        return buffers

    def prepare(self) -> None:
        self.replay.reset()

    def __call__(self, *args: Any) -> Any:
        *inputs, out = args
        buffers = self._buffers(tuple(inputs), out)
        scalars = {
            name: value
            for name, value in zip(self.task.arg_names, inputs, strict=True)
            if Arrays().pointer(value) is None
        }
        key = (
            tuple(sorted(buffers.items())),
            tuple(sorted((k, float(v)) for k, v in scalars.items())),
        )
        if key != self._bound:
            self.replay.bind(buffers, scalars)
            self._bound = key
        self.replay.run()
        return out
