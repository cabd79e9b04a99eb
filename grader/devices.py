"""Device arrays for the child harness, whichever library the lab uses.

One small adapter per array library (numba.cuda, CuPy, torch) and one for numba's simulator.
On a real GPU every adapter does its fills, copies and reads through CuPy views made from the
CUDA array interface, so all three libraries are handled by the same few lines.

Only the child process imports this module: importing it may initialise CUDA.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import numpy as np

GUARD_ELEMENTS = 1024  # poisoned elements before and after every output buffer


def simulated() -> bool:
    return os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


def poison_value(dtype: np.dtype) -> Any:
    """NaN for floats; an unlikely sentinel for integers."""
    dtype = np.dtype(dtype)
    if dtype.kind in "fc":
        return np.nan
    if dtype.kind == "b":
        return True
    return np.iinfo(dtype).max


def is_poison(values: Any, xp: Any = np) -> Any:
    """Where ``values`` still hold the poison; ``xp`` is numpy, or CuPy for device arrays."""
    value = poison_value(values.dtype)
    return xp.isnan(values) if values.dtype.kind in "fc" else values == value


class Arrays:
    """The operations the harness needs on one library's device arrays."""

    name = "abstract"

    def to_device(self, host: np.ndarray) -> Any:
        raise NotImplementedError

    def to_host(self, dev: Any) -> np.ndarray:
        raise NotImplementedError

    def guarded_empty(self, shape: tuple[int, ...], dtype: str) -> tuple[Any, Any]:
        """A poisoned buffer with guards on both sides, and the output view inside it."""
        size = int(np.prod(shape, dtype=np.int64))
        base = self.to_device(np.full(size + 2 * GUARD_ELEMENTS, poison_value(dtype), dtype))
        view = base[GUARD_ELEMENTS : GUARD_ELEMENTS + size]
        return base, view.reshape(shape) if len(shape) != 1 else view

    def fill_poison(self, dev: Any) -> None:
        raise NotImplementedError

    def copy(self, dst: Any, src: Any) -> None:
        raise NotImplementedError

    def synchronize(self) -> None:
        raise NotImplementedError

    def is_device_array(self, obj: Any) -> bool:
        raise NotImplementedError

    def pointer(self, obj: Any) -> int | None:
        iface = getattr(obj, "__cuda_array_interface__", None)
        return int(iface["data"][0]) if iface else None


def describe(obj: Any) -> dict[str, Any]:
    """What a returned object is, in words a report can show."""
    kind = type(obj)
    info: dict[str, Any] = {"type": f"{kind.__module__}.{kind.__qualname__}"}
    dtype = getattr(obj, "dtype", None)
    shape = getattr(obj, "shape", None)
    if dtype is not None:
        info["dtype"] = str(dtype).replace("torch.", "")
    if shape is not None:
        with contextlib.suppress(TypeError, ValueError):
            info["shape"] = [int(d) for d in shape]
    return info


class SimulatorArrays(Arrays):
    """numba's CUDA simulator: device arrays are numpy arrays in a wrapper."""

    name = "numba-simulator"

    def __init__(self) -> None:
        from numba import cuda
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

        self._cuda = cuda
        self._type = FakeCUDAArray

    def to_device(self, host: np.ndarray) -> Any:
        return self._cuda.to_device(np.ascontiguousarray(host))

    def to_host(self, dev: Any) -> np.ndarray:
        return np.array(dev.copy_to_host())

    def fill_poison(self, dev: Any) -> None:
        dev._ary[...] = poison_value(dev.dtype)

    def copy(self, dst: Any, src: Any) -> None:
        dst.copy_to_device(src)

    def synchronize(self) -> None:
        self._cuda.synchronize()

    def is_device_array(self, obj: Any) -> bool:
        return type(obj) is self._type

    def pointer(self, obj: Any) -> int | None:
        ary = getattr(obj, "_ary", None)
        return int(ary.__array_interface__["data"][0]) if isinstance(ary, np.ndarray) else None


class GpuArrays(Arrays):
    """A real GPU. Reads, fills and copies go through CuPy views of any library's arrays."""

    def __init__(self, module: str) -> None:
        import cupy

        self._cp = cupy
        self.name = module
        if module == "numba":
            from numba import cuda
            from numba.cuda.cudadrv.devicearray import DeviceNDArray

            self._to_device = cuda.to_device
            self._types: tuple[type, ...] = (DeviceNDArray,)
            self._sync = cuda.synchronize
        elif module == "cupy":
            self._to_device = cupy.asarray
            self._types = (cupy.ndarray,)
            self._sync = cupy.cuda.runtime.deviceSynchronize
        elif module == "torch":
            import torch

            self._to_device = lambda host: torch.as_tensor(host, device="cuda")
            self._types = (torch.Tensor,)
            self._sync = torch.cuda.synchronize
        else:
            raise ValueError(f"unknown array module {module!r}")

    def view(self, dev: Any) -> Any:
        return self._cp.asarray(dev)

    def to_device(self, host: np.ndarray) -> Any:
        return self._to_device(np.ascontiguousarray(host))

    def to_host(self, dev: Any) -> np.ndarray:
        return self._cp.asnumpy(self.view(dev))

    def fill_poison(self, dev: Any) -> None:
        self.view(dev).fill(poison_value(np.dtype(str(dev.dtype).replace("torch.", ""))))

    def copy(self, dst: Any, src: Any) -> None:
        self.view(dst)[...] = self.view(src)

    def synchronize(self) -> None:
        self._sync()

    def is_device_array(self, obj: Any) -> bool:
        if type(obj) not in self._types:
            return False
        return self.name != "torch" or obj.is_cuda


def arrays_for(module: str) -> Arrays:
    if simulated():
        if module != "numba":
            raise RuntimeError(f"the simulator runs numba kernels only, not {module}")
        return SimulatorArrays()
    return GpuArrays(module)


def device_info() -> dict[str, Any]:
    """Name, compute capability, memory, L2 and versions of the current device."""
    if simulated():
        import numba

        return {"mode": "simulator", "name": "numba CUDA simulator", "numba": numba.__version__}
    import cupy

    runtime = cupy.cuda.runtime
    props = runtime.getDeviceProperties(0)
    name = props["name"]
    return {
        "mode": "gpu",
        "name": name.decode() if isinstance(name, bytes) else str(name),
        "compute_capability": f"{props['major']}.{props['minor']}",
        "multiprocessors": int(props["multiProcessorCount"]),
        "memory_bytes": int(props["totalGlobalMem"]),
        "l2_bytes": int(props["l2CacheSize"]),
        "driver_version": _cuda_version(runtime.driverGetVersion()),
        "runtime_version": _cuda_version(runtime.runtimeGetVersion()),
        "cupy": cupy.__version__,
        "pci_bus_id": _pci_bus_id(runtime),
    }


def _pci_bus_id(runtime: Any) -> str:
    """Which physical GPU this is (device 0 of the process is any GPU CUDA_VISIBLE_DEVICES
    names)."""
    try:
        return str(runtime.deviceGetPCIBusId(0))
    except Exception:  # an older CuPy, or a driver that will not say
        return ""


def _cuda_version(code: int) -> str:
    return f"{code // 1000}.{(code % 1000) // 10}"
