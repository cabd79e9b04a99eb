"""One fresh process per submission: its own process group, a wall-clock limit, capped output.

The child runs ``python -m grader.child`` in a new session (so in its own process group) and in
an empty temporary working directory. On timeout, on too much output, and in any case once it
has finished, the whole group gets SIGKILL: a Python timeout cannot interrupt a thread stuck in
``cudaDeviceSynchronize``, and compute GPUs have no watchdog. On Linux the grader also makes
itself a child subreaper, so a grandchild that escaped with ``setsid()`` is re-parented to the
grader when the child dies, and is found and killed too.

Isolation here is of processes, not of the file system: grade untrusted submissions inside a
container or VM with only the submission and an output folder mounted.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
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
from typing import Any

from grader.channel import TOKEN_BYTES, Frame, FrameReader
from grader.spec import ROOT

DEFAULT_OUTPUT_CAP = 1 << 20  # bytes of stdout + stderr before the child is stopped
KEEP_BYTES = 16 << 10  # of each stream, the head and the tail are kept for the report
_PR_SET_CHILD_SUBREAPER = 36


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

    @property
    def signal_name(self) -> str | None:
        if self.returncode is not None and self.returncode < 0:
            try:
                return signal.Signals(-self.returncode).name
            except ValueError:
                return f"signal {-self.returncode}"
        return None

    def first(self, frame_type: str) -> Frame | None:
        return next((f for f in self.frames if f.type == frame_type), None)

    def of_type(self, frame_type: str) -> list[Frame]:
        return [f for f in self.frames if f.type == frame_type]


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The parent's environment without grading secrets, with the repository importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CWB_SECRET")}
    paths = [str(ROOT), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env["NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS"] = "0"
    env.update(extra or {})
    return env


def _become_subreaper() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _children_of(pid: int) -> set[int]:
    found = set()
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
        if len(fields) > 1 and int(fields[1]) == pid:
            found.add(int(entry))
    return found


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


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_child(
    job: dict[str, Any],
    *,
    timeout_s: float,
    output_cap: int = DEFAULT_OUTPUT_CAP,
    extra_env: dict[str, str] | None = None,
    wrapper: Sequence[str] = (),
    on_frame: Callable[[Frame], None] | None = None,
) -> ChildOutcome:
    """Run one phase of one submission in a fresh process and collect what it sent back."""
    subreaper = _become_subreaper()
    token = secrets.token_bytes(TOKEN_BYTES)
    reader = FrameReader(token)
    read_fd, write_fd = os.pipe()
    _widen_pipe(write_fd)
    workdir = tempfile.mkdtemp(prefix="cwb-child-")
    before = _children_of(os.getpid()) if subreaper else set()
    started = time.monotonic()
    cmd = [*wrapper, sys.executable, "-B", "-m", "grader.child", str(write_fd)]
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(write_fd,),
            start_new_session=True,
            cwd=workdir,
            env=child_environment(extra_env),
        )
    finally:
        os.close(write_fd)
    frames: list[Frame] = []
    streams = {"stdout": StreamCapture(), "stderr": StreamCapture()}
    timed_out = output_limited = False
    try:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(json.dumps({**job, "token": token.hex()}).encode())
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ, "stdout")
        selector.register(proc.stderr, selectors.EVENT_READ, "stderr")
        selector.register(read_fd, selectors.EVENT_READ, "channel")
        deadline = started + timeout_s
        exited_at: float | None = None
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
            for key, _ in selector.select(timeout=min(0.25, deadline - now)):
                fd = key.fd if key.data == "channel" else key.fileobj.fileno()
                data = os.read(fd, 1 << 20)
                if not data:
                    selector.unregister(key.fileobj)
                    continue
                if key.data == "channel":
                    for frame in reader.feed(data):
                        frames.append(frame)
                        if on_frame:
                            on_frame(frame)
                else:
                    streams[key.data].add(data)
            if streams["stdout"].total + streams["stderr"].total > output_cap:
                output_limited = True
                break
        selector.close()
        if timed_out or output_limited:
            _kill_group(proc)
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            proc.wait()
    finally:
        _kill_group(proc)  # whatever the child left in its group
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe:
                pipe.close()
        os.close(read_fd)
        leftovers = _kill_leftovers(before) if subreaper else []
        shutil.rmtree(workdir, ignore_errors=True)
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
    )
