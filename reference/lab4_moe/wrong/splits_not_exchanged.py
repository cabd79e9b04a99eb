# Skips the exchange of counts: assumes each rank receives from every peer as many rows as it
# sends to that peer (output_split_sizes = input_split_sizes). True only when the routing is
# symmetric; the harness's routing is not (one rank has no tokens, some experts none), so the
# ranks disagree on the split sizes.
# expect: zero split_mismatch
# task: dispatch
import torch
import torch.distributed as dist

from reference.lab4_moe.solution import *  # noqa: F403  (everything else is right)
from reference.lab4_moe.solution import combine  # noqa: F401


def dispatch(tokens, expert_ids, gates, num_experts, group=None):
    world = dist.get_world_size(group)
    local = num_experts // world
    n_tokens, k = expert_ids.shape
    d = tokens.shape[1]
    flat_expert = expert_ids.reshape(-1)
    flat_token = torch.arange(n_tokens, device=tokens.device).repeat_interleave(k)
    order = torch.argsort(flat_expert, stable=True)
    send_rows = tokens[flat_token[order]]
    send_counts = torch.bincount(flat_expert, minlength=num_experts).reshape(world, local)
    recv_counts = send_counts  # the mistake: "they will send me what I send them"
    in_splits = send_counts.sum(dim=1).tolist()
    out_splits = in_splits
    received = tokens.new_empty((sum(out_splits), d))
    dist.all_to_all_single(received, send_rows, out_splits, in_splits, group=group)
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
