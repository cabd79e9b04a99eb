"""Part C's inputs, made from a seed: the same on every rank that asks, in any process.

The harness (one process per rank) and the grader's reference (one process for all ranks) both
call :func:`rank_inputs`, so they agree without sending anything. numpy only.

The routing is uneven on purpose:
  * one rank (the *silent* rank) has no tokens at all, so it sends nothing;
  * a quarter of the experts (at least one) are *cold*: no token picks them;
  * tokens prefer their own rank's experts (x LOCAL_BIAS), so the split sizes differ from pair
    to pair of ranks and the traffic is far below "every token to every rank".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

D_MODEL = 64  # 256 bytes per float32 row: the payload dwarfs any per-row bookkeeping
TOP_K = 2
EXPERTS_PER_RANK = 2
MIN_TOKENS, MAX_TOKENS = 16, 64
LOCAL_BIAS = 4.0  # a token picks one of its own rank's experts 4x as readily as another's
FFN_MULT = 4


@dataclass(frozen=True)
class Problem:
    seed: int
    world_size: int
    num_experts: int
    k: int
    d_model: int
    ffn: int  # hidden width of the TP MLP, a multiple of world_size
    tokens_per_rank: tuple[int, ...]
    silent_rank: int  # -1 when world_size == 1
    cold_experts: tuple[int, ...]
    tp_tokens: int

    @property
    def experts_per_rank(self) -> int:
        return self.num_experts // self.world_size

    def owner(self, expert: int) -> int:
        """The rank that holds ``expert``."""
        return expert // self.experts_per_rank


def _rng(seed: int, world_size: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(world_size), *stream])


def problem(seed: int, world_size: int) -> Problem:
    if world_size < 1:
        raise ValueError("world_size must be at least 1")
    rng = _rng(seed, world_size, 0)
    num_experts = EXPERTS_PER_RANK * world_size
    tokens = [int(t) for t in rng.integers(MIN_TOKENS, MAX_TOKENS + 1, size=world_size)]
    silent = int(rng.integers(world_size)) if world_size > 1 else -1
    if silent >= 0:
        tokens[silent] = 0
    # At least one cold expert. The first is one of the silent rank's: with two ranks, a cold
    # expert on the busy rank would push most of its tokens to the other rank, and the traffic
    # of "every token to every rank" would come close to the minimum. The rest anywhere.
    n_cold = max(0, min(max(1, num_experts // 4), num_experts - TOP_K - 1))  # > k stay hot
    cold: set[int] = set()
    if n_cold > 0 and silent >= 0:
        cold.add(silent * EXPERTS_PER_RANK + int(rng.integers(EXPERTS_PER_RANK)))
    others = [e for e in range(num_experts) if e not in cold]
    cold.update(int(e) for e in rng.choice(others, size=n_cold - len(cold), replace=False))
    ffn = world_size * -(-FFN_MULT * D_MODEL // world_size)
    tp_tokens = int(rng.integers(3, 40))
    return Problem(
        seed,
        world_size,
        num_experts,
        TOP_K,
        D_MODEL,
        ffn,
        tuple(tokens),
        silent,
        tuple(sorted(cold)),
        tp_tokens,
    )


def expert_params(p: Problem) -> tuple[np.ndarray, np.ndarray]:
    """(scale, bias), float32 (E, d): expert e maps a row x to x * scale[e] + bias[e]."""
    rng = _rng(p.seed, p.world_size, 2)
    scale = rng.uniform(0.5, 2.0, size=(p.num_experts, p.d_model)).astype(np.float32)
    bias = rng.standard_normal((p.num_experts, p.d_model)).astype(np.float32)
    return scale, bias


def expert_op(x: np.ndarray, expert: int, scale: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """What the harness's expert ``expert`` does to its rows (float32, row by row)."""
    return (x * scale[expert] + bias[expert]).astype(np.float32)


def tp_weights(p: Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x (tp_tokens, d), W1 (d, ffn), W2 (ffn, d)), float32: the same x on every rank."""
    rng = _rng(p.seed, p.world_size, 3)
    x = rng.standard_normal((p.tp_tokens, p.d_model)).astype(np.float32)
    w1 = (rng.standard_normal((p.d_model, p.ffn)) / np.sqrt(p.d_model)).astype(np.float32)
    w2 = (rng.standard_normal((p.ffn, p.d_model)) / np.sqrt(p.ffn)).astype(np.float32)
    return x, w1, w2


def routing(p: Problem, rank: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tokens (T, d) float32, expert_ids (T, k) int64, gates (T, k) float32) of ``rank``.

    Each token picks k distinct experts at random (Gumbel top-k) with weights 1, LOCAL_BIAS for
    its own rank's experts, 0 for the cold ones; its gates are a softmax over the k picks.
    """
    rng = _rng(p.seed, p.world_size, 1, rank)
    n = p.tokens_per_rank[rank]
    weights = np.ones(p.num_experts)
    weights[[e for e in range(p.num_experts) if p.owner(e) == rank]] = LOCAL_BIAS
    weights[list(p.cold_experts)] = 0.0
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)
    keys = log_w + rng.gumbel(size=(n, p.num_experts))
    expert_ids = np.argsort(-keys, axis=1, kind="stable")[:, : p.k].astype(np.int64)
    logits = rng.standard_normal((n, p.k))
    gates = np.exp(logits - logits.max(axis=1, keepdims=True))
    gates = (gates / gates.sum(axis=1, keepdims=True)).astype(np.float32)
    tokens = rng.standard_normal((n, p.d_model)).astype(np.float32)
    return tokens, expert_ids, gates


def rank_inputs(seed: int, world_size: int, rank: int) -> dict[str, np.ndarray]:
    """Everything ``rank`` is given: tokens, expert_ids, gates, and x, w1_shard, w2_shard."""
    p = problem(seed, world_size)
    tokens, expert_ids, gates = routing(p, rank)
    x, w1, w2 = tp_weights(p)
    cols = p.ffn // world_size
    return {
        "tokens": tokens,
        "expert_ids": expert_ids,
        "gates": gates,
        "x": x,
        "w1_shard": np.ascontiguousarray(w1[:, rank * cols : (rank + 1) * cols]),
        "w2_shard": np.ascontiguousarray(w2[rank * cols : (rank + 1) * cols, :]),
    }
