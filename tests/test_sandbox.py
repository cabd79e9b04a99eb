"""The sandbox, tried the way a hostile submission would: each submission below attacks the
grader, the project or the class, prints what it managed, and then does the task honestly. The
grader must grade it as usual and every attack must have failed.

Runs for real wherever bubblewrap works (CI installs it); elsewhere each test says why it
skipped. Lab 0 under numba's simulator: no GPU needed.
"""

from __future__ import annotations

import csv
import os
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import labs
from grader.cli import main
from grader.runner import Grader, Options
from grader.sandbox import Limits, Sandbox, bubblewrap, run_child, why_no_sandbox
from grader.spec import ROOT

pytestmark = pytest.mark.skipif(bubblewrap() is None, reason=f"no sandbox: {why_no_sandbox()}")

LAB = labs.get("lab0")

HONEST = """
from numba import cuda


@cuda.jit
def _kernel(a, x, y, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a * x[i] + y[i]


def saxpy(a, x, y, out):
    _kernel[(out.size + 127) // 128, 128](a, x, y, out)
    return out
"""


def _submission(tmp_path: Path, name: str, attack: str) -> Path:
    folder = tmp_path / name
    folder.mkdir(parents=True)
    path = folder / "student.py"
    path.write_text(attack + "\n" + HONEST)
    return path


def _grader(**options) -> Grader:
    return Grader(LAB, Options(mode="simulator", timeout_s=60, **options))


def _said(result, key: str) -> str:
    text = "".join(log.stdout for log in result.logs)
    found = re.findall(rf"^{key}=(.*)$", text, re.MULTILINE)
    assert found, f"the submission printed no {key}: {text[:2000]}"
    return found[0]


WRITE_ATTACK = f"""
import os, sys
targets = [
    {str(ROOT / "reference" / "lab0_vecadd" / "planted.py")!r},
    {str(ROOT / "grader" / "__pycache__" / "planted.pyc")!r},
    {str(ROOT / "reports" / "planted.html")!r},
    {str(ROOT / "sitecustomize.py")!r},
    os.path.join(os.path.dirname(os.__file__), "sitecustomize.py"),
    "/tmp/planted-by-a-student",
]
written = []
for target in targets:
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as f:
            f.write("print('planted')")
        written.append(target)
    except OSError:
        pass
print("WRITTEN=" + repr(written), flush=True)
"""


def test_the_project_and_python_are_read_only_to_a_submission(tmp_path: Path) -> None:
    result = _grader().grade(_submission(tmp_path, "writer", WRITE_ATTACK))
    written = _said(result, "WRITTEN")
    assert result.points == 60, result.headline
    # /tmp is the sandbox's own: a file there vanishes with it.
    assert written in ("[]", "['/tmp/planted-by-a-student']"), written
    for planted in (
        ROOT / "reference" / "lab0_vecadd" / "planted.py",
        ROOT / "reports" / "planted.html",
        ROOT / "sitecustomize.py",
        Path("/tmp/planted-by-a-student"),
    ):
        assert not planted.exists(), planted


SPY_ATTACK = f"""
import os
secret = [k for k in os.environ if "SECRET" in k]
try:
    parent = open(f"/proc/{{os.getppid()}}/cmdline", "rb").read().decode(errors="replace")
except OSError as exc:
    parent = "unreadable"
pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
def listing(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return "absent"
reference = listing({str(ROOT / "reference")!r})
project = listing({str(ROOT)!r})
history = listing({str(ROOT / ".git")!r})
print("SECRET=" + repr(secret), flush=True)
print("PARENT=" + parent.replace(chr(0), " ")[:300], flush=True)
print("PIDS=" + repr(pids), flush=True)
print("REFERENCE=" + repr(reference), flush=True)
print("PROJECT=" + repr(project), flush=True)
print("GIT=" + repr(history), flush=True)
print("UID=" + str(os.getuid()), flush=True)
"""


def test_a_submission_sees_no_secret_no_grader_and_no_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CWB_SECRET", "the-batch-secret")
    result = _grader(secret="the-batch-secret").grade(_submission(tmp_path, "spy", SPY_ATTACK))
    assert result.points == 60, result.headline
    assert _said(result, "SECRET") == "[]"
    assert "the-batch-secret" not in _said(result, "PARENT")
    # Its parent is the sandbox's own init, not the grader: it sees only its own sandbox.
    assert _said(result, "PARENT").startswith(("unreadable", "/usr/bin/bwrap", "bwrap"))
    assert max(eval(_said(result, "PIDS"))) < 100  # a pid namespace of its own
    # Of the project it sees the grader, the labs and the headers (and the venv that runs it):
    # not the reference solutions, nor .git (their history), docs or tests.
    assert _said(result, "REFERENCE") in ("[]", "'absent'")
    assert _said(result, "GIT") in ("[]", "'absent'")
    assert set(eval(_said(result, "PROJECT"))) <= {"grader", "labs", "kernels", ".venv"}
    assert _said(result, "UID") == "65534"


SIGNAL_ATTACK = """
import os, signal
for target in (os.getppid(), 1, -1):
    try:
        os.kill(target, signal.SIGKILL)
    except OSError:
        pass
"""


def test_signals_cannot_reach_the_grader_and_the_next_submission_grades_normally(
    tmp_path: Path,
) -> None:
    grader = _grader()
    # Its parent is the sandbox's init, which ignores signals from inside; kill(-1) reaches
    # nobody but the sandbox's own processes. So it is graded like any honest submission.
    hostile = grader.grade(_submission(tmp_path, "killer", SIGNAL_ATTACK))
    assert hostile.points == 60, hostile.headline
    honest = grader.grade(_submission(tmp_path, "honest", ""))
    assert honest.points == 60, honest.headline


def test_host_memory_beyond_the_limit_ends_the_tree_with_a_verdict(tmp_path: Path) -> None:
    attack = "import numpy as np, time\nhog = np.ones(1 << 29, dtype=np.uint8)\ntime.sleep(30)\n"
    grader = _grader()
    grader.lab = LAB.__class__(**{**LAB.__dict__, "host_memory_gib": 0.25})
    result = grader.grade(_submission(tmp_path, "hog", attack))
    assert result.points == 0 and result.failure.reason == "memory_limit"
    assert "0.2 GiB" in result.failure.message or "0.3 GiB" in result.failure.message


def test_a_fork_bomb_is_stopped_with_a_verdict_and_nothing_survives(tmp_path: Path) -> None:
    attack = (
        "import subprocess, sys\n"
        "procs = [subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)"
        " # CWB-FORK-MARKER']) for _ in range(80)]\n"
    )
    result = _grader().grade(_submission(tmp_path, "forker", attack))
    assert result.points == 0
    assert result.failure.reason in ("process_limit", "spawned_process")
    # The kernel kills a pid namespace's processes as it tears it down: give it a moment.
    for _ in range(30):
        survivors = [
            pid
            for pid in filter(str.isdigit, os.listdir("/proc"))
            if b"CWB-FORK-MARKER" in _cmdline(pid)
        ]
        if not survivors:
            break
        time.sleep(0.1)
    assert survivors == []


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


NETWORK_ATTACK = """
import socket
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    reached = True
except OSError:
    reached = False
print("NETWORK=" + str(reached), flush=True)
"""


def test_there_is_no_network_but_loopback(tmp_path: Path) -> None:
    result = _grader().grade(_submission(tmp_path, "caller", NETWORK_ATTACK))
    assert _said(result, "NETWORK") == "False" and result.points == 60


def test_other_students_folders_and_the_batch_output_are_hidden(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    victim = _submission(subs, "victim", "")
    attack = (
        f"import os\ntry:\n    seen = os.listdir({str(victim.parent)!r})\n"
        "except OSError:\n    seen = 'unreadable'\n"
        "print('SEEN=' + repr(seen), flush=True)\n"
    )
    thief = _submission(subs, "thief", attack)
    result = _grader(hide=[subs]).grade(thief)
    assert _said(result, "SEEN") in ("[]", "'unreadable'") and result.points == 60


def test_a_batch_with_hostile_submissions_grades_the_honest_ones_as_alone(tmp_path: Path) -> None:
    subs = tmp_path / "class"
    honest_paths = [_submission(subs, f"honest{i}", "") for i in range(3)]
    hostile = [
        _submission(subs, "killer", SIGNAL_ATTACK),
        _submission(subs, "writer", WRITE_ATTACK),
        _submission(subs, "spy", SPY_ATTACK),
        _submission(subs, "flood", "import sys\nsys.stdout.write('x' * (8 << 20))\n"),
        _submission(subs, "syntax", "def broken(:\n"),
        _submission(subs, "exiter", "import os\nos._exit(0)\n"),
    ]
    wrong = LAB.reference_folder / "wrong"
    fixtures = [wrong / "raises.py", wrong / "segfault.py", wrong / "forges_channel.py"]
    out = tmp_path / "grades"
    folders = [p.parent for p in [*hostile[:3], *honest_paths, *hostile[3:]]]
    args = ["grade", "lab0", *map(str, [*folders, *fixtures])]
    result = CliRunner().invoke(
        main,
        [*args, "--mode", "simulator", "--out", str(out), "--secret", "s"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    with open(out / "gradebook.csv") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    alone = _grader(secret="s").grade(honest_paths[0])
    for path in honest_paths:
        assert float(rows[path.parent.name]["points"]) == alone.points == 60
        assert rows[path.parent.name]["sandbox"] == "bubblewrap"
    for name in ("flood", "syntax", "exiter", "raises", "segfault", "forges_channel"):
        assert float(rows[name]["points"]) == 0, (name, rows[name])


def test_run_child_rebuilds_the_environment_from_an_allow_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CWB_SECRET_TOKEN", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    outcome = run_child(
        {"lab": "lab0", "phase": "check", "tasks": [], "submission": str(LAB.solution_path)},
        timeout_s=60,
        sandbox=Sandbox(bwrap=bubblewrap()),
        limits=Limits(),
        extra_env={"NUMBA_ENABLE_CUDASIM": "1"},
        module="grader.child",
        visible=[LAB.solution_path.parent],
    )
    assert outcome.sandboxed and outcome.first("done") is not None, outcome.stderr
    # The child's own view of its environment is not sent back; the allow-list is tested
    # directly: nothing but what it names (and the scratch paths) reaches the child.
    from grader.sandbox import child_environment

    env = child_environment(Path("/tmp/x"))
    assert "AWS_SECRET_ACCESS_KEY" not in env and not any("SECRET" in k for k in env)
    assert env["HOME"] == "/tmp/x/home" and env["NUMBA_CACHE_DIR"].startswith("/tmp/x/")


@pytest.mark.parametrize("where", ["relative", "absolute"])
def test_cuda_c_cannot_include_the_reference_solution(tmp_path: Path, where: str) -> None:
    """The grader compiles a student's CUDA C in its own worker: an #include must not reach
    the reference solutions from there (by a path relative to the include directory, or by
    the repository's absolute path)."""
    lab3 = labs.get("lab3")
    target = lab3.reference_folder / "solution.cu"
    path = "../reference/lab3_pipeline/solution.cu" if where == "relative" else str(target)
    student = tmp_path / "sub" / "student.cu"
    student.parent.mkdir()
    student.write_text(f'#include "{path}"\n')
    result = Grader(lab3, Options(mode="simulator", timeout_s=120)).grade(student)
    compiled = next(c for c in result.cases if c.task == "stream" and c.case == "compiles")
    assert not compiled.passed and compiled.reason == "kernel_compile"
    assert "cannot open source file" in compiled.message
    assert sum(line.points for line in result.rubric if line.task == "stream") == 0
    # The reference itself, graded as the grader's own fixture, still compiles.
    own = Grader(lab3, Options(mode="simulator", timeout_s=120)).grade(target)
    assert next(c for c in own.cases if c.case == "compiles").passed


LISTER = """
import os, sys
for path in {paths!r}:
    try:
        print("SEEN " + path + " " + repr(sorted(os.listdir(path))), flush=True)
    except OSError:
        print("SEEN " + path + " 'absent'", flush=True)
"""


def test_hidden_folders_inside_each_other_and_inside_the_project(tmp_path: Path) -> None:
    """A class folder with the batch's output inside it, and a folder inside the project: all
    hidden, and none stops the grading (a folder mounted empty over another used to fail)."""
    course = tmp_path / "course"
    out = course / "_grades"
    out.mkdir(parents=True)
    (out / "batch.json").write_text('{"secret": "s"}')
    bob = course / "bob"
    bob.mkdir()
    (bob / "student.py").write_text("# bob's work\n")
    inside = ROOT / "docs"
    paths = [str(course), str(out), str(bob), str(inside)]
    alice = _submission(course, "alice", LISTER.format(paths=paths))
    result = _grader(hide=[course, out, inside]).grade(alice)
    assert result.points == 60, result.headline
    seen = dict(
        line.split(" ", 2)[1:]
        for log in result.logs
        for line in log.stdout.splitlines()
        if line.startswith("SEEN ")
    )
    assert set(seen) == set(paths), seen
    # The class folder shows only alice's own folder; the rest is empty or absent.
    assert eval(seen[str(course)]) in (["alice"], "absent")
    for path in (out, bob, inside):
        assert eval(seen[str(path)]) in ([], "absent"), (path, seen[str(path)])


def test_a_project_under_tmp_is_shown_in_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The project itself may live under /tmp (a CI checkout): the private /tmp is mounted
    first, then the project's empty folder, then its shown parts."""
    import subprocess

    import grader.sandbox as sandbox_module

    project = tmp_path / "project"
    (project / "grader").mkdir(parents=True)
    (project / "grader" / "ok.txt").write_text("shown\n")
    (project / "reference").mkdir()
    (project / "reference" / "solution.py").write_text("hidden")
    (project / ".git").mkdir()
    monkeypatch.setattr(sandbox_module, "ROOT", project)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    box = Sandbox(bwrap=bubblewrap())
    plan = sandbox_module.mount_plan(box, scratch, [])
    order = [path for _, path in plan]
    # /tmp comes first; the project inside it is an empty folder of its own (read-only, unlike
    # the private /tmp), and its grader is shown again inside that.
    assert order[0] == Path("/tmp") and ("empty", project.resolve()) in plan
    assert order.index(project.resolve()) < order.index((project / "grader").resolve())
    assert ("show", (project / "grader").resolve()) in plan
    command = sandbox_module.bwrap_command(box, scratch, {"PATH": "/usr/bin:/bin"}, [])
    script = (
        f"ls -A {project}; cat {project}/grader/ok.txt; ls {project}/reference 2>&1;"
        f" touch {project}/planted 2>/dev/null && echo planted"
    )
    run = subprocess.run([*command, "/bin/sh", "-c", script], capture_output=True, text=True)
    assert run.returncode != 0 or "hidden" not in run.stdout
    lines = run.stdout.split()
    assert "shown" in lines and "solution.py" not in lines and ".git" not in lines, run
    assert "planted" not in lines, run  # read-only, even inside the private /tmp


@pytest.mark.parametrize("target", ["reference", "classmate", "helper"])
def test_a_submission_made_of_links_is_refused(tmp_path: Path, target: str) -> None:
    """A student.py that links to the reference solution or a classmate's file, or a helper
    module beside it that does, is refused: the grader would read the target as theirs."""
    course = tmp_path / "course"
    bob = _submission(course, "bob", "")
    eve = course / "eve"
    eve.mkdir()
    if target == "reference":
        (eve / "student.py").symlink_to(LAB.solution_path)
    elif target == "classmate":
        (eve / "student.py").symlink_to(Path("..") / "bob" / "student.py")
    else:
        (eve / "student.py").write_text("from helper import *\n")
        (eve / "helper.py").symlink_to(bob)
    result = _grader(hide=[course]).grade(eve / "student.py")
    assert result.points == 0 and result.failure.reason == "linked_file", result.headline
    assert "symbolic link" in result.failure.message
    assert any("needs review" in flag for flag in result.flags)


def test_files_in_one_folder_see_only_themselves(tmp_path: Path) -> None:
    """Submissions given as files of one folder (alice.py, zed.py): each process sees its own
    files, not its classmates' beside it."""
    folder = tmp_path / "course" / "submissions"
    folder.mkdir(parents=True)
    (folder / "alice.py").write_text(LAB.solution_path.read_text())
    spy = "import os\nprint('SEEN=' + repr(sorted(os.listdir(os.path.dirname(__file__)))))\n"
    (folder / "zed.py").write_text(spy + HONEST)
    result = _grader(hide=[folder.parent]).grade(folder / "zed.py")
    assert result.points == 60, result.headline
    assert _said(result, "SEEN") == "['zed.py']"


def test_the_workers_kernel_cache_is_writable_by_the_worker_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The grader's worker keeps CuPy's compiled kernels between runs; a submission's process
    sees that folder read-only, so nothing it wrote could ever be loaded by a worker."""
    cache = tmp_path / "cache" / "worker-cupy"
    monkeypatch.setenv("CWB_CACHE_DIR", str(tmp_path / "cache"))
    job = {"lab": "lab0", "phase": "check", "tasks": [], "submission": str(LAB.solution_path)}
    touch = ["/bin/sh", "-c", 'touch "$CUPY_CACHE_DIR/written" 2>/dev/null; exec "$0" "$@"']
    outcome = run_child(
        job,
        timeout_s=60,
        sandbox=Sandbox(bwrap=bubblewrap(), compile_cache=cache),
        extra_env={"NUMBA_ENABLE_CUDASIM": "1"},
        wrapper=touch,
        visible=[LAB.solution_path.parent],
    )
    assert outcome.first("done") is not None, outcome.stderr
    assert (cache / "written").is_file()
    (cache / "written").unlink()
    attack = f"""
try:
    open({str(cache / "planted")!r}, "w").write("x")
    print("PLANTED=yes", flush=True)
except OSError:
    print("PLANTED=no", flush=True)
"""
    result = _grader().grade(_submission(tmp_path, "cacher", attack))
    assert _said(result, "PLANTED") == "no" and result.points == 60, result.headline
    assert not (cache / "planted").exists()
