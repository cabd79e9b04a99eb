import pytest

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


# -- eval and exec are the builtins, not any method of that name ---------------------------------


def _found(source: str, forbidden=FORBIDDEN) -> str | None:
    finding = check_source(source, "s.py", forbidden)
    return None if finding is None else finding.message.split("`")[1]


def test_a_method_named_eval_or_exec_is_no_builtin():
    # /tmp/redteam34/false_zero_torch_eval: torch.nn.Identity().eval() scored the lab 0.
    assert _found("m = torch.nn.Identity().eval()\nmodel.eval()\nnet.train().eval()\n") is None
    assert _found("cursor.exec('x')\nself.__import__ = 1\n") is None


def test_every_way_to_the_builtins_is_still_found():
    assert _found("x = eval('1')\n") == "eval"
    assert _found("f = exec\n") == "exec"
    assert _found("import builtins\nbuiltins.eval('1')\n") == "eval"
    assert _found("import builtins as b\nb.exec('1')\n") == "exec"
    assert _found("__builtins__.__import__('os')\n") == "__import__"
    assert _found("import builtins\ngetattr(builtins, 'eval')('1')\n") == "eval"
    assert _found("__builtins__['exec']('1')\n") == "exec"
    assert _found("from builtins import eval as e\n") == "eval"
    assert _found("import importlib\n") == "importlib"


# -- the main block never runs under the grader ---------------------------------------------

MAIN = """
def saxpy(a, x, y, out):
    return out


if __name__ == "__main__":
    print(saxpy(1, 2, 3, out).copy_to_host())
    import cupy
    exec("print(1)")
"""


def test_the_main_block_is_not_checked_but_the_rest_of_the_file_is():
    assert _found(MAIN) is None
    assert _found(MAIN.replace('"__main__"', '"__main__" == __name__ and "x"')) is not None
    assert _found("if '__main__' == __name__:\n    x.copy_to_host()\n") is None
    # Its else runs on import; a main block that is not at the top level is an ordinary if.
    else_branch = "if __name__ == '__main__':\n    pass\nelse:\n    x.copy_to_host()\n"
    assert _found(else_branch) == "copy_to_host"
    assert _found("def f():\n    if __name__ == '__main__':\n        x.copy_to_host()\n")
    assert _found("if __name__ != '__main__':\n    x.copy_to_host()\n") == "copy_to_host"


@pytest.mark.parametrize(
    "before",
    [
        "__name__ = '__main__'",
        "(__name__ := '__main__')",
        "for __name__ in ['__main__']: pass",
        "import os as __name__",
        "from helper import *",
        "def g():\n    global __name__\n    __name__ = '__main__'",
        "try:\n    pass\nexcept Exception as __name__:\n    pass",
        "globals()['__name__'] = '__main__'",
        "vars()['__name__'] = '__main__'",
        "setattr(sys.modules[__name__], '__name__', '__main__')",
        "sys.modules[__name__].__name__ = '__main__'",
        "sys.modules[__name__].__dict__.update(x)",
        "import runpy",
        "exec(compile(open(__file__).read(), __file__, 'exec'), {'__name__': '__main__'})",
    ],
)
def test_a_file_that_could_make_the_main_test_true_is_checked_whole(before: str):
    source = before + "\nif __name__ == '__main__':\n    x.copy_to_host()\n"
    assert _found(source) in ("copy_to_host", "exec")


def test_a_lab0_submission_with_a_main_block_test_is_graded_in_full(tmp_path):
    # /tmp/redteam02/false_zero_main_block_copy_to_host: the student's own quick test printed
    # a result with copy_to_host under the main block, and lab 0 scored 0.
    import labs
    from grader.runner import Grader, Options
    from grader.spec import ROOT

    path = tmp_path / "student.py"
    path.write_text(
        (ROOT / "reference" / "lab0_vecadd" / "solution.py").read_text()
        + '\n\nif __name__ == "__main__":\n'
        "    import numpy as np\n\n"
        "    x = cuda.to_device(np.arange(5, dtype=np.float32))\n"
        "    out = cuda.device_array(5, dtype=np.float32)\n"
        "    print(saxpy(np.float32(2), x, x, out).copy_to_host())\n"
    )
    result = Grader(labs.get("lab0"), Options(mode="simulator", secret="s")).grade(path)
    assert result.failure is None and all(c.passed for c in result.cases)
    assert result.points == result.max_points - result.unmeasured_points
