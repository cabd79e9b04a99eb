"""Recording what a submission's call did on the GPU, so that a process of the grader's own can
do it again (:mod:`grader.replay`), check its output and time it.

Runs in the submission's process, which the submission can rewrite at will: a recording is a
claim, never a verdict. What makes it useful evidence is what the replay does with it: it runs
*only* the compiled kernels the recording names, with the launch configurations and arguments
it names, on inputs the submission never saw. A call whose kernels did not compute the result
on their own (work done on the host, by a library such as cuBLAS, by copies, or results reused)
replays wrong; a recording forged to name other kernels just gets those kernels graded.

What is recorded, per call (numba on a GPU):

* every kernel launched through numba (``_Kernel.launch``): its CUBIN (deduplicated by hash),
  entry name, grid, block, dynamic shared memory, and every parameter's bytes; a parameter
  that points into device memory is stored as (buffer, offset): one of the grader's buffers
  (inputs, the guarded output) or an allocation of the submission's own ("scratch", whose
  contents are snapshotted the first time a recorded operation touches it);
* memsets and device-to-device copies, the same way;
* what is not replayed, counted for the report: copies from or to the host.

Under numba's simulator there is nothing compiled to record: only launches are counted, so a
call that launched no kernel can be named.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAX_SCRATCH_BYTES = 256 << 20  # snapshots of the submission's own allocations, per call
MAX_OPS = 4096  # operations in one recorded call
MAX_PARAM_BYTES = 4096  # of one launch's parameters (CUDA's own limit)
MAX_MODULE_BYTES = 32 << 20


@dataclass
class Recording:
    """One call's operations (JSON-able ``ops``) and the bytes they refer to."""

    ops: list[dict[str, Any]] = field(default_factory=list)
    modules: dict[str, bytes] = field(default_factory=dict)  # sha256 hex -> CUBIN
    scratch: list[dict[str, Any]] = field(default_factory=list)  # {"size", "base"}
    snapshots: dict[int, bytes] = field(default_factory=dict)  # scratch index -> bytes
    not_replayed: dict[str, int] = field(default_factory=dict)  # what the replay leaves out
    launches: int = 0
    error: str = ""  # why this call cannot be replayed, if it cannot

    def header(self) -> dict[str, Any]:
        return {
            "ops": self.ops,
            "modules": sorted(self.modules),
            "scratch": [{"size": s["size"]} for s in self.scratch],
            "not_replayed": self.not_replayed,
            "launches": self.launches,
            "error": self.error,
        }

    def arrays(self, sent_modules: set[str]) -> dict[str, np.ndarray]:
        """The bytes to send with the header: modules not sent before, and the snapshots."""
        out = {}
        for sha, cubin in self.modules.items():
            if sha not in sent_modules:
                out[f"module.{sha}"] = np.frombuffer(cubin, dtype=np.uint8)
                sent_modules.add(sha)
        for index, data in self.snapshots.items():
            out[f"scratch.{index}"] = np.frombuffer(data, dtype=np.uint8)
        return out


SCALAR_ENCODINGS = ("float32", "float64", "int32", "int64")


def _encode(value: Any, encoding: str) -> bytes | None:
    """``value`` as a kernel parameter of ``encoding``'s type, or None if it is not one."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if encoding.startswith("int"):
        if not number.is_integer():
            return None
        return np.array(int(number), dtype=encoding).tobytes()
    return np.array(number, dtype=encoding).tobytes()


class _DeviceHooks:
    """Hooks into numba, installed before the submission is imported: on a GPU its launch and
    the driver's calls, under the simulator its fake kernels and arrays."""

    simulated = False

    def install(self) -> None:
        from grader import devices

        self.simulated = devices.simulated()
        if self.simulated:
            self._install_simulator()
        else:
            self._install_gpu()

    def _install_simulator(self) -> None:
        raise NotImplementedError

    def _install_gpu(self) -> None:
        raise NotImplementedError


class Recorder(_DeviceHooks):
    """Installs itself around numba's launch path and its memory operations (GPU), or around
    the simulator's kernels (launch counting only)."""

    def __init__(self) -> None:
        self._active: Recording | None = None
        self._buffers: dict[str, tuple[int, int]] = {}
        self._scalars: dict[tuple[str, str], bytes] = {}
        self._scratch_by_base: dict[int, int] = {}
        self._snapshot_bytes = 0
        self._local = threading.local()
        self._originals: dict[str, Any] = {}
        self.simulated = False

    # -- installing -----------------------------------------------------------------------------

    def _install_simulator(self) -> None:
        from numba.cuda.simulator.kernel import FakeCUDAKernel

        original = FakeCUDAKernel.__call__
        recorder = self

        def call(kernel: Any, *args: Any) -> Any:
            if recorder._active is not None and not kernel._device:
                recorder._active.launches += 1
            return original(kernel, *args)

        FakeCUDAKernel.__call__ = call

    def _install_gpu(self) -> None:
        from numba.cuda import dispatcher
        from numba.cuda.cudadrv import driver as drv

        recorder = self
        kernel_launch = dispatcher._Kernel.launch
        core_launch = dispatcher.launch

        def launch(kernel: Any, args: Any, griddim: Any, blockdim: Any, stream=0, sharedmem=0):
            recorder._local.launch = (kernel, griddim, blockdim, sharedmem)
            try:
                return kernel_launch(kernel, args, griddim, blockdim, stream, sharedmem)
            finally:
                recorder._local.launch = None

        def launched(stream: Any, config: Any, cufunc: Any, *kernelargs: Any) -> Any:
            current = getattr(recorder._local, "launch", None)
            if recorder._active is not None and current is not None:
                recorder._record_launch(current, kernelargs)
            return core_launch(stream, config, cufunc, *kernelargs)

        dispatcher._Kernel.launch = launch
        dispatcher.launch = launched
        driver = drv.driver
        self._dtoh = driver.cuMemcpyDtoH
        for name in ("cuMemsetD8", "cuMemsetD8Async"):
            self._wrap(driver, name, self._record_memset)
        for name in ("cuMemcpyDtoD", "cuMemcpyDtoDAsync"):
            self._wrap(driver, name, self._record_copy)
        for name in ("cuMemcpyHtoD", "cuMemcpyHtoDAsync"):
            self._wrap(driver, name, self._note_host_copy("copies from the host"))
        for name in ("cuMemcpyDtoH", "cuMemcpyDtoHAsync"):
            self._wrap(driver, name, self._note_host_copy("copies to the host"))

    def _wrap(self, driver: Any, name: str, note: Any) -> None:
        original = getattr(driver, name)
        recorder = self

        def wrapped(*args: Any) -> Any:
            if recorder._active is not None:
                note(*args)
            return original(*args)

        self._originals[name] = original
        setattr(driver, name, wrapped)

    # -- recording ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def recording(
        self, buffers: dict[str, tuple[int, int]], scalars: dict[str, Any] | None = None
    ) -> Iterator[Recording]:
        """Record one call; ``buffers``: the grader's device buffers, name -> (pointer, bytes);
        ``scalars``: the call's scalar inputs, name -> value (a kernel parameter that holds
        one, as float32, float64, int32 or int64, is recorded as that input, not its value)."""
        recording = Recording()
        self._buffers = dict(buffers)
        self._scalars = {
            (encoding, name): _encode(value, encoding)
            for name, value in (scalars or {}).items()
            for encoding in SCALAR_ENCODINGS
            if _encode(value, encoding) is not None
        }
        self._scratch_by_base = {}
        self._snapshot_bytes = 0
        self._active = recording
        try:
            yield recording
        finally:
            self._active = None

    def _fail(self, why: str) -> None:
        if self._active is not None and not self._active.error:
            self._active.error = why

    def _add_op(self, op: dict[str, Any]) -> None:
        assert self._active is not None
        if len(self._active.ops) >= MAX_OPS:
            self._fail(f"more than {MAX_OPS} GPU operations in one call")
            return
        self._active.ops.append(op)

    def _where(self, pointer: int) -> dict[str, Any] | None:
        """(buffer or scratch, offset) for a device address, or None for a plain number."""
        for name, (base, size) in self._buffers.items():
            if base <= pointer <= base + size:
                return {"buffer": name, "offset": pointer - base}
        if pointer < 1 << 16:
            return None  # sizes, strides, flags: never a device address
        from numba.cuda.cudadrv.driver import binding

        try:
            status, base, size = binding.cuMemGetAddressRange(pointer)
        except Exception:
            return None
        if int(status) != 0:
            return None
        base, size = int(base), int(size)
        index = self._scratch_by_base.get(base)
        if index is None:
            index = self._new_scratch(base, size)
        return {"scratch": index, "offset": pointer - base}

    def _new_scratch(self, base: int, size: int) -> int:
        """A device allocation of the submission's own: its contents now, before any op."""
        assert self._active is not None
        index = len(self._active.scratch)
        self._scratch_by_base[base] = index
        self._active.scratch.append({"size": size, "base": base})
        if self._snapshot_bytes + size > MAX_SCRATCH_BYTES:
            self._fail(
                f"the call's own device allocations hold more than {MAX_SCRATCH_BYTES >> 20} MiB"
            )
            return index
        host = np.empty(size, dtype=np.uint8)
        self._dtoh(host.ctypes.data, base, size)
        self._active.snapshots[index] = host.tobytes()
        self._snapshot_bytes += size
        return index

    def _param(self, value: Any) -> dict[str, Any]:
        """One kernel parameter as cuda.core passes it: its bytes, or where it points."""
        if isinstance(value, bool):
            raw, size = int(value).to_bytes(8, "little"), 8
        elif isinstance(value, int):
            where = self._where(value)
            if where is not None:
                return {"size": 8, **where}
            raw, size = (value & (2**64 - 1)).to_bytes(8, "little"), 8
        elif isinstance(value, float):
            raw, size = np.float64(value).tobytes(), 8
        elif isinstance(value, np.generic):
            raw, size = value.tobytes(), value.nbytes
        elif isinstance(value, ctypes._SimpleCData):
            raw, size = bytes(value), ctypes.sizeof(value)
            if isinstance(value, ctypes.c_void_p) and value.value:
                where = self._where(int(value.value))
                if where is not None:
                    return {"size": size, **where}
        else:
            self._fail(f"a kernel parameter of type {type(value).__name__} cannot be replayed")
            return {"size": 0, "hex": ""}
        for (encoding, name), encoded in self._scalars.items():
            if raw[: len(encoded)] == encoded and raw[len(encoded) :].strip(b"\0") == b"":
                return {"size": size, "input": name, "as": encoding}
        return {"size": size, "hex": raw.hex()}

    def _record_launch(self, launch: tuple, kernelargs: tuple) -> None:
        assert self._active is not None
        kernel, griddim, blockdim, sharedmem = launch
        self._active.launches += 1
        try:
            library = kernel._codelibrary
            code = library.get_cubin()
            # numba-cuda 0.30 hands back cuda.core's ObjectCode; older ones, the bytes.
            cubin = bytes(getattr(code, "code", code))
            entry = str(library._entry_name)
        except Exception as exc:  # an unusual kernel (linked external code, LTO)
            self._fail(f"the compiled code of a kernel could not be read: {exc}")
            return
        if len(cubin) > MAX_MODULE_BYTES:
            self._fail("a kernel's compiled code is larger than the grader replays")
            return
        sha = hashlib.sha256(cubin).hexdigest()
        self._active.modules[sha] = cubin
        self._add_op(
            {
                "op": "launch",
                "module": sha,
                "entry": entry,
                "grid": [int(d) for d in griddim],
                "block": [int(d) for d in blockdim],
                "shared": int(sharedmem),
                "params": [self._param(v) for v in kernelargs],
            }
        )

    def _pointer(self, value: Any) -> int:
        return int(value)  # an int, or cuda-python's CUdeviceptr (which converts)

    def _record_memset(self, dst: Any, value: Any, size: Any, *stream: Any) -> None:
        where = self._where(self._pointer(dst))
        if where is None:
            self._count("memsets of memory the grader cannot place")
            return
        self._add_op({"op": "memset", "dst": where, "value": int(value) & 0xFF, "size": int(size)})

    def _record_copy(self, dst: Any, src: Any, size: Any, *stream: Any) -> None:
        to, frm = self._where(self._pointer(dst)), self._where(self._pointer(src))
        if to is None or frm is None:
            self._count("device copies of memory the grader cannot place")
            return
        self._add_op({"op": "copy", "dst": to, "src": frm, "size": int(size)})

    def _note_host_copy(self, what: str) -> Any:
        def note(*args: Any) -> None:
            self._count(what)

        return note

    def _count(self, what: str) -> None:
        assert self._active is not None
        self._active.not_replayed[what] = self._active.not_replayed.get(what, 0) + 1


# -- counting only (pipelines) ----------------------------------------------------------------


@dataclass
class Tally:
    """What one call did on the device, counted: kernel launches through numba, and bytes
    copied from the host to the device and back."""

    launches: int = 0
    h2d_bytes: int = 0
    d2h_bytes: int = 0
    copies_counted: bool = True

    def header(self) -> dict[str, int | None]:
        copies = self.copies_counted
        return {
            "launches": self.launches,
            "h2d_bytes": self.h2d_bytes if copies else None,
            "d2h_bytes": self.d2h_bytes if copies else None,
        }


def _nbytes(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class Counter(_DeviceHooks):
    """Counts what a call did on the device, and nothing more: no compiled code read, no
    snapshot, no synchronisation, so a pipeline's streams keep their timing and their races
    (lab 1, where the kernels are the lab's own and the copies are the student's work).

    Like a recording, a tally comes from the submission's process: evidence that a call used
    the device, which the grader weighs, never a verdict. Installed before the submission is
    imported. On a GPU it counts numba's kernel launches (the copies back are seen in the CUPTI
    trace of the traced calls); under the simulator, its kernels, its device arrays' copies and
    ``cuda.to_device`` (a host array passed straight to a kernel counts as copied both ways, as
    numba does on a GPU).
    """

    def __init__(self) -> None:
        self._active: Tally | None = None
        self.simulated = False
        self.copies_counted = True

    @contextlib.contextmanager
    def counting(self) -> Iterator[Tally]:
        tally = Tally(copies_counted=self.copies_counted)
        self._active = tally
        try:
            yield tally
        finally:
            self._active = None

    def _install_simulator(self) -> None:
        import numba.cuda
        from numba.cuda.simulator.cudadrv import devicearray
        from numba.cuda.simulator.kernel import FakeCUDAKernel

        counter = self
        kernel_call = FakeCUDAKernel.__call__
        to_host = devicearray.FakeCUDAArray.copy_to_host
        to_dev = devicearray.FakeCUDAArray.copy_to_device
        to_device = devicearray.to_device

        def call(kernel: Any, *args: Any) -> Any:
            tally = counter._active
            if tally is not None and not kernel._device:
                tally.launches += 1
                for arg in args:
                    if isinstance(arg, np.ndarray):
                        tally.h2d_bytes += arg.nbytes
                        tally.d2h_bytes += arg.nbytes
            return kernel_call(kernel, *args)

        def copy_to_host(array: Any, ary: Any = None, stream: Any = 0) -> Any:
            if counter._active is not None:
                counter._active.d2h_bytes += _nbytes(array.nbytes)
            return to_host(array, ary, stream)

        def copy_to_device(array: Any, ary: Any, stream: Any = 0) -> Any:
            if counter._active is not None and not isinstance(ary, devicearray.FakeCUDAArray):
                counter._active.h2d_bytes += _nbytes(getattr(ary, "nbytes", 0))
            return to_dev(array, ary, stream)

        def to_device_counted(ary: Any, stream: Any = 0, copy: bool = True, to: Any = None) -> Any:
            if counter._active is not None and to is None:
                counter._active.h2d_bytes += _nbytes(getattr(ary, "nbytes", 0))
            return to_device(ary, stream, copy, to)

        FakeCUDAKernel.__call__ = call
        devicearray.FakeCUDAArray.copy_to_host = copy_to_host
        devicearray.FakeCUDAArray.copy_to_device = copy_to_device
        devicearray.to_device = to_device_counted
        for module in (numba.cuda, sys.modules.get("numba.cuda.simulator")):
            if module is not None and getattr(module, "to_device", None) is to_device:
                module.to_device = to_device_counted

    def _install_gpu(self) -> None:
        from numba.cuda import dispatcher

        counter = self
        kernel_launch = dispatcher._Kernel.launch

        def launch(kernel: Any, *args: Any, **kwargs: Any) -> Any:
            if counter._active is not None:
                counter._active.launches += 1
            return kernel_launch(kernel, *args, **kwargs)

        dispatcher._Kernel.launch = launch
        # On a GPU the copies are not counted here: every traced call's CUPTI trace, recorded
        # by the driver, must show the copies back (the pipeline kind checks it), and counting
        # them through the driver's entry points has yet to run on a GPU.
        self.copies_counted = False
