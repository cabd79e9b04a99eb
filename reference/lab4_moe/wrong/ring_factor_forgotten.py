# Counts the all-reduced buffer instead of what each GPU sends: the ring all-reduce's factor
# 2(n-1)/n is left out everywhere (TP per token with n given, data parallel, tensor parallel).
# Right only for n = 2, where the factor is 1.
# expect: less wrong_answer
# task: model
from reference.lab4_moe.solution import *  # noqa: F403  (everything else is right)


def tp_allreduce_bytes_per_token(d_model, layers, bytes_per_elem, allreduces_per_layer=2, n=None):
    return float(d_model * layers * bytes_per_elem * allreduces_per_layer)


def dp_bytes(params, bytes_per_elem, n):
    return float(params * bytes_per_elem)


def tp_bytes(batch, seq, hidden, layers, bytes_per_elem, n, allreduces_per_layer=4):
    return float(layers * allreduces_per_layer * batch * seq * hidden * bytes_per_elem)
