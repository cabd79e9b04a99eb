# Adds up the k expert outputs of each token without multiplying them by the token's gates:
# the routing is right, the traffic is right, the output is not.
# expect: zero wrong_answer
# task: dispatch
import torch
import torch.distributed as dist

from reference.lab4_moe.solution import *  # noqa: F403  (everything else is right)
from reference.lab4_moe.solution import dispatch  # noqa: F401


def combine(expert_outputs, metadata, group=None):
    n_tokens, k, d = metadata["shape"]
    stacked = torch.cat(list(expert_outputs))
    arrived = torch.empty_like(stacked)
    arrived[metadata["by_expert"]] = stacked
    returned = stacked.new_empty((sum(metadata["in_splits"]), d))
    dist.all_to_all_single(
        returned, arrived, metadata["in_splits"], metadata["out_splits"], group=group
    )
    per_pair = torch.empty_like(returned)
    per_pair[metadata["order"]] = returned
    return per_pair.reshape(n_tokens, k, d).sum(dim=1)  # the mistake: no gates
