"""Part B, the grader's side: it times the same matmuls itself (trusted), measures the two
ceilings of the roofline on the same GPU, and the student's knee is judged against these.

    measure_sweep(batches, d)  ->  {"batches", "times_ms", "tflops", "ceiling_tflops",
                                    "ceiling_batch", "copy_gbps", "device", "cold", ...}

Every time is the median of ``repeats`` samples, each a pair of CUDA events around one
operation; with ``flush_l2`` a buffer twice the L2's size is written before each sample, so the
weights come from DRAM (cold). At d = 8192 the bf16 weights (128 MiB) do not fit in the L2
anyway. ``measured``/``reason`` say why nothing was measured (no CUDA device).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

NOT_MEASURED = "not measured: needs a CUDA device"


def matmul_flops(batch: int, d: int) -> int:
    """FLOPs of X[b, d] @ W[d, d]: one multiply and one add per term."""
    return 2 * batch * d * d


def median_ms(samples: Sequence[float]) -> float:
    if not samples:
        raise ValueError("no samples")
    return float(statistics.median(samples))


def _event_times(
    op: Callable[[], Any], warmup: int, repeats: int, before: Callable[[], Any] | None
) -> list[float]:
    """Milliseconds of ``op``, one pair of CUDA events per sample (``before`` untimed)."""
    import torch

    for _ in range(warmup):
        op()
    samples = []
    for _ in range(repeats):
        if before is not None:
            before()
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        op()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end))
    return samples


def measure_sweep(
    batches: Sequence[int],
    d: int = 8192,
    dtype: str = "bfloat16",
    warmup: int = 5,
    repeats: int = 20,
    ceiling_batch: int = 8192,
    copy_bytes: int = 1 << 30,
    flush_l2: bool = True,
) -> dict[str, Any]:
    """Time X[b, d] @ W[d, d] for each b, the matmul ceiling at ``ceiling_batch`` and a
    device-to-device copy of ``copy_bytes`` (its bandwidth counts bytes read and written)."""
    import torch

    if not torch.cuda.is_available():
        return {"measured": False, "reason": NOT_MEASURED}
    device = torch.device("cuda")
    torch_dtype = getattr(torch, dtype)
    props = torch.cuda.get_device_properties(device)
    l2 = int(getattr(props, "L2_cache_size", 0) or 64 << 20)
    scratch = torch.empty(2 * l2, dtype=torch.uint8, device=device) if flush_l2 else None

    def flush() -> None:
        if scratch is not None:
            scratch.fill_(1)

    w = torch.randn(d, d, device=device, dtype=torch_dtype)
    times = []
    for b in [*batches, ceiling_batch]:
        x = torch.randn(int(b), d, device=device, dtype=torch_dtype)
        out = torch.empty(int(b), d, device=device, dtype=torch_dtype)

        def op(x: Any = x, out: Any = out) -> Any:
            return torch.matmul(x, w, out=out)

        samples = _event_times(op, warmup, repeats, flush)
        times.append(median_ms(samples))
    *sweep, ceiling_ms = times

    src = torch.empty(copy_bytes, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    copy_ms = median_ms(_event_times(lambda: dst.copy_(src), warmup, repeats, None))
    # Reading alone, as the weights stream in a memory-bound matmul: a sum over the same bytes
    # (cold: L2 flushed before each sample), read once, written never.
    weights_like = src.view(torch_dtype)
    read_ms = median_ms(_event_times(lambda: weights_like.sum(), warmup, repeats, flush))
    torch.cuda.synchronize()
    return {
        "measured": True,
        "device": props.name,
        "dtype": dtype,
        "d": d,
        "batches": [int(b) for b in batches],
        "times_ms": sweep,
        "tflops": [
            matmul_flops(int(b), d) / (t * 1e-3) / 1e12 for b, t in zip(batches, sweep, strict=True)
        ],
        "ceiling_batch": ceiling_batch,
        "ceiling_tflops": matmul_flops(ceiling_batch, d) / (ceiling_ms * 1e-3) / 1e12,
        "copy_gbps": 2 * copy_bytes / (copy_ms * 1e-3) / 1e9,
        "read_gbps": copy_bytes / (read_ms * 1e-3) / 1e9,
        "cold": flush_l2,
        "repeats": repeats,
    }
