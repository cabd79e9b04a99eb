"""Timing collectives the way nccl-tests reports them: algorithm and bus bandwidth per size.

Two ways in:

* :func:`run` from any process: starts ``world_size`` ranks with torchrun and returns their
  table. With NCCL and fewer than 2 GPUs it returns ``{"measured": False, "reason": "not
  measured: needs >= 2 GPUs"}`` instead of failing.
* :func:`sweep` inside an already initialised process group (every rank calls it).

Sizes are bytes per rank, as nccl-tests counts them: the all-reduce buffer; for all-to-all the
whole send buffer (split equally over the ranks). algbw = size / time; busbw = algbw x
2(n-1)/n for all-reduce, x (n-1)/n for all-to-all. The time of a size is the mean over
``iters`` back-to-back collectives between one pair of CUDA events (NCCL) or host clock reads
after a barrier (gloo, on the CPU), the slowest rank's.

    python -m torch.distributed.run --standalone --nproc-per-node 2 \\
        labs/lab4_moe/collectives.py --backend nccl --out sweep.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NOT_MEASURED = "not measured: needs >= 2 GPUs"
COLLECTIVES = ("all_reduce", "all_to_all")
DEFAULT_SIZES = tuple(1 << p for p in range(10, 31, 2))  # 1 KiB .. 1 GiB
ELEMENT = {"nccl": "bfloat16", "gloo": "float32"}  # gloo has no bf16 reduction


def bus_factor(collective: str, n: int) -> float:
    """nccl-tests' factor from algorithm to bus bandwidth."""
    if collective == "all_reduce":
        return 2.0 * (n - 1) / n
    if collective == "all_to_all":
        return (n - 1) / n
    raise ValueError(f"unknown collective {collective!r}; known: {COLLECTIVES}")


def sweep(
    sizes: Sequence[int],
    collective: str,
    backend: str = "nccl",
    warmup: int = 5,
    iters: int = 20,
    group: Any = None,
) -> list[dict[str, float]]:
    """Time ``collective`` at each size on every rank of ``group``: one row per size,
    {"size_bytes", "time_us", "algbw_gbps", "busbw_gbps"}, the same on every rank."""
    import torch
    import torch.distributed as dist

    n = dist.get_world_size(group)
    cuda = backend == "nccl"
    device = torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")
    dtype = getattr(torch, ELEMENT.get(backend, "float32"))
    elem = torch.tensor([], dtype=dtype).element_size()
    rows = []
    for size in sizes:
        count = max(n, int(size) // elem // n * n)  # all-to-all splits it into n equal parts
        buf = torch.ones(count, dtype=dtype, device=device)
        out = torch.empty_like(buf)

        def op(buf: Any = buf, out: Any = out) -> None:
            if collective == "all_reduce":
                dist.all_reduce(buf, group=group)
            else:
                dist.all_to_all_single(out, buf, group=group)

        for _ in range(warmup):
            op()
        dist.barrier(group=group)
        if cuda:
            torch.cuda.synchronize()
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(iters):
                op()
            end.record()
            end.synchronize()
            seconds = start.elapsed_time(end) * 1e-3 / iters
        else:
            t0 = time.perf_counter()
            for _ in range(iters):
                op()
            seconds = (time.perf_counter() - t0) / iters
        slowest = torch.tensor([seconds], dtype=torch.float64, device=device)
        dist.all_reduce(slowest, op=dist.ReduceOp.MAX, group=group)
        seconds = float(slowest.item())
        nbytes = count * elem
        algbw = nbytes / seconds
        rows.append(
            {
                "size_bytes": nbytes,
                "time_us": seconds * 1e6,
                "algbw_gbps": algbw / 1e9,
                "busbw_gbps": algbw * bus_factor(collective, n) / 1e9,
            }
        )
    return rows


def run(
    sizes: Sequence[int] = DEFAULT_SIZES,
    collectives: Sequence[str] = COLLECTIVES,
    backend: str = "nccl",
    world_size: int | None = None,
    timeout_s: float = 600.0,
) -> dict[str, Any]:
    """Start the ranks with torchrun and return {"measured", "backend", "world_size",
    "dtype", "results": {collective: rows}} or {"measured": False, "reason"}."""
    if backend == "nccl":
        import torch

        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if gpus < 2:
            return {"measured": False, "reason": NOT_MEASURED, "gpus": gpus}
        world_size = min(world_size or gpus, gpus)
    world_size = world_size or 2
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sweep.json"
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            str(world_size),
            str(Path(__file__).resolve()),
            "--backend",
            backend,
            "--out",
            str(out),
            "--sizes",
            ",".join(str(int(s)) for s in sizes),
            "--collectives",
            ",".join(collectives),
        ]
        proc = subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s, check=False
        )
        if proc.returncode != 0 or not out.exists():
            return {
                "measured": False,
                "reason": f"the sweep failed (exit code {proc.returncode})",
                "output": (proc.stdout + proc.stderr)[-4000:],
            }
        return json.loads(out.read_text())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="collective bandwidth sweep (one rank)")
    parser.add_argument("--backend", default="nccl", choices=("nccl", "gloo"))
    parser.add_argument("--out", required=True)
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES))
    parser.add_argument("--collectives", default=",".join(COLLECTIVES))
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--iters", type=int, default=20)
    args = parser.parse_args(argv)

    import torch
    import torch.distributed as dist

    if args.backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(args.backend)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    results = {
        c: sweep(sizes, c, args.backend, args.warmup, args.iters)
        for c in args.collectives.split(",")
        if c
    }
    if dist.get_rank() == 0:
        Path(args.out).write_text(
            json.dumps(
                {
                    "measured": True,
                    "backend": args.backend,
                    "world_size": dist.get_world_size(),
                    "dtype": ELEMENT[args.backend],
                    "device": torch.cuda.get_device_name() if args.backend == "nccl" else "cpu",
                    "results": results,
                }
            )
        )
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
