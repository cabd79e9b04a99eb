"""Part C's expected outputs, computed in one process with numpy (and torch on the CPU for the
MLP), and the least traffic a correct dispatch/combine needs. The grader's parent process
calls :func:`check` on a harness run's folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from labs.lab4_moe import dist_check, dist_inputs


def reference_outputs(seed: int, world_size: int) -> list[dict[str, Any]]:
    """Per rank: {"expert_inputs": [float32 (rows, d) per local expert, rows in any order],
    "combined": float64 (T, d), "tp_out": float64 (tp_tokens, d)}."""
    p = dist_inputs.problem(seed, world_size)
    scale, bias = dist_inputs.expert_params(p)
    routed = [dist_inputs.routing(p, r) for r in range(world_size)]
    x, w1, w2 = dist_inputs.tp_weights(p)
    with torch.no_grad():
        hidden = torch.nn.functional.gelu(
            torch.from_numpy(x).double() @ torch.from_numpy(w1).double()
        )
        tp_out = (hidden @ torch.from_numpy(w2).double()).numpy()

    # What each expert receives: every (token, slot) pair routed to it, from every rank.
    per_expert: list[list[np.ndarray]] = [[] for _ in range(p.num_experts)]
    for tokens, expert_ids, _ in routed:
        for e in range(p.num_experts):
            t, _slot = np.nonzero(expert_ids == e)
            per_expert[e].append(tokens[t])
    received = [
        np.concatenate(rows) if rows else np.zeros((0, p.d_model), np.float32)
        for rows in per_expert
    ]
    outputs = []
    for r, (tokens, expert_ids, gates) in enumerate(routed):
        combined = np.zeros((len(tokens), p.d_model))
        for slot in range(p.k):
            for t in range(len(tokens)):
                e = int(expert_ids[t, slot])
                y = dist_inputs.expert_op(tokens[t], e, scale, bias)
                combined[t] += float(gates[t, slot]) * y.astype(np.float64)
        local = range(r * p.experts_per_rank, (r + 1) * p.experts_per_rank)
        outputs.append(
            {"expert_inputs": [received[e] for e in local], "combined": combined, "tp_out": tp_out}
        )
    return outputs


def expected_bytes(
    expert_ids_per_rank: Sequence[np.ndarray],
    num_experts: int,
    world_size: int,
    row_bytes: int,
) -> list[dict[str, int]]:
    """Least bytes each rank sends for one dispatch and one combine, pair by pair.

    Dispatch: rank r sends one row per (token, expert) pair of its tokens whose expert lives on
    another rank. Combine: rank r sends back one row per pair it received from another rank.
    (Sending a token once to a rank holding two of its experts would be less: allowed.)
    """
    per_rank = num_experts // world_size
    out = [{"dispatch": 0, "combine": 0} for _ in range(world_size)]
    for src, ids in enumerate(expert_ids_per_rank):
        owners = np.asarray(ids).reshape(-1) // per_rank
        for dst in range(world_size):
            if dst == src:
                continue
            pairs = int(np.count_nonzero(owners == dst))
            out[src]["dispatch"] += pairs * row_bytes
            out[dst]["combine"] += pairs * row_bytes
    return out


def expected_tp_bytes(tokens: int, d_model: int, bytes_per_elem: int, world_size: int) -> int:
    """One ring all-reduce of the (tokens, d) output: 2(n-1)/n of it, per rank."""
    return round(2 * (world_size - 1) / world_size * tokens * d_model * bytes_per_elem)


def expected_traffic(seed: int, world_size: int) -> list[dict[str, int]]:
    """Per rank: {"dispatch", "combine", "tp"}: the least bytes it sends."""
    p = dist_inputs.problem(seed, world_size)
    ids = [dist_inputs.routing(p, r)[1] for r in range(world_size)]
    rows = expected_bytes(ids, p.num_experts, world_size, p.d_model * 4)
    tp = expected_tp_bytes(p.tp_tokens, p.d_model, 4, world_size)
    return [{**row, "tp": tp} for row in rows]


def check(
    out_dir: str | Path, seed: int, world_size: int, parts: Sequence[str] = ("moe", "tp")
) -> dict[str, Any]:
    """The verdict on a harness run in ``out_dir`` (see labs/lab4_moe/dist_check.py)."""
    return dist_check.judge(
        out_dir,
        world_size,
        reference_outputs(seed, world_size),
        expected_traffic(seed, world_size),
        parts,
    )
