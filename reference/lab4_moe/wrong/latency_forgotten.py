# Extrapolates with the bandwidth term only: alpha is dropped, so at 64 and 256 GPUs the ring's
# 2(n-1) latencies per all-reduce (and the all-to-all's n-1) go missing.
# expect: zero wrong_answer
# task: extrapolate
from reference.lab4_moe import model
from reference.lab4_moe.solution import *  # noqa: F403  (everything else is right)


def tp_comm_time_per_token(
    d_model, layers, bytes_per_elem, n, tokens, alpha_s, bw_bytes_per_s, allreduces_per_layer=2
):
    return model.tp_comm_time_per_token(
        d_model, layers, bytes_per_elem, n, tokens, 0.0, bw_bytes_per_s, allreduces_per_layer
    )


def ep_comm_time_per_token(d_model, layers, k, bytes_per_elem, n, tokens, alpha_s, bw_bytes_per_s):
    return model.ep_comm_time_per_token(
        d_model, layers, k, bytes_per_elem, n, tokens, 0.0, bw_bytes_per_s
    )


def extrapolate(
    d_dense, d_moe, layers, k, bytes_per_elem, tokens, alpha_s, bw_bytes_per_s,
    ns=(8, 64, 256), allreduces_per_layer=2,
):
    return model.extrapolate(
        d_dense, d_moe, layers, k, bytes_per_elem, tokens, 0.0, bw_bytes_per_s, ns,
        allreduces_per_layer,
    )
