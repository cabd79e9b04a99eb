# Sends every token (with its expert ids and gates) to every rank; each rank picks out the rows
# for its own experts, and sends back a weighted partial sum for every token. The output is
# right, but each token crosses the network world_size - 1 times each way instead of once per
# remote expert: caught from the bytes the harness counted.
# expect: zero excess_traffic
# task: dispatch
import torch
import torch.distributed as dist

from reference.lab4_moe.solution import *  # noqa: F403  (everything else is right)


def _exchange(rows, counts_in, counts_out, group):
    out = rows.new_empty((sum(counts_out), *rows.shape[1:]))
    dist.all_to_all_single(out, rows, counts_out, counts_in, group=group)
    return out


def dispatch(tokens, expert_ids, gates, num_experts, group=None):
    world = dist.get_world_size(group)
    rank = dist.get_rank(group)
    local = num_experts // world
    n_tokens = tokens.shape[0]
    mine = torch.tensor([n_tokens] * world, device=tokens.device)
    theirs = torch.empty_like(mine)
    dist.all_to_all_single(theirs, mine, group=group)
    send = [n_tokens] * world  # the mistake: everything to everyone
    recv = theirs.tolist()
    all_tokens = _exchange(tokens.repeat(world, 1), send, recv, group)
    all_ids = _exchange(expert_ids.repeat(world, 1), send, recv, group)
    all_gates = _exchange(gates.repeat(world, 1), send, recv, group)
    expert_inputs = []
    for j in range(local):
        hit = (all_ids == rank * local + j).any(dim=1)
        expert_inputs.append(all_tokens[hit])
    metadata = {
        "ids": all_ids,
        "gates": all_gates,
        "send": send,
        "recv": recv,
        "rank": rank,
        "local": local,
        "n_tokens": n_tokens,
        "d": tokens.shape[1],
    }
    return expert_inputs, metadata


def combine(expert_outputs, metadata, group=None):
    ids, gates, rank, local = metadata["ids"], metadata["gates"], metadata["rank"], metadata["local"]
    partial = gates.new_zeros((ids.shape[0], metadata["d"]))
    for j, out in enumerate(expert_outputs):
        hit = (ids == rank * local + j)
        rows = hit.any(dim=1)
        weight = (gates * hit).sum(dim=1, keepdim=True)[rows]
        partial[rows] += weight * out
    back = _exchange(partial, metadata["recv"], metadata["send"], group)
    world = len(metadata["send"])
    return back.reshape(world, metadata["n_tokens"], metadata["d"]).sum(dim=0)
