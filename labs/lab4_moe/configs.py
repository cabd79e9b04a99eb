"""Lab 4's public examples and secret-case generators, for the functions graded by value.

Plain data, no import of the reference (students read this file):

* ``EXAMPLES[function]``: a list of ``{"kwargs", "expected", "source"}``, and where the domain
  brief states a rounded figure, ``"stated"`` and ``"stated_rtol"`` (how far the exact value may
  be from it). ``expected`` is the exact value of the formula (written out here, and checked
  against the reference by tests/test_lab4_model.py). Use them as your own unit tests.
* ``SECRET[function]``: ``(rng: numpy.random.Generator) -> kwargs``, the grader's hidden cases;
  the expected values come from the reference solution.
* ``TASKS``: which functions each graded task calls; ``RTOL``: the relative tolerance of each
  comparison (``compare`` does it: numbers, lists, tuples and dicts, NaN never passes);
  ``cases(function, seed)``: public then secret kwargs, reproducible from the seed.

Everything is JSON-friendly: kwargs hold ints, floats, strings, lists and None.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

GiB = 2**30

TASKS: dict[str, tuple[str, ...]] = {
    "model": (
        "tp_allreduce_bytes_per_token",
        "ep_alltoall_bytes_per_token",
        "moe_dense_comm_ratio",
        "transformer_params",
        "dp_bytes",
        "pp_bytes",
        "tp_bytes",
        "critical_batch",
        "moe_critical_batch",
        "amdahl_speedup",
        "gustafson_speedup",
        "alpha_beta_time",
        "fit_alpha_beta",
        "bus_bandwidth",
    ),
    "extrapolate": ("tp_comm_time_per_token", "ep_comm_time_per_token", "extrapolate"),
    # time_matmul_sweep is graded against the grader's own measurement (roofline.py).
    "roofline": ("find_knee", "predict_critical_batch"),
}

DEFAULT_RTOL = 1e-6
RTOL: dict[str, float] = {
    # The stub specifies the fit exactly; 10% leaves room for another sane fit of the same
    # lines (plain instead of relative least squares) and none for a wrong knee.
    "find_knee": 0.10,
}

# The 2-GPU H200 sweep measured on 2026-11-21 (domain brief): all-reduce bus bandwidth 19, 224
# and 331 GB/s at 1 MiB, 16 MiB and 1 GiB. With n = 2, busbw = algbw, so t = size / busbw.
_MEASURED_SIZES = [2.0**20, 2.0**24, 2.0**30]
_MEASURED_TIMES = [2.0**20 / 19e9, 2.0**24 / 224e9, 2.0**30 / 331e9]
# fit_alpha_beta on that sweep gives about 45 us and 382 GB/s; part D uses 45 us.
_ALPHA_MEASURED = 45e-6

_LLAMA = {"d_model": 8192, "layers": 80}  # Llama 3.3 70B
_EXAM = {"batch": 32, "seq": 2048, "hidden": 4096}  # the worked exam problem
_EXAM_PARAMS = 32 * 12 * 4096**2


def _ex(kwargs: dict[str, Any], expected: Any, source: str, **stated: float) -> dict[str, Any]:
    row = {"kwargs": kwargs, "expected": expected, "source": source}
    row.update(stated)
    return row


EXAMPLES: dict[str, list[dict[str, Any]]] = {
    "tp_allreduce_bytes_per_token": [
        _ex(
            {**_LLAMA, "bytes_per_elem": 2, "allreduces_per_layer": 1},
            1310720.0,
            "Llama 3.3 70B, FFN blocks only: 8192 x 80 x 2 B = 1.31 MB (1.25 MiB) per token",
            stated=1.31e6,
            stated_rtol=0.005,
        ),
        _ex(
            {**_LLAMA, "bytes_per_elem": 2},
            2621440.0,
            "Llama 3.3 70B, attention and FFN blocks: twice the above",
        ),
        _ex(
            {**_LLAMA, "bytes_per_elem": 2, "allreduces_per_layer": 2, "n": 8},
            4587520.0,
            "the same, sent per GPU by a ring all-reduce over 8 GPUs: x 2 x 7/8",
        ),
        _ex(
            {**_LLAMA, "bytes_per_elem": 1, "allreduces_per_layer": 1, "n": 4},
            983040.0,
            "fp8 activations, FFN only, 4 GPUs: 655 360 B x 2 x 3/4",
        ),
        _ex(
            {"d_model": 4096, "layers": 32, "bytes_per_elem": 4, "n": 2},
            1048576.0,
            "fp32, 2 all-reduces per layer, 2 GPUs (ring factor 1)",
        ),
    ],
    "ep_alltoall_bytes_per_token": [
        _ex(
            {"d_model": 2048, "layers": 80, "k": 2, "bytes_per_elem": 2, "n": 8},
            1146880.0,
            "an E = 16, k = 2 MoE with Llama 70B's parameters (d = 8192 / sqrt(16)), 8 GPUs: "
            "2 x 2 x 2048 x 80 x 2 B x 7/8",
        ),
        _ex(
            {"d_model": 4096, "layers": 32, "k": 2, "bytes_per_elem": 1, "n": 16},
            491520.0,
            "fp8, 16 GPUs",
        ),
        _ex(
            {"d_model": 1024, "layers": 24, "k": 1, "bytes_per_elem": 4, "n": 2},
            98304.0,
            "top-1, fp32, 2 GPUs: half the experts are remote",
        ),
    ],
    "moe_dense_comm_ratio": [
        _ex(
            {"experts": 16, "k": 2},
            0.5,
            "E = 16, k = 2: the dense model moves 2x more",
            stated=0.5,
            stated_rtol=0.0,
        ),
        _ex({"experts": 64, "k": 8}, 1.0, "E = 64, k = 8: the same traffic"),
        _ex({"experts": 8, "k": 2}, 2 / math.sqrt(8), "E = 8, k = 2"),
    ],
    "transformer_params": [
        _ex(
            {"layers": 32, "hidden": 4096},
            _EXAM_PARAMS,
            "the exam: P = 32 x 12 x 4096^2",
            stated=float(_EXAM_PARAMS),
            stated_rtol=0.0,
        ),
        _ex({"layers": 24, "hidden": 1024}, 301989888, "24 layers, h = 1024"),
        _ex({"layers": 2, "hidden": 64, "ffn_mult": 8}, 163840, "FFN 8h: 20 h^2 per layer"),
    ],
    "dp_bytes": [
        _ex(
            {"params": _EXAM_PARAMS, "bytes_per_elem": 2, "n": 4},
            18.0 * GiB,
            "the exam, data parallel: 2 x 3/4 x 2P bytes = 18 GiB",
            stated=18.0 * GiB,
            stated_rtol=0.0,
        ),
        _ex({"params": _EXAM_PARAMS, "bytes_per_elem": 4, "n": 4}, 36.0 * GiB, "fp32 gradients"),
        _ex({"params": _EXAM_PARAMS, "bytes_per_elem": 2, "n": 8}, 21.0 * GiB, "8 GPUs: x 7/4"),
    ],
    "pp_bytes": [
        _ex(
            {**_EXAM, "bytes_per_elem": 2},
            1.0 * GiB,
            "the exam, pipeline parallel (a middle GPU): 0.5 GiB each way",
            stated=1.0 * GiB,
            stated_rtol=0.0,
        ),
        _ex({**_EXAM, "bytes_per_elem": 4}, 2.0 * GiB, "fp32 activations"),
        _ex({"batch": 3, "seq": 1000, "hidden": 5120, "bytes_per_elem": 1}, 30720000.0, "fp8"),
    ],
    "tp_bytes": [
        _ex(
            {**_EXAM, "layers": 32, "bytes_per_elem": 2, "n": 4},
            96.0 * GiB,
            "the exam, tensor parallel: 0.75 GiB x 4 all-reduces x 32 layers",
            stated=96.0 * GiB,
            stated_rtol=0.0,
        ),
        _ex(
            {**_EXAM, "layers": 32, "bytes_per_elem": 2, "n": 4, "allreduces_per_layer": 2},
            48.0 * GiB,
            "forward only: 2 all-reduces per layer",
        ),
        _ex(
            {**_EXAM, "layers": 32, "bytes_per_elem": 4, "n": 8},
            224.0 * GiB,
            "fp32, 8 GPUs: 1 GiB x 7/4 x 4 x 32",
        ),
    ],
    "critical_batch": [
        _ex(
            {"flops_per_s": 989e12, "bytes_per_s": 3.35e12, "bytes_per_elem": 2},
            989e12 / 3.35e12,
            "H100 datasheet, bf16: 989 TFLOP/s / 3.35 TB/s",
            stated=295.0,
            stated_rtol=0.002,
        ),
        _ex(
            {"flops_per_s": 989e12, "bytes_per_s": 4.8e12, "bytes_per_elem": 2},
            989e12 / 4.8e12,
            "H200 datasheet, bf16: 989 TFLOP/s / 4.8 TB/s",
            stated=206.0,
            stated_rtol=0.002,
        ),
        _ex(
            {"flops_per_s": 780e12, "bytes_per_s": 2.93e12, "bytes_per_elem": 2},
            780e12 / 2.93e12,
            "measured on the lent H100: bf16 780 TFLOP/s, device copy 2.93 TB/s",
            stated=266.0,
            stated_rtol=0.002,
        ),
        _ex(
            {"flops_per_s": 51.5e12, "bytes_per_s": 2.93e12, "bytes_per_elem": 4},
            51.5e12 / 2.93e12 * 2,
            "measured on the lent H100, fp32 weights: 51.5 TFLOP/s, 4 B per weight",
        ),
        _ex(
            {"flops_per_s": 780e12, "bytes_per_s": 2.93e12, "bytes_per_elem": 1},
            780e12 / 2.93e12 / 2,
            "1-byte weights at the same FLOP rate: half the bytes, half the batch",
        ),
    ],
    "moe_critical_batch": [
        _ex(
            {
                "flops_per_s": 989e12,
                "bytes_per_s": 3.35e12,
                "bytes_per_elem": 2,
                "experts": 16,
                "k": 2,
            },
            989e12 / 3.35e12 * 8,
            "H100 datasheet, E = 16, k = 2: x E/k = 8",
        ),
        _ex(
            {
                "flops_per_s": 780e12,
                "bytes_per_s": 2.93e12,
                "bytes_per_elem": 4,
                "experts": 64,
                "k": 8,
            },
            780e12 / 2.93e12 * 2 * 8,
            "fp32 weights, E = 64, k = 8",
        ),
    ],
    "amdahl_speedup": [
        _ex({"serial_fraction": 0.1, "n": 10}, 1 / 0.19, "10% serial, 10 cores"),
        _ex(
            {"serial_fraction": 0.1, "n": 1e9},
            1 / (0.1 + 0.9e-9),
            "10% serial, any number of cores: at most 10x",
            stated=10.0,
            stated_rtol=1e-6,
        ),
        _ex({"serial_fraction": 0.05, "n": 64}, 1 / (0.05 + 0.95 / 64), "5% serial, 64 cores"),
    ],
    "gustafson_speedup": [
        _ex(
            {"serial_fraction": 0.1, "n": 10},
            9.1,
            "10% serial, 10 cores: 9.1x",
            stated=9.1,
            stated_rtol=1e-9,
        ),
        _ex({"serial_fraction": 0.05, "n": 64}, 64 - 0.05 * 63, "5% serial, 64 cores"),
    ],
    "alpha_beta_time": [
        _ex(
            {"alpha_s": 0.0, "beta_bytes_per_s": 112e9, "nbytes": 393216000.0},
            393216000.0 / 112e9,
            "Llama 3.3 70B's FFN all-reduces for a batch of 300 tokens (393 MB) at 112 GB/s",
            stated=3.5e-3,
            stated_rtol=0.01,
        ),
        _ex(
            {"alpha_s": _ALPHA_MEASURED, "beta_bytes_per_s": 331e9, "nbytes": 2.0**30},
            _ALPHA_MEASURED + 2.0**30 / 331e9,
            "1 GiB at the measured 2-GPU bus bandwidth, with the fitted latency",
        ),
    ],
    "fit_alpha_beta": [
        _ex(
            {
                "sizes": [2.0**p for p in range(10, 31, 2)],
                "times": [20e-6 + 2.0**p / 200e9 for p in range(10, 31, 2)],
            },
            [20e-6, 200e9],
            "a synthetic sweep with exactly alpha = 20 us, beta = 200 GB/s",
        ),
        _ex(
            {"sizes": _MEASURED_SIZES, "times": _MEASURED_TIMES},
            [4.4945423675590905e-05, 381620967984.55145],
            "the 2-GPU all-reduce sweep measured on the lent H200s (2026-11-21)",
        ),
    ],
    "bus_bandwidth": [
        _ex(
            {"algbw": 331e9, "n": 2, "collective": "all_reduce"},
            331e9,
            "2 GPUs: the factor is 1",
        ),
        _ex({"algbw": 100e9, "n": 8, "collective": "all_reduce"}, 175e9, "x 2 x 7/8"),
        _ex({"algbw": 100e9, "n": 8, "collective": "alltoall"}, 87.5e9, "x 7/8"),
        _ex({"algbw": 100e9, "n": 4, "collective": "all-gather"}, 75e9, "x 3/4"),
        _ex({"algbw": 100e9, "n": 4, "collective": "reduce_scatter"}, 75e9, "x 3/4"),
        _ex({"algbw": 100e9, "n": 4, "collective": "broadcast"}, 100e9, "x 1"),
    ],
    # -- part D
    "tp_comm_time_per_token": [
        _ex(
            {
                **_LLAMA,
                "bytes_per_elem": 2,
                "n": 8,
                "tokens": 300,
                "alpha_s": 0.0,
                "bw_bytes_per_s": 112e9,
                "allreduces_per_layer": 1,
            },
            80 * 1.75 * 8192 * 2 / 112e9,
            "Llama 3.3 70B's FFN all-reduces, 8 GPUs, 112 GB/s, no latency",
        ),
        _ex(
            {
                **_LLAMA,
                "bytes_per_elem": 2,
                "n": 64,
                "tokens": 300,
                "alpha_s": _ALPHA_MEASURED,
                "bw_bytes_per_s": 331e9,
            },
            80 * 2 * (2 * 63 * _ALPHA_MEASURED + 2 * 63 / 64 * 300 * 8192 * 2 / 331e9) / 300,
            "both blocks, 64 GPUs, the measured 2-GPU bandwidth and fitted latency",
        ),
    ],
    "ep_comm_time_per_token": [
        _ex(
            {
                "d_model": 2048,
                "layers": 80,
                "k": 2,
                "bytes_per_elem": 2,
                "n": 8,
                "tokens": 300,
                "alpha_s": 0.0,
                "bw_bytes_per_s": 112e9,
            },
            80 * 2 * 7 / 8 * 2 * 2048 * 2 / 112e9,
            "the E = 16, k = 2 MoE of the same size, 8 GPUs, no latency",
        ),
        _ex(
            {
                "d_model": 2048,
                "layers": 80,
                "k": 2,
                "bytes_per_elem": 2,
                "n": 64,
                "tokens": 300,
                "alpha_s": _ALPHA_MEASURED,
                "bw_bytes_per_s": 331e9,
            },
            80 * 2 * (63 * _ALPHA_MEASURED + 63 / 64 * 2 * 300 * 2048 * 2 / 331e9) / 300,
            "64 GPUs, the measured bandwidth and fitted latency",
        ),
    ],
    "extrapolate": [
        _ex(
            {
                "d_dense": 8192,
                "d_moe": 2048,
                "layers": 80,
                "k": 2,
                "bytes_per_elem": 2,
                "tokens": 300,
                "alpha_s": 0.0,
                "bw_bytes_per_s": 112e9,
                "ns": [8, 64, 256],
                "allreduces_per_layer": 1,
            },
            [
                {"n": n, "tp_s_per_token": tp, "ep_s_per_token": tp / 2, "ratio": 0.5}
                for n, tp in ((n, 80 * 2 * (n - 1) / n * 8192 * 2 / 112e9) for n in (8, 64, 256))
            ],
            "FFN against MoE layers, no latency: k / sqrt(E) = 0.5 at every n",
        ),
        _ex(
            {
                "d_dense": 8192,
                "d_moe": 2048,
                "layers": 80,
                "k": 2,
                "bytes_per_elem": 2,
                "tokens": 300,
                "alpha_s": _ALPHA_MEASURED,
                "bw_bytes_per_s": 331e9,
                "ns": [8, 64, 256],
            },
            None,  # filled in below from the two functions' formulas
            "both attention and FFN all-reduces, the measured bandwidth and fitted latency",
        ),
    ],
    # -- part B (pure parts)
    "find_knee": [
        _ex(
            {
                "batches": [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
                "times_ms": [0.035] * 7 + [0.0377, 0.0492, 0.0883],
            },
            194.72561350448856,
            "bf16 X[b, 8192] @ W[8192, 8192] measured on the lent H200 (2026-11-21): the knee "
            "sits near 150-200 (about 184 predicted from the measured ceilings)",
            stated=184.0,
            stated_rtol=0.1,
        ),
        _ex(
            {"batches": [1, 4, 16, 64, 256, 1024], "times_ms": [1.0, 1.0, 1.0, 1.0, 2.0, 8.0]},
            128.0,
            "an ideal roofline: flat at 1 ms, then 1/128 ms per row",
        ),
    ],
    "predict_critical_batch": [
        _ex(
            {"flops_per_s": 780e12, "bytes_per_s": 2.93e12, "bytes_per_elem": 2},
            780e12 / 2.93e12,
            "the ceilings measured on the lent H100",
            stated=266.0,
            stated_rtol=0.002,
        ),
    ],
}


def _fill_extrapolate_example() -> None:
    row = EXAMPLES["extrapolate"][1]
    kw, alpha, bw = row["kwargs"], _ALPHA_MEASURED, 331e9
    rows = []
    for n in kw["ns"]:
        tp = 80 * 2 * (2 * (n - 1) * alpha + 2 * (n - 1) / n * 300 * 8192 * 2 / bw) / 300
        ep = 80 * 2 * ((n - 1) * alpha + (n - 1) / n * 2 * 300 * 2048 * 2 / bw) / 300
        rows.append({"n": n, "tp_s_per_token": tp, "ep_s_per_token": ep, "ratio": ep / tp})
    row["expected"] = rows


_fill_extrapolate_example()

# -- secret cases ----------------------------------------------------------------------------------

_WIDTHS = (1024, 2048, 3072, 4096, 5120, 6144, 7168, 8192, 12288, 16384)
_GPUS = (2, 4, 8, 16, 32, 64, 128, 256)
_BYTES = (1, 2, 4)
_COLLECTIVES = (
    "all_reduce",
    "allreduce",
    "all-reduce",
    "all_gather",
    "reduce_scatter",
    "all_to_all",
    "alltoall",
    "broadcast",
    "reduce",
)


def _pick(rng: np.random.Generator, values: tuple[Any, ...]) -> Any:
    value = values[int(rng.integers(len(values)))]
    return value.item() if isinstance(value, np.generic) else value


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(10 ** rng.uniform(math.log10(lo), math.log10(hi)))


def _moe(rng: np.random.Generator) -> tuple[int, int]:
    experts = _pick(rng, (8, 16, 32, 64, 128, 256))
    k = _pick(rng, tuple(k for k in (1, 2, 4, 6, 8) if k < experts))
    return experts, k


def _tp_allreduce(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "d_model": _pick(rng, _WIDTHS),
        "layers": int(rng.integers(12, 129)),
        "bytes_per_elem": _pick(rng, _BYTES),
        "allreduces_per_layer": _pick(rng, (1, 2, 2, 4)),
        "n": _pick(rng, (None, *_GPUS)),
    }


def _ep_alltoall(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "d_model": _pick(rng, _WIDTHS),
        "layers": int(rng.integers(12, 129)),
        "k": _moe(rng)[1],
        "bytes_per_elem": _pick(rng, _BYTES),
        "n": _pick(rng, _GPUS),
    }


def _ratio(rng: np.random.Generator) -> dict[str, Any]:
    experts, k = _moe(rng)
    return {"experts": experts, "k": k}


def _params(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "layers": int(rng.integers(2, 129)),
        "hidden": _pick(rng, _WIDTHS),
        "ffn_mult": _pick(rng, (2, 3, 4, 8)),
    }


def _dp(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "params": int(rng.integers(12, 129)) * 12 * _pick(rng, _WIDTHS) ** 2,
        "bytes_per_elem": _pick(rng, _BYTES),
        "n": _pick(rng, _GPUS),
    }


def _activations(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "batch": int(rng.integers(1, 129)),
        "seq": _pick(rng, (512, 1000, 1024, 2048, 4096, 8192)),
        "hidden": _pick(rng, _WIDTHS),
        "bytes_per_elem": _pick(rng, _BYTES),
    }


def _tp_training(rng: np.random.Generator) -> dict[str, Any]:
    return {
        **_activations(rng),
        "layers": int(rng.integers(12, 129)),
        "n": _pick(rng, _GPUS),
        "allreduces_per_layer": _pick(rng, (2, 4, 4)),
    }


def _rates(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "flops_per_s": _log_uniform(rng, 1e13, 4e15),
        "bytes_per_s": _log_uniform(rng, 3e11, 1e13),
        "bytes_per_elem": _pick(rng, _BYTES),
    }


def _moe_rates(rng: np.random.Generator) -> dict[str, Any]:
    experts, k = _moe(rng)
    return {**_rates(rng), "experts": experts, "k": k}


def _speedup(rng: np.random.Generator) -> dict[str, Any]:
    return {"serial_fraction": float(rng.uniform(0.001, 0.5)), "n": int(rng.integers(2, 1025))}


def _alpha_beta(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "alpha_s": _log_uniform(rng, 3e-7, 1e-4),
        "beta_bytes_per_s": _log_uniform(rng, 3e9, 1e12),
        "nbytes": _log_uniform(rng, 1e3, 1e10),
    }


def _sweep(rng: np.random.Generator) -> dict[str, Any]:
    """A size sweep of t = alpha + size / beta with 2% noise on each time."""
    alpha = _log_uniform(rng, 1e-6, 1e-4)
    beta = _log_uniform(rng, 1e10, 1e12)
    lo, hi = int(rng.integers(8, 15)), int(rng.integers(24, 33))
    sizes = [2.0**p for p in range(lo, hi + 1)]
    noise = 1.0 + 0.02 * rng.standard_normal(len(sizes))
    return {
        "sizes": sizes,
        "times": [(alpha + s / beta) * f for s, f in zip(sizes, noise, strict=True)],
    }


def _bus(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "algbw": _log_uniform(rng, 1e9, 5e11),
        "n": _pick(rng, _GPUS),
        "collective": _pick(rng, _COLLECTIVES),
    }


def _comm(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "tokens": int(rng.integers(1, 2049)),
        "alpha_s": _log_uniform(rng, 5e-7, 5e-5),
        "bw_bytes_per_s": _log_uniform(rng, 2e10, 9e11),
    }


def _tp_time(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "d_model": _pick(rng, _WIDTHS),
        "layers": int(rng.integers(12, 129)),
        "bytes_per_elem": _pick(rng, _BYTES),
        "n": _pick(rng, _GPUS),
        **_comm(rng),
        "allreduces_per_layer": _pick(rng, (1, 2)),
    }


def _ep_time(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "d_model": _pick(rng, _WIDTHS),
        "layers": int(rng.integers(12, 129)),
        "k": _moe(rng)[1],
        "bytes_per_elem": _pick(rng, _BYTES),
        "n": _pick(rng, _GPUS),
        **_comm(rng),
    }


def _extrapolate(rng: np.random.Generator) -> dict[str, Any]:
    experts, k = _moe(rng)
    d_dense = _pick(rng, (4096, 8192, 12288, 16384))
    ns = sorted(int(n) for n in rng.choice((2, 4, 8, 16, 32, 64, 128, 256, 512), 3, False))
    return {
        "d_dense": d_dense,
        "d_moe": int(d_dense / math.sqrt(experts)),
        "layers": int(rng.integers(12, 129)),
        "k": k,
        "bytes_per_elem": _pick(rng, _BYTES),
        **_comm(rng),
        "ns": ns,
        "allreduces_per_layer": _pick(rng, (1, 2)),
    }


def synthetic_roofline(
    rng: np.random.Generator, noise: float = 0.02
) -> tuple[dict[str, Any], float]:
    """(find_knee kwargs, the true knee): t = max(c, c b / knee) with multiplicative noise,
    batches the powers of two up to 8192 plus five random ones, knee between 16 and 1024."""
    c = _log_uniform(rng, 0.003, 0.5)
    knee = _log_uniform(rng, 16.0, 1024.0)
    extra = [int(b) for b in rng.integers(1, 8193, size=5)]
    batches = sorted({*(2**p for p in range(14)), *extra})
    scale = 1.0 + noise * rng.standard_normal(len(batches))
    times = [max(c, c * b / knee) * float(f) for b, f in zip(batches, scale, strict=True)]
    return {"batches": batches, "times_ms": times}, knee


def _knee(rng: np.random.Generator) -> dict[str, Any]:
    return synthetic_roofline(rng)[0]


SECRET: dict[str, Callable[[np.random.Generator], dict[str, Any]]] = {
    "tp_allreduce_bytes_per_token": _tp_allreduce,
    "ep_alltoall_bytes_per_token": _ep_alltoall,
    "moe_dense_comm_ratio": _ratio,
    "transformer_params": _params,
    "dp_bytes": _dp,
    "pp_bytes": _activations,
    "tp_bytes": _tp_training,
    "critical_batch": _rates,
    "moe_critical_batch": _moe_rates,
    "amdahl_speedup": _speedup,
    "gustafson_speedup": _speedup,
    "alpha_beta_time": _alpha_beta,
    "fit_alpha_beta": _sweep,
    "bus_bandwidth": _bus,
    "tp_comm_time_per_token": _tp_time,
    "ep_comm_time_per_token": _ep_time,
    "extrapolate": _extrapolate,
    "find_knee": _knee,
    "predict_critical_batch": _rates,
}


def rtol(function: str) -> float:
    return RTOL.get(function, DEFAULT_RTOL)


def cases(function: str, seed: int, secret: int = 20) -> list[dict[str, Any]]:
    """The kwargs of every case of ``function``: the public examples, then ``secret`` drawn
    from ``numpy.random.default_rng([seed, i])`` for the i-th function (same seed, same cases)."""
    index = list(SECRET).index(function)
    rng = np.random.default_rng([int(seed), index])
    public = [dict(row["kwargs"]) for row in EXAMPLES.get(function, [])]
    return public + [SECRET[function](rng) for _ in range(secret)]


def compare(got: Any, expected: Any, rtol: float, atol: float = 0.0, where: str = "") -> str | None:
    """None when ``got`` matches ``expected`` (numbers within rtol, same structure), else what
    differs. Tuples and lists are interchangeable (JSON has only lists)."""
    label = where or "the result"
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"{label} should be a dict, got {type(got).__name__}"
        if set(got) != set(expected):
            return f"{label} has keys {sorted(got)}, expected {sorted(expected)}"
        for key in expected:
            problem = compare(got[key], expected[key], rtol, atol, f"{label}[{key!r}]")
            if problem:
                return problem
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(got, (list, tuple)):
            return f"{label} should be a list, got {type(got).__name__}"
        if len(got) != len(expected):
            return f"{label} has {len(got)} items, expected {len(expected)}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            problem = compare(g, e, rtol, atol, f"{label}[{i}]")
            if problem:
                return problem
        return None
    if isinstance(got, bool) or not isinstance(got, (int, float, np.integer, np.floating)):
        return f"{label} should be a number, got {type(got).__name__}"
    g, e = float(got), float(expected)
    if not (abs(g - e) <= atol + rtol * abs(e)):
        return f"{label} is {g!r}, expected {e!r}"
    return None
