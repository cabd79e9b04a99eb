from grader.policy import check_source

FORBIDDEN = {"cupy": "use your own kernel", "copy_to_host": "stay on the GPU"}


def test_a_syntax_error_names_the_line_and_points_at_it():
    finding = check_source("def f(x)\n    return x\n", "s.py", {})
    assert finding.reason == "syntax_error" and finding.line == 1
    assert "line 1" in finding.message and "^" in finding.message


def test_forbidden_imports_attributes_and_dynamic_imports_are_found_with_their_line():
    assert check_source("import cupy\n", "s.py", FORBIDDEN).line == 1
    assert check_source("import numpy\nfrom cupy import asarray\n", "s.py", FORBIDDEN).line == 2
    assert "copy_to_host" in check_source("y = x.copy_to_host()\n", "s.py", FORBIDDEN).message
    assert check_source("m = __import__('cu' + 'py')\n", "s.py", FORBIDDEN).reason == "forbidden"
    assert check_source("import importlib\n", "s.py", FORBIDDEN).reason == "forbidden"


def test_ordinary_kernel_code_passes():
    source = "from numba import cuda\n\n@cuda.jit\ndef k(x):\n    x[cuda.grid(1)] = 1\n"
    assert check_source(source, "s.py", FORBIDDEN) is None
