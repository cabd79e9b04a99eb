"""One fresh process per phase of a submission, inside an OS sandbox where one is available.

**With bubblewrap** (``bwrap``, as Flatpak uses; `cwb doctor` says whether it works here) the
process runs with its own unprivileged uid (65534), its own pid namespace (it cannot see or
signal the grader, and everything in it dies with it), its own IPC and UTS namespaces, no
network but loopback, and a read-only view of the machine: the only writable places are a
private scratch directory (its working directory, HOME, TMPDIR and every compiler cache) and a
private /tmp and /dev/shm. The environment is rebuilt from an allow-list, so no secret or grader
internal leaks in. The reference solutions, the reports, and whatever else the caller names
(other students' folders, the batch's output) are hidden behind empty directories. The parent
polls the process tree and ends it, with a verdict, when it holds more than its share of host
memory or starts more than its share of processes.

**Without it** (a student's own laptop, ``--no-sandbox``) the process still runs in its own
session and process group with a scrubbed environment, and the grader makes itself a child
subreaper so that a grandchild that escaped with ``setsid()`` is found and killed. That is
isolation of processes, not of files: ``cwb grade`` refuses to run that way unless told to.

Either way: on a timeout, an output flood or a limit, and in any case at the end, the whole
group gets SIGKILL (a Python timeout cannot interrupt a thread stuck in
``cudaDeviceSynchronize``, and compute GPUs have no watchdog).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import json
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import selfprofile
from grader.channel import TOKEN_BYTES, Frame, FrameReader
from grader.spec import ROOT

DEFAULT_OUTPUT_CAP = 1 << 20  # bytes of stdout + stderr before the child is stopped
KEEP_BYTES = 16 << 10  # of each stream, the head and the tail are kept for the report
DEFAULT_MEMORY_LIMIT = 8 << 30  # host memory (resident) of the whole process tree
DEFAULT_PROCESS_LIMIT = 64  # processes in the tree (threads are not counted)
POLL_S = 0.2  # how often the tree is measured
SANDBOX_UID = 65534
_PR_SET_CHILD_SUBREAPER = 36
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

# Passed through from the grader's environment when set; everything else is rebuilt.
PASSED_ENV = (
    "PATH",
    "LANG",
    "LC_ALL",
    "CUDA_VISIBLE_DEVICES",
    "CUDA_HOME",
    "CUDA_PATH",
    "LD_LIBRARY_PATH",
    "CWB_LABS",
    "NUMBA_ENABLE_CUDASIM",
    "NCCL_NVLS_ENABLE",
    "NCCL_DEBUG",
)


@dataclass
class Limits:
    """What one process tree may use: resident host memory and processes."""

    memory_bytes: int = DEFAULT_MEMORY_LIMIT
    processes: int = DEFAULT_PROCESS_LIMIT


@dataclass
class Sandbox:
    """How grading processes are contained; ``bwrap=None`` means process isolation only."""

    bwrap: str | None
    hide: list[Path] = field(default_factory=list)  # shown as empty directories
    show_reference: bool = False  # the grader's own fixtures import the reference solutions
    # The grader's worker only (it runs no Python of a submission's): a CuPy kernel cache kept
    # between runs, writable by that process alone. Submissions' processes never see it
    # writable, so nothing a submission wrote can be loaded from it.
    compile_cache: Path | None = None

    @property
    def enabled(self) -> bool:
        return self.bwrap is not None


@functools.cache
def bubblewrap() -> str | None:
    """The path of a ``bwrap`` that works on this machine, or None (asked once per process)."""
    found = shutil.which("bwrap")
    if found is None:
        return None
    try:
        out = subprocess.run(
            [found, *_namespaces(), "--ro-bind", "/", "/", "--", "/bin/true"],
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found if out.returncode == 0 else None


def why_no_sandbox() -> str:
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    return (
        "bwrap is installed but cannot make namespaces here (unprivileged user namespaces off, "
        "or a container without them)"
    )


@dataclass
class StreamCapture:
    """The head and tail of one output stream, and how much was written in all."""

    head: bytearray = field(default_factory=bytearray)
    tail: bytearray = field(default_factory=bytearray)
    total: int = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = KEEP_BYTES - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            del self.tail[:-KEEP_BYTES]

    def text(self) -> str:
        shown = len(self.head) + len(self.tail)
        middle = f"\n[... {self.total - shown} bytes not shown ...]\n" if self.total > shown else ""
        return (bytes(self.head).decode(errors="replace") + middle) + bytes(self.tail).decode(
            errors="replace"
        )


@dataclass
class ChildOutcome:
    frames: list[Frame]
    returncode: int | None
    timed_out: bool
    timeout_s: float
    output_limited: bool
    output_cap: int
    stdout: str
    stderr: str
    output_bytes: int
    channel_error: str | None
    leftover_pids: list[int]
    wall_s: float
    limit_hit: str | None = None  # "memory" or "processes": the tree was ended for it
    spawned: list[str] = field(default_factory=list)  # processes the submission started
    limits: Limits = field(default_factory=Limits)
    sandboxed: bool = False
    module: str = ""  # what ran: "grader.child" (the submission's) or "grader.worker" (ours)

    @property
    def signal_name(self) -> str | None:
        """The signal that ended the process, if one did (bwrap reports it as 128 + signal)."""
        number = None
        if self.returncode is not None and self.returncode < 0:
            number = -self.returncode
        elif self.sandboxed and self.returncode is not None and 128 < self.returncode < 128 + 65:
            number = self.returncode - 128
        if number is None:
            return None
        try:
            return signal.Signals(number).name
        except ValueError:
            return f"signal {number}"

    def first(self, frame_type: str) -> Frame | None:
        return next((f for f in self.frames if f.type == frame_type), None)

    def of_type(self, frame_type: str) -> list[Frame]:
        return [f for f in self.frames if f.type == frame_type]


@dataclass
class Phase:
    """A phase's processes together (the child's and the grader's worker's): their frames,
    in order. Each process's own ending (a crash, a timeout) is judged on its own."""

    outcomes: list[ChildOutcome] = field(default_factory=list)

    @property
    def frames(self) -> list[Frame]:
        return [f for outcome in self.outcomes for f in outcome.frames]

    def first(self, frame_type: str) -> Frame | None:
        return next((f for f in self.frames if f.type == frame_type), None)

    def of_type(self, frame_type: str) -> list[Frame]:
        return [f for f in self.frames if f.type == frame_type]


def _python_paths() -> list[str]:
    """Where this Python finds its modules: the child must find the same ones."""
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return [str(ROOT), *extra]


def child_environment(scratch: Path | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The child's whole environment, rebuilt: an allow-list of the grader's, its own HOME,
    TMPDIR and compiler caches in ``scratch``, and nothing secret."""
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    for key, value in os.environ.items():
        if key.startswith("NCCL_") and not key.startswith("CWB_SECRET"):
            env.setdefault(key, value)
    env["PYTHONPATH"] = os.pathsep.join(_python_paths())
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONNOUSERSITE"] = "1"
    env["NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS"] = "0"
    if scratch is not None:
        cache = scratch / "cache"
        env.update(
            HOME=str(scratch / "home"),
            TMPDIR=str(scratch / "tmp"),
            XDG_CACHE_HOME=str(cache),
            NUMBA_CACHE_DIR=str(cache / "numba"),
            CUPY_CACHE_DIR=str(cache / "cupy"),
            TRITON_CACHE_DIR=str(cache / "triton"),
            TORCHINDUCTOR_CACHE_DIR=str(cache / "inductor"),
            MPLCONFIGDIR=str(cache / "matplotlib"),
        )
    env.update(extra or {})
    return {k: v for k, v in env.items() if not k.startswith("CWB_SECRET")}


def grader_cache() -> Path:
    """The grader's own cache folder (``CWB_CACHE_DIR``, else the user's cache folder): the
    worker's compiled kernels and the timed reference runs. Only the grader writes there."""
    chosen = os.environ.get("CWB_CACHE_DIR")
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cuda-workbench"


def _namespaces() -> list[str]:
    return [
        "--unshare-user",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-net",
        "--unshare-uts",
        "--die-with-parent",
        "--new-session",
    ]


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


# What of the project a grading process may see: the grader, the labs and the CUDA C headers.
# Everything else in it (the reference solutions, .git with their history, docs, tests,
# reports, a class's submissions or grades kept there) is an empty folder to it.
PROJECT_SHOWN = ("grader", "labs", "kernels")


def _real(path: Path | str) -> Path:
    return Path(os.path.realpath(path))


def mount_plan(sandbox: Sandbox, scratch: Path, visible: Sequence[Path]) -> list[tuple[str, Path]]:
    """The folders a process sees differently from the machine, in the order bwrap must mount
    them (parents first): ``("empty", path)`` an empty read-only folder, ``("show", path)`` the
    machine's folder, read-only, ``("write", path)`` the scratch folder, writable.

    Empty: /tmp (private), the project but for :data:`PROJECT_SHOWN`, and every folder the
    caller hides. Shown: what the process needs that an empty folder covers: this Python and
    its packages, ``PYTHONPATH``, the project's shown parts (and the reference solutions for
    the grader's own runs), and ``visible`` (the submission's files). A path both hidden and
    needed is shown; an empty folder inside another is left out (it is empty already).
    """
    root = _real(ROOT)
    empty = {Path("/tmp"), root}
    for folder in [*sandbox.hide, ROOT / "reports"]:
        if Path(folder).exists():
            empty.add(_real(folder))
    project = [root / part for part in PROJECT_SHOWN]
    if sandbox.show_reference:
        project.append(root / "reference")
    python = [Path(sys.prefix), Path(sys.base_prefix), *map(Path, _python_paths()[1:])]
    needed = [*project, *python, *(Path(p) for p in sys.path if p), *visible]
    # Inside the project only these are shown: its shown parts, this Python (a .venv in it),
    # PYTHONPATH's folders (a course's own labs) and the submission's files.
    allowed = [_real(p) for p in [*project, *python, *visible] if Path(p).exists()]
    show: set[Path] = set()
    for path in needed:
        if not Path(path).exists():
            continue
        real = _real(path)
        if _under(real, root) and not any(_under(real, a) for a in allowed if a != root):
            continue
        show.add(real)
    empty -= show
    plan = {path: "empty" for path in empty}
    plan.update({path: "show" for path in show})
    plan[_real(scratch)] = "write"
    if sandbox.compile_cache is not None:
        plan[_real(sandbox.compile_cache)] = "write"

    def covering(path: Path) -> str | None:
        """What the nearest planned folder above ``path`` makes of it (None: the machine;
        "private" for the process's own /tmp, empty but writable)."""
        for parent in path.parents:
            if parent in plan:
                return "private" if parent == Path("/tmp") else plan[parent]
        return None

    kept = []
    for path in sorted(plan, key=lambda p: (len(p.parts), str(p))):
        above = covering(path)
        op = plan[path]
        if op == "empty" and above == "empty":
            continue  # inside an empty read-only folder already
        if op == "show" and above in (None, "show"):
            continue  # the machine shows it already
        kept.append((op, path))
    return kept


def bwrap_command(
    sandbox: Sandbox, scratch: Path, env: dict[str, str], visible: Sequence[Path]
) -> list[str]:
    """The bwrap arguments for one process: the machine read-only, private /tmp and /dev/shm,
    then :func:`mount_plan` (empty folders, the folders shown again inside them, the scratch
    folder writable), and the empty folders made read-only last, so that nothing written
    there could even seem to land."""
    assert sandbox.bwrap is not None
    args = [sandbox.bwrap, *_namespaces(), "--ro-bind", "/", "/"]
    args += ["--dev-bind", "/dev", "/dev", "--proc", "/proc", "--tmpfs", "/dev/shm"]
    plan = mount_plan(sandbox, scratch, visible)
    for op, path in plan:
        if op == "empty":
            args += ["--tmpfs", str(path)]
        elif op == "show":
            args += ["--ro-bind", str(path), str(path)]
        else:
            args += ["--bind", str(path), str(path)]
    for op, path in plan:
        if op == "empty" and path != Path("/tmp"):
            args += ["--remount-ro", str(path)]
    args += ["--chdir", str(scratch), "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return [*args, "--"]


def _become_subreaper() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _parents() -> dict[int, int]:
    """pid -> parent pid, for every live process this machine shows (zombies left out: a
    library's finished helper, not yet reaped, is not running)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name is in parentheses and may itself hold spaces or parentheses.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and fields[0] != b"Z":
            found[int(entry)] = int(fields[1])
    return found


def _children_of(pid: int) -> set[int]:
    return {child for child, parent in _parents().items() if parent == pid}


def tree(root: int) -> set[int]:
    """``root`` and every process below it."""
    parents = _parents()
    found, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in found:
                found.add(child)
                frontier.append(child)
    return found & (set(parents) | {root})


def resident_bytes(pids: set[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                total += int(f.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def _kill_leftovers(before: set[int]) -> list[int]:
    """Kill processes re-parented to the grader since ``before`` was taken; return their pids."""
    if not os.path.isdir("/proc"):
        return []
    killed: list[int] = []
    for _ in range(10):  # each round can orphan the next generation
        extra = _children_of(os.getpid()) - before
        if not extra:
            break
        for pid in extra:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        for pid in extra:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
    return killed


def _widen_pipe(fd: int) -> None:
    """Ask Linux for a 1 MiB pipe buffer (64 KiB by default) so big frames move in big reads."""
    set_pipe_size = getattr(fcntl, "F_SETPIPE_SZ", 1031)
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, set_pipe_size, 1 << 20)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL to the process group ``proc`` leads (started with ``start_new_session``)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _make_scratch() -> Path:
    scratch = Path(tempfile.mkdtemp(prefix="cwb-child-"))
    for sub in ("home", "tmp", "cache"):
        (scratch / sub).mkdir()
    # Only this process's sandbox can reach it: its uid maps to the grader's, and every other
    # sandbox has a private /tmp that hides it.
    return scratch


def run_child(
    job: dict[str, Any],
    *,
    timeout_s: float,
    output_cap: int = DEFAULT_OUTPUT_CAP,
    extra_env: dict[str, str] | None = None,
    wrapper: Sequence[str] = (),
    on_frame: Callable[[Frame], None] | None = None,
    sandbox: Sandbox | None = None,
    limits: Limits | None = None,
    module: str = "grader.child",
    visible: Sequence[Path] = (),
    channel_cap: int | None = None,
    stdin_payload: bytes = b"",
    allow_processes: bool = False,
) -> ChildOutcome:
    """Run one phase in a fresh process (``python -m module FD``) and collect its frames.

    The job goes to the process's stdin as one JSON line (with the channel's token), followed
    by ``stdin_payload`` (frames, for a worker that replays recordings). ``visible``: paths the
    process must read that a hidden folder would cover (the submission's own folder).
    """
    limits = limits or Limits()
    sandbox = sandbox or Sandbox(bwrap=None)
    profiling = selfprofile.wanted()
    if profiling:
        job = {**job, "profile": True}
    # Without a pid namespace, a grandchild that escaped with setsid() is re-parented to the
    # grader, found and killed; with one, everything dies with the namespace (and bwrap's own
    # helper, re-parented for a moment as it exits, is no leftover of the submission's).
    subreaper = not sandbox.enabled and _become_subreaper()
    token = secrets.token_bytes(TOKEN_BYTES)
    reader = FrameReader(token, max_total_bytes=channel_cap)
    read_fd, write_fd = os.pipe()
    _widen_pipe(write_fd)
    scratch = _make_scratch()
    env = child_environment(scratch, extra_env)
    if sandbox.enabled and sandbox.compile_cache is not None:
        sandbox.compile_cache.mkdir(parents=True, exist_ok=True)
        env["CUPY_CACHE_DIR"] = str(sandbox.compile_cache)
    before = _children_of(os.getpid()) if subreaper else set()
    started = time.monotonic()
    python = [sys.executable, "-B", "-m", module, str(write_fd)]
    prefix = bwrap_command(sandbox, scratch, env, visible) if sandbox.enabled else []
    try:
        proc = subprocess.Popen(
            [*prefix, *wrapper, *python],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(write_fd,),
            start_new_session=True,
            cwd=scratch,
            env=env,
        )
    finally:
        os.close(write_fd)
    frames: list[Frame] = []
    streams = {"stdout": StreamCapture(), "stderr": StreamCapture()}
    timed_out = output_limited = False
    limit_hit: str | None = None
    # The processes that are the harness itself: bwrap's two and Python (and a wrapper's).
    harness = (2 if sandbox.enabled else 0) + 1 + (1 if wrapper else 0)
    spawned: dict[int, str] = {}

    def measure(at_end: bool = False) -> str | None:
        """Limits on every poll; at the end (the harness said done), any process beyond the
        harness's own was left running by the submission (libraries start short-lived ones,
        such as ldconfig, which are gone by then)."""
        count = harness if at_end and not allow_processes else None
        found, hit = _measure(proc.pid, limits, count)
        spawned.update(found)
        return hit

    try:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(json.dumps({**job, "token": token.hex()}).encode() + b"\n")
            proc.stdin.write(stdin_payload)
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ, "stdout")
        selector.register(proc.stderr, selectors.EVENT_READ, "stderr")
        selector.register(read_fd, selectors.EVENT_READ, "channel")
        deadline = started + timeout_s
        exited_at: float | None = None
        next_poll = started
        while selector.get_map():
            now = time.monotonic()
            if now >= deadline:
                timed_out = True
                break
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            # A grandchild holding the pipes open must not keep the grader waiting.
            if exited_at is not None and now - exited_at > 1.0:
                break
            if now >= next_poll and exited_at is None:
                next_poll = now + POLL_S
                limit_hit = measure()
                if limit_hit:
                    break
            for key, _ in selector.select(timeout=min(POLL_S, deadline - now)):
                fd = key.fd if key.data == "channel" else key.fileobj.fileno()
                data = os.read(fd, 1 << 20)
                if not data:
                    selector.unregister(key.fileobj)
                    continue
                if key.data == "channel":
                    for frame in reader.feed(data):
                        frames.append(frame)
                        if profiling:
                            selfprofile.log_frame(module, time.monotonic() - started, frame)
                        if frame.type == "done" and proc.poll() is None:
                            limit_hit = limit_hit or measure(at_end=True)
                        if on_frame:
                            on_frame(frame)
                    if reader.error:
                        break  # forged or flooding: stop reading, end the process
                else:
                    streams[key.data].add(data)
            if reader.error:
                break
            if streams["stdout"].total + streams["stderr"].total > output_cap:
                output_limited = True
                break
        selector.close()
        if timed_out or output_limited or limit_hit or reader.error:
            kill_group(proc)
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_group(proc)
            proc.wait()
    finally:
        kill_group(proc)  # whatever the child left in its group
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe:
                pipe.close()
        os.close(read_fd)
        leftovers = _kill_leftovers(before) if subreaper else []
        shutil.rmtree(scratch, ignore_errors=True)
    return ChildOutcome(
        frames=frames,
        returncode=proc.returncode,
        timed_out=timed_out,
        timeout_s=timeout_s,
        output_limited=output_limited,
        output_cap=output_cap,
        stdout=streams["stdout"].text(),
        stderr=streams["stderr"].text(),
        output_bytes=streams["stdout"].total + streams["stderr"].total,
        channel_error=reader.error,
        leftover_pids=leftovers,
        wall_s=time.monotonic() - started,
        limit_hit=limit_hit,
        limits=limits,
        sandboxed=sandbox.enabled,
        spawned=[f"pid {pid}: {what}" for pid, what in sorted(spawned.items())],
        module=module,
    )


def _command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()[:200]
    except OSError:
        return "?"


def _measure(root: int, limits: Limits, harness: int | None) -> tuple[dict[int, str], str | None]:
    """The processes beyond the harness's own (``harness`` of them, the oldest; None: any
    number is the harness's), and "memory" or "processes" when the tree is over its limits."""
    if not os.path.isdir("/proc"):
        return {}, None
    pids = tree(root)
    extra: dict[int, str] = {}
    if harness is not None and len(pids) > harness:
        extra = {pid: _command_line(pid) for pid in sorted(pids)[harness:]}
        # A process with no command line is on its way out (a library's helper that just
        # finished): not one left running.
        extra = {pid: line for pid, line in extra.items() if line and line != "?"}
    if len(pids) > limits.processes:
        return extra, "processes"
    if resident_bytes(pids) > limits.memory_bytes:
        return extra, "memory"
    return extra, None
