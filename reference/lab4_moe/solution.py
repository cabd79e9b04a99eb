# expect: full
"""Reference solution for lab 4: the communication model (part A) and its extrapolation (part D)
come from model.py; the roofline on one GPU (part B) and the MoE dispatch/combine and
tensor-parallel MLP over torch.distributed (part C) are below."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from reference.lab4_moe.model import (  # noqa: F401  (the graded functions of parts A and D)
    alpha_beta_time,
    amdahl_speedup,
    bus_bandwidth,
    critical_batch,
    dp_bytes,
    ep_alltoall_bytes_per_token,
    ep_comm_time_per_token,
    extrapolate,
    fit_alpha_beta,
    gustafson_speedup,
    moe_critical_batch,
    moe_dense_comm_ratio,
    pp_bytes,
    tp_allreduce_bytes_per_token,
    tp_bytes,
    tp_comm_time_per_token,
    transformer_params,
)

# -- part B: the roofline on one GPU -------------------------------------------------------------

WARMUP = 5
REPEATS = 20


def time_matmul_sweep(batches: Sequence[int], d: int, dtype: str = "bfloat16") -> list[float]:
    """Milliseconds of ``X[b, d] @ W[d, d]`` for each b: CUDA events, warm-up, median of 20.

    One W for the whole sweep; a fresh X per batch. Each sample is its own pair of events
    around one matmul into a preallocated output, so the allocator is not timed.
    """
    if not torch.cuda.is_available():
        raise RuntimeError("time_matmul_sweep needs a CUDA device")
    device = torch.device("cuda")
    torch_dtype = getattr(torch, dtype)
    w = torch.randn(d, d, device=device, dtype=torch_dtype)
    times = []
    for b in batches:
        x = torch.randn(int(b), d, device=device, dtype=torch_dtype)
        out = torch.empty(int(b), d, device=device, dtype=torch_dtype)
        for _ in range(WARMUP):
            torch.matmul(x, w, out=out)
        pairs = []
        for _ in range(REPEATS):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            torch.matmul(x, w, out=out)
            end.record()
            pairs.append((start, end))
        torch.cuda.synchronize()
        times.append(float(np.median([s.elapsed_time(e) for s, e in pairs])))
    return times


def _knee_for_split(b: np.ndarray, t: np.ndarray, i: int) -> tuple[float, float]:
    """(relative squared error, knee) with points [0, i) flat and [i, n) on a line through 0."""
    flat, rising = t[:i], t[i:]
    # Relative least squares: minimise sum ((c - t)/t)^2 and sum ((s b - t)/t)^2.
    c = np.sum(1.0 / flat) / np.sum(1.0 / flat**2)
    s = np.sum(b[i:] / rising) / np.sum((b[i:] / rising) ** 2)
    error = np.sum((c / flat - 1.0) ** 2) + np.sum((s * b[i:] / rising - 1.0) ** 2)
    return float(error), float(c / s)


def find_knee(batches: Sequence[float], times_ms: Sequence[float]) -> float:
    """The batch where the memory-bound and compute-bound lines of a roofline cross.

    Model: t(b) = max(c, s b): a flat line (the weights stream in the same time whatever b) and
    a line through the origin (time grows with the FLOPs). Every split of the sorted points into
    a flat left part and a rising right part (at least one point each) is fitted by relative
    least squares; the split with the smallest total error wins, and the knee is c / s.
    """
    b = np.asarray(batches, dtype=np.float64)
    t = np.asarray(times_ms, dtype=np.float64)
    if b.shape != t.shape or b.ndim != 1 or len(b) < 2:
        raise ValueError("need at least two (batch, time) points")
    order = np.argsort(b, kind="stable")
    b, t = b[order], t[order]
    best = min(_knee_for_split(b, t, i) for i in range(1, len(b)))
    return best[1]


def predict_critical_batch(flops_per_s: float, bytes_per_s: float, bytes_per_elem: int) -> float:
    """The knee the roofline predicts: FLOP/s over bytes/s, times bytes per element / 2."""
    return critical_batch(flops_per_s, bytes_per_s, bytes_per_elem)


# -- part C: dispatch, combine, and the tensor-parallel MLP --------------------------------------


def dispatch(
    tokens: torch.Tensor,
    expert_ids: torch.Tensor,
    gates: torch.Tensor,
    num_experts: int,
    group: Any = None,
) -> tuple[list[torch.Tensor], dict[str, Any]]:
    """Send each (token, expert) pair to the rank that holds the expert.

    tokens (T, d), expert_ids (T, k) int64, gates (T, k). Expert e lives on rank
    e // (num_experts / world). Returns, for each of this rank's experts in order, the rows
    routed to it from every rank, and what combine needs to send the results back.
    """
    world = dist.get_world_size(group)
    local = num_experts // world
    n_tokens, k = expert_ids.shape
    d = tokens.shape[1]
    flat_expert = expert_ids.reshape(-1)
    flat_token = torch.arange(n_tokens, device=tokens.device).repeat_interleave(k)
    # Group the pairs by expert, so by destination rank and, inside a rank, by its experts.
    order = torch.argsort(flat_expert, stable=True)
    send_rows = tokens[flat_token[order]]
    per_expert = torch.bincount(flat_expert, minlength=num_experts)
    send_counts = per_expert.reshape(world, local)  # row r: my pairs for rank r's experts
    # The receiver cannot know its counts: exchange them first (equal splits, `local` each).
    recv_counts = torch.empty_like(send_counts)
    dist.all_to_all_single(recv_counts, send_counts, group=group)
    in_splits = send_counts.sum(dim=1).tolist()
    out_splits = recv_counts.sum(dim=1).tolist()
    received = tokens.new_empty((sum(out_splits), d))
    dist.all_to_all_single(received, send_rows, out_splits, in_splits, group=group)
    # `received` holds rank 0's rows, then rank 1's, ...; inside each, grouped by my experts.
    local_expert = torch.arange(local, device=tokens.device).repeat(world)
    row_expert = local_expert.repeat_interleave(recv_counts.reshape(-1))
    by_expert = torch.argsort(row_expert, stable=True)
    expert_inputs = list(received[by_expert].split(recv_counts.sum(dim=0).tolist()))
    metadata = {
        "order": order,
        "gates": gates,
        "in_splits": in_splits,
        "out_splits": out_splits,
        "by_expert": by_expert,
        "shape": (n_tokens, k, d),
    }
    return expert_inputs, metadata


def combine(
    expert_outputs: Sequence[torch.Tensor], metadata: dict[str, Any], group: Any = None
) -> torch.Tensor:
    """Send every expert output back to its token's rank and sum it weighted by its gate."""
    n_tokens, k, d = metadata["shape"]
    stacked = torch.cat(list(expert_outputs)) if len(expert_outputs) else None
    if stacked is None:
        stacked = metadata["gates"].new_empty((0, d))
    # Undo the grouping by expert: back to the order the rows arrived in (by source rank).
    arrived = torch.empty_like(stacked)
    arrived[metadata["by_expert"]] = stacked
    returned = stacked.new_empty((sum(metadata["in_splits"]), d))
    dist.all_to_all_single(
        returned, arrived, metadata["in_splits"], metadata["out_splits"], group=group
    )
    per_pair = torch.empty_like(returned)
    per_pair[metadata["order"]] = returned  # pair p = token p // k, its (p % k)-th expert
    weights = metadata["gates"].to(per_pair.dtype).reshape(n_tokens, k, 1)
    return (per_pair.reshape(n_tokens, k, d) * weights).sum(dim=1)


def tp_mlp_forward(
    x: torch.Tensor, w1_shard: torch.Tensor, w2_shard: torch.Tensor, group: Any = None
) -> torch.Tensor:
    """gelu(x @ W1) @ W2 with W1 split by columns and W2 by rows over the ranks.

    Each rank's columns of the hidden layer need only its own shard of W1 (column parallel),
    and the activation acts column by column; its rows of W2 give a partial sum of the output
    (row parallel). One all-reduce adds the partial sums.
    """
    partial = F.gelu(x @ w1_shard) @ w2_shard
    dist.all_reduce(partial, group=group)
    return partial
