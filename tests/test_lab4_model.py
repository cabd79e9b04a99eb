"""Lab 4, parts A and D (the communication model and its extrapolation), and the pure part of B:
the reference reproduces every figure of the domain brief, the public examples in
labs/lab4_moe/configs.py agree with it, the secret generators make valid JSON cases, and each
known-wrong fixture of these tasks fails a public example while leaving the other tasks right."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from grader.selftest import read_expectation
from labs.lab4_moe import configs
from reference.lab4_moe import model
from reference.lab4_moe import solution as ref

ROOT = Path(__file__).resolve().parents[1]
WRONG = ROOT / "reference" / "lab4_moe" / "wrong"
GiB = 2**30
VALUE_TASKS = ("model", "extrapolate", "roofline")


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"lab4_fixture_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def graded_functions() -> list[str]:
    return [f for task in VALUE_TASKS for f in configs.TASKS[task]]


# -- the domain brief's figures ----------------------------------------------------------------


def test_tp_allreduce_volume_of_llama_70b() -> None:
    per_token = model.tp_allreduce_bytes_per_token(8192, 80, 2, allreduces_per_layer=1)
    assert per_token == 8192 * 80 * 2 == 1310720  # 1.31 MB
    assert per_token / 2**20 == 1.25  # MiB
    batch = 300 * per_token
    assert round(batch / 1e6) == 393 and batch / 2**20 == 375.0
    assert model.alpha_beta_time(0.0, 112e9, batch) == pytest.approx(3.5e-3, rel=0.01)


def test_the_exam_per_gpu_volumes() -> None:
    params = model.transformer_params(32, 4096)
    assert params == 32 * 12 * 4096**2
    assert model.dp_bytes(params, 2, 4) == 18 * GiB
    assert model.pp_bytes(32, 2048, 4096, 2) == 1 * GiB
    assert model.tp_bytes(32, 2048, 4096, 32, 2, 4) == 96 * GiB
    # 0.75 GiB per all-reduce: the ring sends 2 x 3/4 of a 0.5 GiB buffer.
    assert model.tp_bytes(32, 2048, 4096, 1, 2, 4, allreduces_per_layer=1) == 0.75 * GiB


def test_critical_batches() -> None:
    assert model.critical_batch(989e12, 3.35e12, 2) == pytest.approx(295, abs=0.5)
    assert model.critical_batch(989e12, 4.8e12, 2) == pytest.approx(206, abs=0.5)
    assert model.critical_batch(780e12, 2.93e12, 2) == pytest.approx(266, abs=0.5)
    dense = model.critical_batch(780e12, 2.93e12, 2)
    assert model.moe_critical_batch(780e12, 2.93e12, 2, 16, 2) == pytest.approx(8 * dense)


def test_moe_moves_k_over_sqrt_e_of_the_dense_traffic() -> None:
    assert model.moe_dense_comm_ratio(16, 2) == 0.5
    # The same ratio from the byte counts: d_dense = sqrt(E) d_moe, one all-to-all pair per
    # expert against one "expert" (k = 1) of the dense model.
    for experts, k, d_moe in ((16, 2, 2048), (64, 8, 1024), (8, 1, 4096)):
        d_dense = math.sqrt(experts) * d_moe
        moe = model.ep_alltoall_bytes_per_token(d_moe, 48, k, 2, 8)
        dense = model.ep_alltoall_bytes_per_token(d_dense, 48, 1, 2, 8)
        assert moe / dense == pytest.approx(model.moe_dense_comm_ratio(experts, k))


def test_amdahl_and_gustafson() -> None:
    assert model.amdahl_speedup(0.1, math.inf) == 10.0
    assert model.amdahl_speedup(0.1, 1e12) < 10.0
    assert model.gustafson_speedup(0.1, 10) == pytest.approx(9.1)
    assert model.amdahl_speedup(0.0, 64) == 64 and model.gustafson_speedup(0.0, 64) == 64


def test_bus_bandwidth_matches_nccl_tests() -> None:
    assert model.bus_bandwidth(1.0, 8, "all_reduce") == 1.75
    for name in ("all_gather", "allgather", "Reduce-Scatter", "all_to_all", "alltoall"):
        assert model.bus_bandwidth(1.0, 8, name) == 0.875
    assert model.bus_bandwidth(1.0, 8, "broadcast") == 1.0
    with pytest.raises(ValueError):
        model.bus_bandwidth(1.0, 8, "all_scatter")
    # 2 GPUs: an all-reduce's bus bandwidth is its algorithm bandwidth.
    assert model.bus_bandwidth(331e9, 2, "all_reduce") == 331e9


def test_fit_alpha_beta_recovers_an_exact_sweep_and_resists_noise() -> None:
    sizes = [2.0**p for p in range(8, 31)]
    alpha, beta = model.fit_alpha_beta(sizes, [7e-6 + s / 150e9 for s in sizes])
    assert alpha == pytest.approx(7e-6, rel=1e-9) and beta == pytest.approx(150e9, rel=1e-9)
    rng = np.random.default_rng(5)
    noisy = [(7e-6 + s / 150e9) * (1 + 0.02 * rng.standard_normal()) for s in sizes]
    alpha, beta = model.fit_alpha_beta(sizes, noisy)
    assert alpha == pytest.approx(7e-6, rel=0.1) and beta == pytest.approx(150e9, rel=0.1)
    with pytest.raises(ValueError):
        model.fit_alpha_beta([1.0, 1.0], [1.0, 2.0])


def test_measured_all_reduce_sweep_fits_to_about_45_us() -> None:
    example = configs.EXAMPLES["fit_alpha_beta"][1]
    alpha, beta = model.fit_alpha_beta(**example["kwargs"])
    assert alpha == pytest.approx(45e-6, rel=0.01)
    assert 300e9 < beta < 400e9


def test_extrapolation_bandwidth_terms_are_the_byte_counts() -> None:
    d, layers, k, n, tokens, bw = 4096, 32, 2, 64, 128, 100e9
    tp = model.tp_comm_time_per_token(d, layers, 2, n, tokens, 0.0, bw)
    assert tp == pytest.approx(model.tp_allreduce_bytes_per_token(d, layers, 2, 2, n) / bw)
    ep = model.ep_comm_time_per_token(d, layers, k, 2, n, tokens, 0.0, bw)
    assert ep == pytest.approx(model.ep_alltoall_bytes_per_token(d, layers, k, 2, n) / bw)
    # Latency: 2(n-1) alphas per all-reduce, n-1 per all-to-all, shared by the tokens.
    alpha = 1e-5
    tp_lat = model.tp_comm_time_per_token(d, layers, 2, n, tokens, alpha, bw) - tp
    assert tp_lat == pytest.approx(layers * 2 * 2 * (n - 1) * alpha / tokens)
    ep_lat = model.ep_comm_time_per_token(d, layers, k, 2, n, tokens, alpha, bw) - ep
    assert ep_lat == pytest.approx(layers * 2 * (n - 1) * alpha / tokens)


def test_extrapolate_gives_k_over_sqrt_e_without_latency() -> None:
    rows = model.extrapolate(8192, 2048, 80, 2, 2, 300, 0.0, 112e9, allreduces_per_layer=1)
    assert [r["n"] for r in rows] == [8, 64, 256]
    assert all(r["ratio"] == pytest.approx(0.5) for r in rows)
    # With latency the per-token times grow with n, and the TP ring grows faster.
    rows = model.extrapolate(8192, 2048, 80, 2, 2, 300, 45e-6, 331e9)
    assert rows[0]["tp_s_per_token"] < rows[1]["tp_s_per_token"] < rows[2]["tp_s_per_token"]
    assert rows[2]["ratio"] < 1


# -- configs: public examples and secret generators ---------------------------------------------


@pytest.mark.parametrize("function", sorted(configs.EXAMPLES))
def test_public_examples_match_the_reference(function: str) -> None:
    for row in configs.EXAMPLES[function]:
        got = getattr(ref, function)(**row["kwargs"])
        assert configs.compare(got, row["expected"], 1e-12) is None, row["source"]
        if "stated" in row:
            value = got[0] if isinstance(got, (list, tuple)) else got
            assert abs(value - row["stated"]) <= row["stated_rtol"] * abs(row["stated"]), row


def test_every_graded_function_has_examples_and_a_generator() -> None:
    for function in graded_functions():
        assert configs.EXAMPLES.get(function), function
        assert function in configs.SECRET, function


@pytest.mark.parametrize("function", sorted(configs.SECRET))
def test_secret_cases_are_json_and_the_reference_answers_them(function: str) -> None:
    rng = np.random.default_rng(2026)
    for _ in range(100):
        kwargs = configs.SECRET[function](rng)
        assert json.loads(json.dumps(kwargs)) == kwargs
        got = getattr(ref, function)(**kwargs)
        back = json.loads(json.dumps(got))
        assert configs.compare(back, got, 0.0) is None
        flat = np.asarray(
            [v for r in got for v in r.values()] if function == "extrapolate" else got, float
        )
        assert np.all(np.isfinite(flat)) and np.all(flat > 0), (kwargs, got)


def test_secret_cases_are_reproducible() -> None:
    for function, make in configs.SECRET.items():
        assert make(np.random.default_rng(3)) == make(np.random.default_rng(3)), function
        every = configs.cases(function, 7, secret=5)
        assert every == configs.cases(function, 7, secret=5)
        assert every != configs.cases(function, 8, secret=5)
        assert len(every) == len(configs.EXAMPLES[function]) + 5


def test_compare() -> None:
    assert configs.compare(1.0, 1.0 + 1e-9, 1e-6) is None
    assert "expected" in configs.compare(1.1, 1.0, 1e-6)
    assert configs.compare(math.nan, 1.0, 1e-6) is not None
    assert configs.compare((1.0, 2.0), [1.0, 2.0], 0.0) is None
    assert configs.compare([1.0], [1.0, 2.0], 0.0) is not None
    assert configs.compare({"a": 1.0}, {"a": 1.0, "b": 2.0}, 0.0) is not None
    assert configs.compare("1.0", 1.0, 0.0) is not None
    assert configs.compare(True, 1.0, 0.0) is not None


def test_configs_does_not_import_the_reference() -> None:
    tree = ast.parse(Path(configs.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not any(a.name.startswith("reference") for a in node.names)
        if isinstance(node, ast.ImportFrom):
            assert not (node.module or "").startswith("reference")


def test_synthetic_roofline_knee_is_in_range() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        kwargs, knee = configs.synthetic_roofline(rng)
        assert 16 <= knee <= 1024 and max(kwargs["batches"]) >= 4 * knee


# -- the stub and the fixtures -------------------------------------------------------------------


def test_stub_signatures_match_the_reference() -> None:
    student = load(ROOT / "labs" / "lab4_moe" / "student.py")
    names = [
        n
        for n, f in vars(student).items()
        if inspect.isfunction(f) and f.__module__ == student.__name__
    ]
    for name in [*graded_functions(), "time_matmul_sweep", "dispatch", "combine"]:
        assert name in names, name
    for name in names:
        mine = inspect.signature(getattr(student, name)).parameters
        theirs = inspect.signature(getattr(ref, name)).parameters
        assert [(p.name, p.default) for p in mine.values()] == [
            (p.name, p.default) for p in theirs.values()
        ], name


def test_stub_raises_not_implemented_everywhere() -> None:
    student = load(ROOT / "labs" / "lab4_moe" / "student.py")
    rng = np.random.default_rng(0)
    for function in graded_functions():
        with pytest.raises(NotImplementedError):
            getattr(student, function)(**configs.SECRET[function](rng))
    with pytest.raises(NotImplementedError):
        student.time_matmul_sweep([1, 2], 64)


def _failures(module: ModuleType, function: str, secret_draws: int) -> tuple[int, int]:
    """(public examples failed, secret cases failed) of ``function`` in ``module``."""
    tol = configs.rtol(function)
    public = sum(
        configs.compare(getattr(module, function)(**row["kwargs"]), row["expected"], tol)
        is not None
        for row in configs.EXAMPLES[function]
    )
    rng = np.random.default_rng(11)
    secret = 0
    for _ in range(secret_draws):
        kwargs = configs.SECRET[function](rng)
        want = getattr(ref, function)(**kwargs)
        secret += configs.compare(getattr(module, function)(**kwargs), want, tol) is not None
    return public, secret


def value_fixtures() -> list[Path]:
    return [p for p in sorted(WRONG.glob("*.py")) if read_expectation(p).task in VALUE_TASKS]


def test_the_reference_passes_every_case() -> None:
    for function in graded_functions():
        assert _failures(ref, function, 200) == (0, 0), function


@pytest.mark.parametrize("path", value_fixtures(), ids=lambda p: p.stem)
def test_value_fixture_fails_its_task_only(path: Path) -> None:
    expectation = read_expectation(path)
    # A value task gives partial credit (a point share per function right), so a fixture
    # that breaks some of its functions loses points rather than scoring 0: "less".
    assert expectation.outcome in ("zero", "less") and expectation.reasons == {"wrong_answer"}
    module = load(path)
    failed_public = 0
    for task in VALUE_TASKS:
        for function in configs.TASKS[task]:
            public, secret = _failures(module, function, 100)
            if task == expectation.task:
                failed_public += public
            else:
                assert (public, secret) == (0, 0), f"{path.stem} broke {function} ({task})"
    # One public example wrong is enough for the function to lose its share.
    assert failed_public > 0, f"{path.stem} passes every public example of {expectation.task}"


def test_fixture_headers() -> None:
    tasks = {"model", "extrapolate", "roofline", "dispatch"}
    for path in sorted(WRONG.glob("*.py")):
        expectation = read_expectation(path)
        assert expectation.outcome in ("zero", "less") and expectation.task in tasks, path.stem
        first = path.read_text().splitlines()[0]
        assert first.startswith("# ") and "expect:" not in first, path.stem
