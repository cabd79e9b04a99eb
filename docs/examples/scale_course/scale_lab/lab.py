"""An example lab of an existing kind (a kernel task), kept small: ``out = alpha * x``.

It lives outside the workbench's own labs/ and reference/ folders, as a course's lab would, and
is registered with ``CWB_LABS="lab9=scale_lab.lab"`` (with this folder's parent on PYTHONPATH).
docs/adding-a-lab.md walks through it; tests/test_adding_a_lab.py grades it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grader.spec import Case, KernelTask, Lab, Params, RubricItem

HERE = Path(__file__).resolve().parent


def make_inputs(params: Params, rng: np.random.Generator) -> dict:
    """``alpha``: float32 scalar; ``x``: float32 (n,), standard normal."""
    n = int(params["n"])
    return {"alpha": np.float32(rng.uniform(-2, 2)), "x": rng.standard_normal(n, dtype=np.float32)}


SCALE = KernelTask(
    name="scale",
    title="Scale a vector",
    entry="scale",
    arg_names=("alpha", "x"),
    array_module="numba",
    make_inputs=make_inputs,
    reference=lambda inputs: np.float64(inputs["alpha"]) * inputs["x"],
    output_dtype="float32",
    output_shape=lambda p: (int(p["n"]),),
    cases=(Case("n=1", {"n": 1}, seed=1), Case("n=1000", {"n": 1000}, seed=2)),
    sim_cases=(Case("n=1", {"n": 1}, seed=1), Case("n=300", {"n": 300}, seed=2)),
)

LAB = Lab(
    name="lab9",
    slug="scale_lab",
    title="Example: scale a vector",
    tasks=(SCALE,),
    rubric=(RubricItem("scale", "correctness", 100, description="every case correct"),),
    home=HERE,
    reference_home=HERE / "reference",
)
