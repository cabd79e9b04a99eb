# The tensor-parallel MLP without its all-reduce: each rank returns only its own shard's
# partial sum of the output.
# expect: zero wrong_answer
# task: dispatch
import torch.nn.functional as F

from reference.lab4_moe.solution import *  # noqa: F403  (everything else is right)


def tp_mlp_forward(x, w1_shard, w2_shard, group=None):
    return F.gelu(x @ w1_shard) @ w2_shard  # the mistake: no dist.all_reduce
