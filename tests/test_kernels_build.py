"""CUDA C is compiled without a GPU, by the same NVRTC that builds it on one."""

from pathlib import Path

import pytest

from kernels.build import CompileError, compile_only, nvrtc_version

ROOT = Path(__file__).resolve().parent.parent
# Every CUDA C file of the project, but the fixtures that must not compile (they say so).
SOURCES = sorted(
    p
    for p in ROOT.glob("*/**/*.cu")
    if ".venv" not in p.parts and "expect: zero kernel_compile" not in p.read_text()[:2000]
)

pytestmark = pytest.mark.skipif(
    nvrtc_version() is None, reason="NVRTC not found: install the cuda12 or cuda13 extra"
)


@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_cuda_source_compiles(source: Path, arch: str) -> None:
    cubin = compile_only(source, arch=arch)
    assert cubin[:4] == b"\x7fELF"


def test_a_compile_error_names_the_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.cu"
    broken.write_text('extern "C" __global__ void k(float* x) {\n  x[0] = undefined_name;\n}\n')
    with pytest.raises(CompileError) as error:
        compile_only(broken)
    assert "broken.cu(2)" in error.value.log and "undefined_name" in error.value.log


def test_there_is_cuda_c_to_compile() -> None:
    assert any(p.name == "saxpy.cu" for p in SOURCES)
