"""Part C's harness: runs a submission's dispatch/combine and tp_mlp_forward on every rank.

Started by PyTorch's launcher, one process per rank::

    python -m torch.distributed.run --standalone --nproc-per-node N \\
        labs/lab4_moe/dist_harness.py --submission PATH --out DIR --backend gloo --seed S

(:func:`command` builds that line.) Each rank makes its inputs from the seed
(:mod:`labs.lab4_moe.dist_inputs`), loads the submission, and runs

    dispatch -> the harness's expert op (x * scale[e] + bias[e]) -> combine      (part "moe")
    tp_mlp_forward                                                              (part "tp")

The submission's functions get, as ``group``, a group of all ranks whose collectives give up
after ``--timeout-s`` (default 30 s); joining at start-up may take up to 120 s. The parent
should allow the launcher about 120 s + 4 x timeout (and kill its process group after that).

It never sees an expected output: it writes what the submission returned, and the parent
(:mod:`labs.lab4_moe.dist_check`) judges. Per rank, in DIR:

    rank{r}.json  status, rewritten at every stage and before every collective:
                  {"rank", "world_size", "state": "running" | "ok" | "error", "stage",
                   "error": {"kind", "type", "message", "traceback"} | null,
                   "calls": [{"phase", "op", "bytes_sent", ...}], "bytes_sent": {phase: int}}
    rank{r}.npz   (numpy only, no pickle; written when the rank finished)
                  expert_in_{j}   float32 (rows, d): what dispatch delivered to local expert j
                  combined        float32 (T, d): combine's output
                  tp_out          float32 (tp_tokens, d)
                  a2a_in_splits, a2a_out_splits  int64 (calls, world): the split sizes passed
                                  to each all_to_all_single (equal splits written out)
                  a2a_row_bytes   int64 (calls,); a2a_phase int64 (calls,): index in PHASES
                  bytes_sent      int64 (len(PHASES),): bytes this rank sent, per phase

Every torch.distributed collective is wrapped before the submission is imported, to count the
bytes each rank sends (all_to_all_single exactly, from its splits; the others from their
algorithm: a ring all-reduce sends 2(n-1)/n of the buffer). Before each all-to-all the ranks
compare their split sizes on a side group, so splits that do not match across ranks fail with
a message (``split_mismatch``) instead of gloo aborting the process or delivering garbage.

Failure kinds in the status: the grader's (``not_implemented``, ``exception``, ``syntax_error``,
``import_error``, ``missing_function``, ``out_of_memory``, ``cuda_error``, ...) plus
``split_mismatch``, ``deadlock`` (a collective timed out, or its peer left while this rank
waited: usually a rank that skipped or added a collective, or another rank's failure),
``type``, ``dtype``, ``shape`` (what a function returned) and ``modified_input``. On an error
the rank writes its status and exits at once with code 1, so the launcher stops the others
(their status then says ``running`` at the stage they were in).

The harness runs in the same process as the submission: a hostile submission could rewrite
these files. The counts catch honest mistakes (sending every token everywhere), not forgery.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import inspect
import json
import os
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # started as a script: make `labs` (and a fixture's imports) work
    sys.path.insert(0, str(ROOT))

from labs.lab4_moe import dist_inputs  # noqa: E402

PHASES = ("dispatch", "combine", "tp")
PARTS = {"moe": ("dispatch", "combine"), "tp": ("tp_mlp_forward",)}
DEFAULT_TIMEOUT_S = 30.0  # per collective, in the group the submission is given
STARTUP_TIMEOUT_S = 120.0  # for every rank to join
MAX_RECORDED_CALLS = 200  # in the status file; bytes are counted for every call


def command(
    submission: str | Path,
    out: str | Path,
    world_size: int,
    seed: int,
    backend: str = "gloo",
    parts: Sequence[str] = ("moe", "tp"),
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> list[str]:
    """The launcher's command line (run it from the repository root, in a new session)."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        str(world_size),
        str(Path(__file__).resolve()),
        "--submission",
        str(submission),
        "--out",
        str(out),
        "--backend",
        backend,
        "--seed",
        str(seed),
        "--parts",
        ",".join(parts),
        "--timeout-s",
        str(timeout_s),
    ]


class HarnessError(Exception):
    """A failure the harness names itself (``kind`` is a failure code)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


# -- status file ---------------------------------------------------------------------------------


class Status:
    def __init__(self, out: Path, rank: int, world_size: int):
        self.path = out / f"rank{rank}.json"
        self.data: dict[str, Any] = {
            "rank": rank,
            "world_size": world_size,
            "state": "running",
            "stage": "start",
            "error": None,
            "calls": [],
            "bytes_sent": dict.fromkeys(PHASES, 0),
        }
        self.write()

    def write(self) -> None:
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.data))
        os.replace(tmp, self.path)

    def stage(self, name: str) -> None:
        self.data["stage"] = name
        self.write()


# -- counting the collectives --------------------------------------------------------------------


def _nbytes(t: Any) -> int:
    return int(t.numel() * t.element_size())


def _row_elems(t: Any) -> int:
    if t.dim() == 0:
        return 1
    n = 1
    for s in t.shape[1:]:
        n *= int(s)
    return n


def _splits(sizes: Sequence[int] | None, rows: int, world: int) -> list[int]:
    if sizes is None or len(sizes) == 0:
        return [rows // world] * world  # torch's equal split
    return [int(s) for s in sizes]


_DTYPE_CODES: dict[str, int] = {}


def _dtype_code(t: Any) -> int:
    return _DTYPE_CODES.setdefault(str(t.dtype), len(_DTYPE_CODES) + 1)


class Counter:
    """Wraps torch.distributed's collectives: counts bytes sent and checks all-to-all splits."""

    def __init__(self, status: Status, side_group: Any, world: int, rank: int):
        import torch.distributed as dist

        self.dist = dist
        self.status = status
        self.side = side_group
        self.world = world
        self.rank = rank
        self.phase = "setup"
        self.a2a: list[tuple[list[int], list[int], int, int]] = []
        self._depth = threading.local()

    # What this rank sends, per call (its own share of the algorithm's traffic).
    def _estimate(self, name: str, a: dict[str, Any], n: int, me: int) -> dict[str, Any]:
        if name == "all_to_all_single":
            inp, out = a["input"], a["output"]
            row = _row_elems(inp) * inp.element_size()
            rows_in = int(inp.shape[0]) if inp.dim() else 1
            rows_out = int(out.shape[0]) if out.dim() else 1
            ins = _splits(a.get("input_split_sizes"), rows_in, n)
            outs = _splits(a.get("output_split_sizes"), rows_out, n)
            sent = sum(s * row for peer, s in enumerate(ins) if peer != me)
            return {"bytes_sent": sent, "in_splits": ins, "out_splits": outs, "row_bytes": row}
        if name == "all_to_all":
            ins = [_nbytes(t) for t in a["input_tensor_list"]]
            return {"bytes_sent": sum(b for peer, b in enumerate(ins) if peer != me)}
        if name == "all_reduce":
            return {"bytes_sent": round(2 * (n - 1) / n * _nbytes(a["tensor"]))}
        if name in ("all_gather", "all_gather_into_tensor"):
            t = a["tensor"] if name == "all_gather" else a["input_tensor"]
            return {"bytes_sent": (n - 1) * _nbytes(t)}
        if name == "reduce_scatter_tensor":
            return {"bytes_sent": round((n - 1) / n * _nbytes(a["input"]))}
        if name == "reduce_scatter":
            ins = [_nbytes(t) for t in a["input_list"]]
            return {"bytes_sent": sum(b for peer, b in enumerate(ins) if peer != me)}
        if name in ("broadcast", "reduce"):
            return {"bytes_sent": _nbytes(a["tensor"])}  # a pipelined ring: ~ once per rank
        if name in ("send", "isend"):
            return {"bytes_sent": _nbytes(a["tensor"])}
        if name == "gather":
            dst = a.get("dst") if a.get("dst") is not None else a.get("group_dst")
            return {"bytes_sent": 0 if dst == me else _nbytes(a["tensor"])}
        if name == "scatter":
            lst = a.get("scatter_list") or []
            return {"bytes_sent": sum(_nbytes(t) for i, t in enumerate(lst) if i != me)}
        return {"bytes_sent": 0}

    def _check_splits(self, name: str, a: dict[str, Any], info: dict[str, Any], n: int) -> None:
        """All ranks compare their all-to-all sizes on the side group; all raise together."""
        import torch

        if name == "all_to_all_single":
            ins, outs = info["in_splits"], info["out_splits"]
            inp, out = a["input"], a["output"]
            mine = [*ins, *outs, _row_elems(inp), _row_elems(out), _dtype_code(inp)]
        else:  # all_to_all: one tensor per peer
            ins = [int(t.numel()) for t in a["input_tensor_list"]]
            outs = [int(t.numel()) for t in a["output_tensor_list"]]
            if len(ins) != n or len(outs) != n:
                raise HarnessError(
                    "split_mismatch",
                    f"all_to_all needs one input and one output tensor per rank ({n}), got "
                    f"{len(ins)} and {len(outs)}",
                )
            mine = [*ins, *outs, 1, 1, _dtype_code(a["input_tensor_list"][0])]
        mine_t = torch.tensor(mine, dtype=torch.int64)
        every = [torch.empty_like(mine_t) for _ in range(n)]
        self.dist.all_gather(every, mine_t, group=self.side)
        table = torch.stack(every).tolist()
        problems = []
        for r in range(n):
            for s in range(n):
                expect_from_s = table[r][n + s]  # r's output split for source s
                sent_by_s = table[s][r]  # s's input split for destination r
                if expect_from_s != sent_by_s:
                    unit = "rows" if name == "all_to_all_single" else "elements"
                    problems.append(
                        f"rank {r} expects {expect_from_s} {unit} from rank {s}, "
                        f"which sends it {sent_by_s}"
                    )
        if len({row[2 * n] for row in table} | {row[2 * n + 1] for row in table}) > 1:
            problems.append("the ranks' rows have different widths")
        if len({row[2 * n + 2] for row in table}) > 1:
            problems.append("the ranks send different dtypes")
        if problems:
            raise HarnessError(
                "split_mismatch",
                f"{name} call {len(self.a2a)} in {self.phase}: the ranks disagree on the split "
                "sizes: "
                + "; ".join(problems[:6])
                + ("; ..." if len(problems) > 6 else "")
                + ". A rank cannot know how many rows it will receive: exchange the counts "
                "first (an all_to_all_single of the per-rank counts), then pass them as "
                "output_split_sizes.",
            )

    def wrap(self, name: str, orig: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(orig)
        counter = self

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(counter._depth, "n", 0)
            if depth > 0:  # called from inside another collective: counted there
                return orig(*args, **kwargs)
            counter._depth.n = depth + 1
            try:
                try:
                    bound = sig.bind(*args, **kwargs)
                    bound.apply_defaults()
                    a = dict(bound.arguments)
                except TypeError:
                    return orig(*args, **kwargs)  # let torch report the wrong call
                group = a.get("group")
                n = counter.dist.get_world_size(group)
                me = counter.dist.get_rank(group)
                info = counter._estimate(name, a, n, me)
                record = {"phase": counter.phase, "op": name, **info}
                calls = counter.status.data["calls"]
                if len(calls) < MAX_RECORDED_CALLS:
                    calls.append(record)
                else:
                    counter.status.data["calls_not_recorded"] = (
                        counter.status.data.get("calls_not_recorded", 0) + 1
                    )
                bytes_sent = counter.status.data["bytes_sent"]
                if counter.phase in bytes_sent:
                    bytes_sent[counter.phase] += int(info["bytes_sent"])
                counter.status.write()  # before the collective: a crash inside leaves a trace
                if name in ("all_to_all_single", "all_to_all") and n == counter.world:
                    counter._check_splits(name, a, info, n)
                if name == "all_to_all_single":
                    counter.a2a.append(
                        (
                            info["in_splits"],
                            info["out_splits"],
                            info["row_bytes"],
                            PHASES.index(counter.phase) if counter.phase in PHASES else -1,
                        )
                    )
                return orig(*args, **kwargs)
            finally:
                counter._depth.n = depth

        wrapper.__wrapped__ = orig  # type: ignore[attr-defined]
        wrapper.__signature__ = sig  # type: ignore[attr-defined]
        return wrapper

    def install(self) -> None:
        from torch.distributed import distributed_c10d

        for name in COUNTED:
            orig = getattr(distributed_c10d, name, None)
            if orig is None:
                continue
            wrapped = self.wrap(name, orig)
            setattr(distributed_c10d, name, wrapped)
            if getattr(self.dist, name, None) is orig:
                setattr(self.dist, name, wrapped)

    def arrays(self) -> dict[str, np.ndarray]:
        n = self.world
        return {
            "a2a_in_splits": np.array([c[0] for c in self.a2a], dtype=np.int64).reshape(-1, n),
            "a2a_out_splits": np.array([c[1] for c in self.a2a], dtype=np.int64).reshape(-1, n),
            "a2a_row_bytes": np.array([c[2] for c in self.a2a], dtype=np.int64),
            "a2a_phase": np.array([c[3] for c in self.a2a], dtype=np.int64),
            "bytes_sent": np.array(
                [self.status.data["bytes_sent"][p] for p in PHASES], dtype=np.int64
            ),
        }


COUNTED = (
    "all_to_all_single",
    "all_to_all",
    "all_reduce",
    "all_gather",
    "all_gather_into_tensor",
    "reduce_scatter",
    "reduce_scatter_tensor",
    "broadcast",
    "reduce",
    "gather",
    "scatter",
    "send",
    "isend",
)

# -- running the submission ----------------------------------------------------------------------


def describe_error(exc: BaseException, submission: Path) -> dict[str, Any]:
    if isinstance(exc, HarnessError):
        return {"kind": exc.kind, "type": "", "message": str(exc)[:4000], "traceback": ""}
    try:
        from grader import errors

        error = errors.describe(exc, submission)
    except ImportError:  # the grader is not importable: describe it here
        error = {
            "kind": "not_implemented" if isinstance(exc, NotImplementedError) else "exception",
            "type": type(exc).__name__,
            "message": str(exc)[:4000],
            "traceback": "".join(traceback.format_tb(exc.__traceback__))[-4000:],
        }
    text = str(exc).lower()
    from_backend = "gloo" in text or type(exc).__name__.startswith("Dist")
    if from_backend and any(words in text for words in PEER_GONE):
        error["kind"] = "deadlock"
        error["message"] = (
            "a collective waited for another rank past the time limit, or that rank left "
            "while this one waited: does every rank call the same collectives in the same "
            "order (a rank with no tokens too)? " + str(exc)
        )[:4000]
    return error


# What gloo says when a peer never comes (the time limit) or has gone (exited, crashed).
PEER_GONE = ("timed out", "timeout", "connection closed by peer", "connection reset by peer")


def load_submission(path: Path, needed: Sequence[str]) -> Any:
    spec = importlib.util.spec_from_file_location("submission", path)
    if spec is None or spec.loader is None:
        raise HarnessError("missing_file", f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["submission"] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise HarnessError("syntax_error", f"{exc.msg} (line {exc.lineno})") from exc
    except NotImplementedError:
        raise
    except Exception as exc:
        raise HarnessError("import_error", f"{type(exc).__name__}: {exc}") from exc
    missing = [name for name in needed if not callable(getattr(module, name, None))]
    if missing:
        raise HarnessError("missing_function", f"the submission has no {', '.join(missing)}")
    return module


def as_rows(value: Any, what: str, d: int) -> np.ndarray:
    """A returned tensor, checked (plain float32 torch.Tensor, 2-D, d columns), on the host."""
    import torch

    if type(value) is not torch.Tensor:
        raise HarnessError("type", f"{what} must be a torch.Tensor, got {type(value).__name__}")
    if value.dtype != torch.float32:
        raise HarnessError("dtype", f"{what} must be float32 like the tokens, got {value.dtype}")
    if value.dim() != 2 or value.shape[1] != d:
        raise HarnessError("shape", f"{what} must have shape (rows, {d}), got {tuple(value.shape)}")
    return value.detach().to("cpu").numpy().copy()


def run_rank(args: argparse.Namespace) -> int:
    import torch
    import torch.distributed as dist

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    status = Status(out, rank, world)
    submission = Path(args.submission).resolve()
    parts = [p for p in args.parts.split(",") if p]
    try:
        unknown = [p for p in parts if p not in PARTS]
        if unknown:
            raise HarnessError("infrastructure", f"unknown parts {unknown}; known: {list(PARTS)}")
        timeout = datetime.timedelta(seconds=args.timeout_s)
        if args.backend == "nccl":
            torch.cuda.set_device(local_rank)
        # Starting up (importing torch on a busy machine) may take longer than a collective
        # is allowed to: the default group waits STARTUP_TIMEOUT_S; the group handed to the
        # submission, and the side group of the split checks, wait --timeout-s.
        startup = datetime.timedelta(seconds=max(STARTUP_TIMEOUT_S, args.timeout_s))
        dist.init_process_group(args.backend, timeout=startup)
        work = dist.new_group(timeout=timeout)
        side = dist.new_group(backend="gloo", timeout=timeout)
        device = torch.device(f"cuda:{local_rank}" if args.backend == "nccl" else "cpu")
        p = dist_inputs.problem(args.seed, world)
        host = dist_inputs.rank_inputs(args.seed, world, rank)
        counter = Counter(status, side, world, rank)
        counter.install()  # before the import: `from torch.distributed import ...` sees it
        status.stage("import")
        module = load_submission(submission, [f for part in parts for f in PARTS[part]])
    except BaseException as exc:
        status.data.update(state="error", error=describe_error(exc, submission))
        status.write()
        os._exit(1)

    outputs: dict[str, np.ndarray] = {}
    try:
        group = work
        if "moe" in parts:
            scale, bias = (torch.from_numpy(a).to(device) for a in dist_inputs.expert_params(p))
            names = ("tokens", "expert_ids", "gates")
            given = {k: torch.from_numpy(host[k]).to(device) for k in names}
            copies = {k: v.clone() for k, v in given.items()}
            counter.phase = "dispatch"
            status.stage("dispatch")
            result = module.dispatch(
                given["tokens"], given["expert_ids"], given["gates"], p.num_experts, group
            )
            if not isinstance(result, tuple) or len(result) != 2:
                raise HarnessError("type", "dispatch must return a pair (expert_inputs, metadata)")
            expert_inputs, metadata = result
            if not isinstance(expert_inputs, (list, tuple)):
                raise HarnessError(
                    "type",
                    "dispatch must return expert_inputs as a list with one tensor per local "
                    f"expert, got {type(expert_inputs).__name__}",
                )
            if len(expert_inputs) != p.experts_per_rank:
                raise HarnessError(
                    "shape",
                    f"dispatch returned {len(expert_inputs)} expert inputs; this rank holds "
                    f"{p.experts_per_rank} experts",
                )
            expert_outputs = []
            for j, rows in enumerate(expert_inputs):
                outputs[f"expert_in_{j}"] = as_rows(rows, f"expert_inputs[{j}]", p.d_model)
                e = rank * p.experts_per_rank + j
                expert_outputs.append(rows.detach().clone() * scale[e] + bias[e])
            counter.phase = "combine"
            status.stage("combine")
            combined = module.combine(expert_outputs, metadata, group)
            outputs["combined"] = as_rows(combined, "combine's result", p.d_model)
            for k, v in given.items():
                if not torch.equal(v, copies[k]):
                    raise HarnessError(
                        "modified_input", f"dispatch or combine changed its input {k!r}"
                    )
        if "tp" in parts:
            names = ("x", "w1_shard", "w2_shard")
            given = {k: torch.from_numpy(host[k]).to(device) for k in names}
            copies = {k: v.clone() for k, v in given.items()}
            counter.phase = "tp"
            status.stage("tp")
            y = module.tp_mlp_forward(given["x"], given["w1_shard"], given["w2_shard"], group)
            outputs["tp_out"] = as_rows(y, "tp_mlp_forward's result", p.d_model)
            for k, v in given.items():
                if not torch.equal(v, copies[k]):
                    raise HarnessError("modified_input", f"tp_mlp_forward changed its input {k!r}")
        counter.phase = "done"
        status.stage("write")
        outputs.update(counter.arrays())
        tmp = out / f"rank{rank}.tmp.npz"
        np.savez(tmp, **outputs)
        os.replace(tmp, out / f"rank{rank}.npz")
    except BaseException as exc:
        status.data.update(state="error", error=describe_error(exc, submission))
        status.write()
        os._exit(1)
    status.data["state"] = "ok"
    status.write()
    dist.destroy_process_group()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submission", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--backend", default="gloo", choices=("gloo", "nccl"))
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--parts", default="moe,tp", help="comma-separated: moe, tp")
    parser.add_argument("--timeout-s", type=float, default=DEFAULT_TIMEOUT_S)
    return run_rank(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
