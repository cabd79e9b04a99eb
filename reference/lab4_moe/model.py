"""Lab 4's communication model (part A) and its extrapolation beyond one host (part D).

Pure functions of plain numbers: the grader calls the student's versions in an untrusted
process, sends the results back as JSON numbers, and compares them with these. Every figure in
the handout's napkin math comes out of one of them (tests/test_lab4_model.py checks it).

Conventions: sizes in bytes, times in seconds, bandwidths in bytes per second, ``n`` the number
of GPUs taking part in the collective.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# -- collectives -------------------------------------------------------------------------------


def ring_allreduce_factor(n: int) -> float:
    """Share of the buffer each GPU sends in a ring all-reduce: 2(n-1)/n.

    A reduce-scatter (n-1 steps of buffer/n) then an all-gather (n-1 more steps).
    """
    return 2.0 * (n - 1) / n


def _collective_key(collective: str) -> str:
    return collective.lower().replace("_", "").replace("-", "").replace(" ", "")


# nccl-tests' bus-bandwidth factors (docs/PERFORMANCE.md of nccl-tests): what a GPU's link
# carries per byte of the algorithm's buffer, so that busbw is comparable across n.
_BUS_FACTORS = {
    "allreduce": lambda n: 2.0 * (n - 1) / n,
    "allgather": lambda n: (n - 1) / n,
    "reducescatter": lambda n: (n - 1) / n,
    "alltoall": lambda n: (n - 1) / n,
    "broadcast": lambda n: 1.0,
    "reduce": lambda n: 1.0,
}


def bus_bandwidth(algbw: float, n: int, collective: str) -> float:
    """nccl-tests' bus bandwidth from the algorithm bandwidth (buffer bytes / time).

    all-reduce: x 2(n-1)/n; all-gather, reduce-scatter, all-to-all: x (n-1)/n; broadcast and
    reduce: x 1. ``collective`` is spelled "all_reduce", "allreduce" or "all-reduce" (any case).
    """
    key = _collective_key(collective)
    if key not in _BUS_FACTORS:
        raise ValueError(f"unknown collective {collective!r}; known: {sorted(_BUS_FACTORS)}")
    return float(algbw * _BUS_FACTORS[key](n))


def alpha_beta_time(alpha_s: float, beta_bytes_per_s: float, nbytes: float) -> float:
    """t = alpha + bytes / beta: a fixed latency plus the bytes at the bandwidth."""
    return float(alpha_s + nbytes / beta_bytes_per_s)


def fit_alpha_beta(sizes: Sequence[float], times: Sequence[float]) -> tuple[float, float]:
    """(alpha in s, beta in bytes/s) of t = alpha + size / beta fitted to a size sweep.

    Least squares on the *relative* residuals (t_fit - t) / t: a sweep spans many decades of
    size, and plain least squares would fit only the largest sizes (alpha comes from the small
    ones). With y = 1 and rows [1/t, size/t] this is an ordinary linear least-squares problem.
    """
    s = np.asarray(sizes, dtype=np.float64)
    t = np.asarray(times, dtype=np.float64)
    if s.shape != t.shape or s.ndim != 1 or len(np.unique(s)) < 2:
        raise ValueError("need sizes and times of the same length, with two distinct sizes")
    a = np.stack([1.0 / t, s / t], axis=1)
    (alpha, inv_beta), *_ = np.linalg.lstsq(a, np.ones_like(t), rcond=None)
    if not inv_beta > 0:
        raise ValueError("the times do not grow with the size: no bandwidth to fit")
    return float(alpha), float(1.0 / inv_beta)


# -- inference: bytes per token -----------------------------------------------------------------


def tp_allreduce_bytes_per_token(
    d_model: int,
    layers: int,
    bytes_per_elem: int,
    allreduces_per_layer: int = 2,
    n: int | None = None,
) -> float:
    """Bytes a tensor-parallel dense model all-reduces per token.

    Each block (attention, FFN: two per layer) ends in an all-reduce of the token's d-wide
    activation. Without ``n``: the buffer, d x L x bytes x all-reduces (Llama 3.3 70B's FFN
    blocks alone: 8192 x 80 x 2 B x 1 = 1.31 MB). With ``n``: what each GPU sends in a ring
    all-reduce, the buffer x 2(n-1)/n.
    """
    raw = d_model * layers * bytes_per_elem * allreduces_per_layer
    if n is None:
        return float(raw)
    return float(raw * 2 * (n - 1) / n)


def ep_alltoall_bytes_per_token(
    d_model: int, layers: int, k: int, bytes_per_elem: int, n: int
) -> float:
    """Bytes an expert-parallel MoE sends per token per GPU: dispatch plus combine.

    Per MoE layer a token goes to its k experts (dispatch) and comes back from them (combine),
    d x bytes each way per expert; with experts spread evenly over n GPUs a share (n-1)/n of
    them is on another GPU.
    """
    return float(2 * k * d_model * layers * bytes_per_elem * (n - 1) / n)


def moe_dense_comm_ratio(experts: int, k: int) -> float:
    """Comm_moe / Comm_dense = k / sqrt(E) at fixed depth and total parameters.

    Communication goes as d x L x k; a dense model with the parameters of an E-expert MoE has
    d_dense = sqrt(E) d_moe (parameters go as d^2), and k = 1.
    """
    return float(k / math.sqrt(experts))


# -- training: bytes per GPU for one forward + backward -----------------------------------------


def transformer_params(layers: int, hidden: int, ffn_mult: int = 4) -> int:
    """Weights of a transformer stack: 4 h^2 (Q, K, V, O) + 2 ffn_mult h^2 (FFN) per layer."""
    return layers * (4 + 2 * ffn_mult) * hidden * hidden


def dp_bytes(params: int, bytes_per_elem: int, n: int) -> float:
    """Data parallel: one ring all-reduce of the gradients, 2(n-1)/n x params x bytes."""
    return float(params * bytes_per_elem * 2 * (n - 1) / n)


def pp_bytes(batch: int, seq: int, hidden: int, bytes_per_elem: int) -> float:
    """Pipeline parallel, a middle stage: activations forward, their gradients backward."""
    return float(2 * batch * seq * hidden * bytes_per_elem)


def tp_bytes(
    batch: int,
    seq: int,
    hidden: int,
    layers: int,
    bytes_per_elem: int,
    n: int,
    allreduces_per_layer: int = 4,
) -> float:
    """Tensor parallel: per layer two all-reduces forward (attention, FFN) and two backward,
    each a ring all-reduce of the batch's activations (batch x seq x hidden x bytes)."""
    buffer = batch * seq * hidden * bytes_per_elem
    return float(layers * allreduces_per_layer * buffer * 2 * (n - 1) / n)


# -- compute: the critical batch and parallel speedups ------------------------------------------


def critical_batch(flops_per_s: float, bytes_per_s: float, bytes_per_elem: int) -> float:
    """Batch above which a b x d @ d x d matmul is compute-bound.

    2 b d^2 FLOPs against d^2 x bytes of weights read: b* = (FLOP/s / bytes/s) x bytes / 2;
    for 16-bit weights, FLOP/s over bytes/s.
    """
    return float(flops_per_s / bytes_per_s * bytes_per_elem / 2)


def moe_critical_batch(
    flops_per_s: float, bytes_per_s: float, bytes_per_elem: int, experts: int, k: int
) -> float:
    """An MoE layer's experts each see k/E of the batch: the critical batch grows by E/k."""
    return critical_batch(flops_per_s, bytes_per_s, bytes_per_elem) * experts / k


def amdahl_speedup(serial_fraction: float, n: float) -> float:
    """Fixed problem: 1 / (s + (1 - s) / n); at most 1/s however large n is."""
    return float(1.0 / (serial_fraction + (1.0 - serial_fraction) / n))


def gustafson_speedup(serial_fraction: float, n: float) -> float:
    """Problem grown with n (serial share s measured on the n-core run): n - s (n - 1)."""
    return float(n - serial_fraction * (n - 1))


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
    """Seconds of TP all-reduce per token in a step of ``tokens`` tokens on n GPUs.

    Each all-reduce is a ring: 2(n-1) steps, each paying alpha, and 2(n-1)/n of the buffer
    (tokens x d x bytes) through each GPU's link at ``bw_bytes_per_s``. The latency is shared by
    the step's tokens; the bandwidth term per token is tp_allreduce_bytes_per_token(n) / bw.
    """
    buffer = tokens * d_model * bytes_per_elem
    one = 2 * (n - 1) * alpha_s + 2 * (n - 1) / n * buffer / bw_bytes_per_s
    return float(layers * allreduces_per_layer * one / tokens)


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
    """Seconds of EP all-to-all per token for a GPU holding ``tokens`` tokens, n GPUs.

    Two all-to-alls per MoE layer (dispatch, combine); each sends k x tokens x d x bytes, of
    which (n-1)/n leaves the GPU, in n-1 messages (one alpha each). The bandwidth term per
    token is ep_alltoall_bytes_per_token(n) / bw.
    """
    buffer = k * tokens * d_model * bytes_per_elem
    one = (n - 1) * alpha_s + (n - 1) / n * buffer / bw_bytes_per_s
    return float(layers * 2 * one / tokens)


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
    """TP dense (width d_dense) against EP MoE (width d_moe, k experts per token) at each n.

    One row per n: {"n", "tp_s_per_token", "ep_s_per_token", "ratio"} with ratio = ep / tp.
    """
    rows = []
    for n in ns:
        tp = tp_comm_time_per_token(
            d_dense,
            layers,
            bytes_per_elem,
            n,
            tokens,
            alpha_s,
            bw_bytes_per_s,
            allreduces_per_layer,
        )
        ep = ep_comm_time_per_token(
            d_moe, layers, k, bytes_per_elem, n, tokens, alpha_s, bw_bytes_per_s
        )
        rows.append(
            {"n": int(n), "tp_s_per_token": tp, "ep_s_per_token": ep, "ratio": float(ep / tp)}
        )
    return rows
