"""Lab 4: MoE vs dense communication. Edit this file; the grader grades it part by part. Read
labs/lab4_moe/README.md first: every formula below is explained there, with worked numbers.

Units everywhere: bytes, seconds, bytes per second; ``n`` is the number of GPUs in the
collective; ``bytes_per_elem`` is 2 for bf16/fp16, 4 for fp32, 1 for fp8.

Part A (the model) and part D (beyond one host) are plain arithmetic: return a float (or what
the docstring says). The grader calls them with the public examples in
labs/lab4_moe/configs.py and with secret ones, and compares with the reference to 1e-6.

Part B (the roofline) needs a CUDA GPU for ``time_matmul_sweep``; ``find_knee`` and
``predict_critical_batch`` are plain arithmetic again.

Part C (dispatch/combine and tensor parallelism) runs in one process per rank under
torch.distributed (gloo on the CPU, NCCL on GPUs): labs/lab4_moe/dist_harness.py calls your
functions on every rank. Make new tensors on ``tokens.device`` so the same code runs on both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np  # noqa: F401  (for fit_alpha_beta and find_knee)
import torch
import torch.distributed as dist  # noqa: F401  (part C)
import torch.nn.functional as F  # noqa: F401  (part C: F.gelu)

# -- part A: the communication model -------------------------------------------------------------


def bus_bandwidth(algbw: float, n: int, collective: str) -> float:
    """nccl-tests' bus bandwidth for ``collective`` ("all_reduce", "all_gather",
    "reduce_scatter", "all_to_all", "broadcast", "reduce"; also spelled without the
    underscore or with a hyphen) from the algorithm bandwidth algbw = buffer bytes / time."""
    # FILL ME IN: all-reduce x 2(n-1)/n; all-gather, reduce-scatter, all-to-all x (n-1)/n;
    # broadcast and reduce x 1. Raise ValueError for another name.
    raise NotImplementedError("bus_bandwidth is not written yet")


def alpha_beta_time(alpha_s: float, beta_bytes_per_s: float, nbytes: float) -> float:
    """Seconds to move ``nbytes``: a fixed latency alpha plus the bytes at bandwidth beta."""
    # FILL ME IN
    raise NotImplementedError("alpha_beta_time is not written yet")


def fit_alpha_beta(sizes: Sequence[float], times: Sequence[float]) -> tuple[float, float]:
    """(alpha in s, beta in bytes/s) of t = alpha + size / beta, fitted to a size sweep by least
    squares on the *relative* residuals (alpha + size / beta - t) / t."""
    # FILL ME IN: unknowns alpha and g = 1/beta. Dividing each equation alpha + size g = t by t
    # gives rows [1/t, size/t] . [alpha, g] = 1: np.linalg.lstsq solves that. Return
    # (alpha, 1/g).
    raise NotImplementedError("fit_alpha_beta is not written yet")


def tp_allreduce_bytes_per_token(
    d_model: int,
    layers: int,
    bytes_per_elem: int,
    allreduces_per_layer: int = 2,
    n: int | None = None,
) -> float:
    """Bytes a tensor-parallel dense model all-reduces per token: the all-reduced buffer when
    ``n`` is None, what each GPU sends in a ring all-reduce over n GPUs when it is given."""
    # FILL ME IN: one d_model-wide vector per all-reduce, allreduces_per_layer per layer
    # (attention and FFN: 2). Check: 8192, 80 layers, 2 B, one per layer -> 1 310 720 B.
    raise NotImplementedError("tp_allreduce_bytes_per_token is not written yet")


def ep_alltoall_bytes_per_token(
    d_model: int, layers: int, k: int, bytes_per_elem: int, n: int
) -> float:
    """Bytes an expert-parallel MoE sends per token per GPU: dispatch plus combine, every layer,
    counting only what leaves the GPU (experts spread evenly over n GPUs)."""
    # FILL ME IN
    raise NotImplementedError("ep_alltoall_bytes_per_token is not written yet")


def moe_dense_comm_ratio(experts: int, k: int) -> float:
    """Communication of an E-expert top-k MoE over that of a dense model with as many
    parameters and layers."""
    # FILL ME IN
    raise NotImplementedError("moe_dense_comm_ratio is not written yet")


def transformer_params(layers: int, hidden: int, ffn_mult: int = 4) -> int:
    """Weights of the stack: Q, K, V, O (h x h each) and the FFN's two h x (ffn_mult h)."""
    # FILL ME IN: the exam's model (32 layers, h = 4096, FFN 4h) has 32 x 12 x 4096^2.
    raise NotImplementedError("transformer_params is not written yet")


def dp_bytes(params: int, bytes_per_elem: int, n: int) -> float:
    """Data parallel: bytes each GPU sends for one forward + backward (a ring all-reduce of
    the gradients)."""
    # FILL ME IN
    raise NotImplementedError("dp_bytes is not written yet")


def pp_bytes(batch: int, seq: int, hidden: int, bytes_per_elem: int) -> float:
    """Pipeline parallel: bytes a middle stage sends for one forward + backward."""
    # FILL ME IN: activations go forward, their gradients come back.
    raise NotImplementedError("pp_bytes is not written yet")


def tp_bytes(
    batch: int,
    seq: int,
    hidden: int,
    layers: int,
    bytes_per_elem: int,
    n: int,
    allreduces_per_layer: int = 4,
) -> float:
    """Tensor parallel: bytes each GPU sends for one forward + backward; every all-reduce is a
    ring all-reduce of the batch's activations."""
    # FILL ME IN: the exam's answer is 96 GiB.
    raise NotImplementedError("tp_bytes is not written yet")


def critical_batch(flops_per_s: float, bytes_per_s: float, bytes_per_elem: int) -> float:
    """The batch b above which X[b, d] @ W[d, d] is compute-bound rather than bound by reading
    W."""
    # FILL ME IN: 2 b d^2 FLOPs against d^2 x bytes_per_elem bytes.
    raise NotImplementedError("critical_batch is not written yet")


def moe_critical_batch(
    flops_per_s: float, bytes_per_s: float, bytes_per_elem: int, experts: int, k: int
) -> float:
    """The same for an MoE layer of E experts, k active per token (the batch of the layer)."""
    # FILL ME IN
    raise NotImplementedError("moe_critical_batch is not written yet")


def amdahl_speedup(serial_fraction: float, n: float) -> float:
    """Speedup of a fixed problem on n cores when ``serial_fraction`` of it cannot be split."""
    # FILL ME IN
    raise NotImplementedError("amdahl_speedup is not written yet")


def gustafson_speedup(serial_fraction: float, n: float) -> float:
    """Scaled speedup on n cores, ``serial_fraction`` measured on the n-core run."""
    # FILL ME IN
    raise NotImplementedError("gustafson_speedup is not written yet")


# -- part D: beyond one host ---------------------------------------------------------------------


def tp_comm_time_per_token(
    d_model: int,
    layers: int,
    bytes_per_elem: int,
    n: int,
    tokens: int,
    alpha_s: float,
    bw_bytes_per_s: float,
    allreduces_per_layer: int = 2,
) -> float:
    """Seconds of all-reduce per token when n GPUs run a step of ``tokens`` tokens with TP.

    Each all-reduce is a ring: 2(n-1) steps that each cost alpha, and 2(n-1)/n of the buffer
    (tokens x d_model x bytes) through each GPU's link at bw_bytes_per_s."""
    # FILL ME IN: (layers x all-reduces x the time of one all-reduce) / tokens.
    raise NotImplementedError("tp_comm_time_per_token is not written yet")


def ep_comm_time_per_token(
    d_model: int,
    layers: int,
    k: int,
    bytes_per_elem: int,
    n: int,
    tokens: int,
    alpha_s: float,
    bw_bytes_per_s: float,
) -> float:
    """Seconds of all-to-all per token for a GPU holding ``tokens`` tokens in an n-GPU
    expert-parallel MoE.

    Two all-to-alls per layer (dispatch, combine). Each sends k x tokens x d_model x bytes, of
    which (n-1)/n leaves the GPU, in n-1 messages that each cost alpha."""
    # FILL ME IN
    raise NotImplementedError("ep_comm_time_per_token is not written yet")


def extrapolate(
    d_dense: int,
    d_moe: int,
    layers: int,
    k: int,
    bytes_per_elem: int,
    tokens: int,
    alpha_s: float,
    bw_bytes_per_s: float,
    ns: Sequence[int] = (8, 64, 256),
    allreduces_per_layer: int = 2,
) -> list[dict[str, float]]:
    """For each n in ``ns``: {"n": n, "tp_s_per_token": ..., "ep_s_per_token": ...,
    "ratio": ep / tp} for a TP dense model of width d_dense and an EP MoE of width d_moe."""
    # FILL ME IN: call your two functions above.
    raise NotImplementedError("extrapolate is not written yet")


# -- part B: the roofline on one GPU -------------------------------------------------------------


def time_matmul_sweep(batches: Sequence[int], d: int, dtype: str = "bfloat16") -> list[float]:
    """Milliseconds of one X[b, d] @ W[d, d] on the GPU, for each b in ``batches``.

    Time with CUDA events (torch.cuda.Event(enable_timing=True)); warm up first (the first
    calls pick a cuBLAS kernel); repeat each measurement and return the median."""
    # FILL ME IN: W = torch.randn(d, d, device="cuda", dtype=getattr(torch, dtype)) once; for
    # each b an X and an output buffer (torch.matmul(x, w, out=out)); a few warm-up calls;
    # then ~20 (start, end) event pairs around single matmuls; synchronise; the median of
    # start.elapsed_time(end).
    raise NotImplementedError("time_matmul_sweep is not written yet")


def find_knee(batches: Sequence[float], times_ms: Sequence[float]) -> float:
    """The batch where the flat (memory-bound) and rising (compute-bound) lines cross.

    Fit t(b) = max(c, s b): for every way of splitting the points (sorted by b) into a flat
    left part and a rising right part (each at least one point), fit c to the left part and s
    (a line through the origin) to the right part by least squares on relative residuals
    ((c - t)/t and (s b - t)/t); keep the split with the smallest total squared relative
    residual; return c / s."""
    # FILL ME IN
    raise NotImplementedError("find_knee is not written yet")


def predict_critical_batch(flops_per_s: float, bytes_per_s: float, bytes_per_elem: int) -> float:
    """The knee your measured ceilings predict (the same formula as critical_batch)."""
    # FILL ME IN
    raise NotImplementedError("predict_critical_batch is not written yet")


# -- part C: dispatch, combine and the tensor-parallel MLP ---------------------------------------


def dispatch(
    tokens: torch.Tensor,
    expert_ids: torch.Tensor,
    gates: torch.Tensor,
    num_experts: int,
    group: Any = None,
) -> tuple[list[torch.Tensor], Any]:
    """Send every (token, expert) pair to the rank that holds the expert.

    tokens      float32 (T, d), this rank's tokens (T may be 0)
    expert_ids  int64 (T, k), k distinct experts per token; expert e lives on rank
                e // (num_experts // world_size)
    gates       float32 (T, k), the weight of each of the token's experts
    group       the process group (pass it to every collective)

    Return (expert_inputs, metadata): expert_inputs[j] is a float32 (rows, d) tensor of every
    row routed to this rank's j-th expert (global id rank * experts_per_rank + j), from every
    rank, in any order; metadata is anything combine needs (the harness hands it back).
    """
    # FILL ME IN:
    #   1. group the (token, expert) pairs by expert (torch.argsort(..., stable=True)), which
    #      also groups them by destination rank; count the pairs per expert (torch.bincount);
    #   2. exchange the counts: the receiver cannot know them otherwise. An all_to_all_single
    #      of a (world, experts_per_rank) int64 tensor, equal splits;
    #   3. dist.all_to_all_single(received, send_rows, output_split_sizes, input_split_sizes)
    #      with the per-rank sums of the counts (uneven splits: some are 0);
    #   4. cut `received` (rank 0's rows, then rank 1's, ...) into one tensor per local expert.
    raise NotImplementedError("dispatch is not written yet")


def combine(
    expert_outputs: Sequence[torch.Tensor], metadata: Any, group: Any = None
) -> torch.Tensor:
    """The inverse trip: expert_outputs[j] has one row per row of expert_inputs[j] (same
    order). Return float32 (T, d): for each of this rank's tokens, the sum over its k experts
    of gate x that expert's output."""
    # FILL ME IN: put the rows back in the order they arrived, all_to_all_single them back with
    # the splits swapped, undo the grouping by expert, weight by the gates, sum over k.
    raise NotImplementedError("combine is not written yet")


def tp_mlp_forward(
    x: torch.Tensor, w1_shard: torch.Tensor, w2_shard: torch.Tensor, group: Any = None
) -> torch.Tensor:
    """y = gelu(x @ W1) @ W2 on every rank, with W1 split by columns (this rank's shard:
    (d, ffn / world)) and W2 by rows ((ffn / world, d)). x (T, d) is the same on every rank.
    Use torch.nn.functional.gelu (the exact one, its default)."""
    # FILL ME IN: one all_reduce.
    raise NotImplementedError("tp_mlp_forward is not written yet")
