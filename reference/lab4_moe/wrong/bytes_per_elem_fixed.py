# Assumes 16-bit numbers everywhere: bytes_per_elem is ignored and 2 used instead. Right for
# bf16/fp16, wrong for fp32 gradients or fp8 activations.
# expect: less wrong_answer
# task: model
from reference.lab4_moe import model
from reference.lab4_moe.solution import *  # noqa: F403  (everything else is right)


def tp_allreduce_bytes_per_token(d_model, layers, bytes_per_elem, allreduces_per_layer=2, n=None):
    return model.tp_allreduce_bytes_per_token(d_model, layers, 2, allreduces_per_layer, n)


def ep_alltoall_bytes_per_token(d_model, layers, k, bytes_per_elem, n):
    return model.ep_alltoall_bytes_per_token(d_model, layers, k, 2, n)


def dp_bytes(params, bytes_per_elem, n):
    return model.dp_bytes(params, 2, n)


def pp_bytes(batch, seq, hidden, bytes_per_elem):
    return model.pp_bytes(batch, seq, hidden, 2)


def tp_bytes(batch, seq, hidden, layers, bytes_per_elem, n, allreduces_per_layer=4):
    return model.tp_bytes(batch, seq, hidden, layers, 2, n, allreduces_per_layer)


def critical_batch(flops_per_s, bytes_per_s, bytes_per_elem):
    return model.critical_batch(flops_per_s, bytes_per_s, 2)


def moe_critical_batch(flops_per_s, bytes_per_s, bytes_per_elem, experts, k):
    return model.moe_critical_batch(flops_per_s, bytes_per_s, 2, experts, k)
