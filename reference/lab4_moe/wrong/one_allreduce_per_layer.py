# Counts one all-reduce per layer (the FFN's) and forgets the attention block's: half the
# tensor-parallel traffic whenever two per layer are asked for (the default).
# expect: less wrong_answer
# task: model
from reference.lab4_moe.solution import *  # noqa: F403  (everything else is right)


def tp_allreduce_bytes_per_token(d_model, layers, bytes_per_elem, allreduces_per_layer=2, n=None):
    raw = d_model * layers * bytes_per_elem  # the mistake: x 1, not x allreduces_per_layer
    return float(raw if n is None else raw * 2 * (n - 1) / n)
