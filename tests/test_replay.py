"""Record and replay, without a GPU: what a recording says about a call's parameters, and the
checks the grader applies to a recording before its worker loads anything of it."""

from __future__ import annotations

import copy
import ctypes
import hashlib

import numpy as np
import pytest

from grader.record import Recorder, _encode
from grader.replay import RecordingError, check_recording

CUBIN = b"\x7fELF pretend cubin bytes"
SHA = hashlib.sha256(CUBIN).hexdigest()
BUFFERS = {"in.x": 4096, "out": 8192 + 2 * 4096, "scalar.a": 0}


def _recording() -> tuple[dict, dict]:
    header = {
        "ops": [
            {
                "op": "launch",
                "module": SHA,
                "entry": "_ZN10submission6kernelB2v1E",
                "grid": [4, 1, 1],
                "block": [256, 1, 1],
                "shared": 0,
                "params": [
                    {"size": 8, "hex": "00" * 8},
                    {"size": 8, "buffer": "in.x", "offset": 0},
                    {"size": 8, "buffer": "out", "offset": 4096},
                    {"size": 4, "input": "a", "as": "float32"},
                    {"size": 8, "scratch": 0, "offset": 16},
                ],
            },
            {"op": "memset", "dst": {"scratch": 0, "offset": 0}, "value": 0, "size": 64},
            {
                "op": "copy",
                "dst": {"buffer": "out", "offset": 4096},
                "src": {"buffer": "in.x", "offset": 0},
                "size": 4096,
            },
        ],
        "scratch": [{"size": 64}],
        "error": "",
    }
    arrays = {f"module.{SHA}": np.frombuffer(CUBIN, np.uint8), "scratch.0": np.zeros(64, np.uint8)}
    return header, arrays


def test_a_wellformed_recording_passes() -> None:
    header, arrays = _recording()
    check_recording(header, arrays, BUFFERS)


def _broken(change) -> tuple[dict, dict]:
    header, arrays = _recording()
    header = copy.deepcopy(header)
    arrays = dict(arrays)
    change(header, arrays)
    return header, arrays


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda h, a: a.pop(f"module.{SHA}"), "does not carry"),
        (lambda h, a: a.__setitem__(f"module.{SHA}", np.zeros(3, np.uint8)), "hash"),
        (lambda h, a: h["ops"][0].__setitem__("entry", "cutlass_80_sgemm_kernel"), "library"),
        (lambda h, a: h["ops"][0].__setitem__("entry", "sm90_xmma_gemm_f32f32"), "library"),
        (lambda h, a: h["ops"][0].__setitem__("grid", [1, 70000, 1]), "grid"),
        (lambda h, a: h["ops"][0].__setitem__("block", [1024, 2, 1]), "thread count"),
        (lambda h, a: h["ops"][0].__setitem__("shared", 1 << 20), "shared memory"),
        (
            lambda h, a: h["ops"][0]["params"].append({"size": 8, "buffer": "in.z", "offset": 0}),
            "unknown buffer",
        ),
        (
            lambda h, a: h["ops"][0]["params"].append(
                {"size": 8, "buffer": "in.x", "offset": 5000}
            ),
            "offset",
        ),
        (
            lambda h, a: h["ops"][0]["params"].append({"size": 4, "input": "b", "as": "float32"}),
            "unknown input",
        ),
        (
            lambda h, a: h["ops"][0]["params"].append(
                {"size": 8, "buffer": "scalar.a", "offset": 0}
            ),
            "unknown buffer",
        ),
        (lambda h, a: h["ops"][0]["params"].append({"size": 4, "hex": "zz" * 4}), "malformed"),
        (lambda h, a: h["ops"][0]["params"].append({"size": True, "hex": "00"}), "size"),
        (lambda h, a: a.__setitem__("scratch.0", np.zeros(63, np.uint8)), "snapshot"),
        (lambda h, a: h["ops"][2].__setitem__("size", 1 << 20), "past the end"),
        (lambda h, a: h["ops"].append({"op": "exec", "code": "rm -rf /"}), "unknown operation"),
        (lambda h, a: h["ops"].extend([h["ops"][1]] * 5000), "malformed"),
        (lambda h, a: h.__setitem__("error", "a kernel parameter could not be read"), "could not"),
    ],
)
def test_a_malformed_or_hostile_recording_is_refused_with_a_reason(change, words) -> None:
    header, arrays = _broken(change)
    with pytest.raises(RecordingError, match=words):
        check_recording(header, arrays, BUFFERS)


def test_parameters_are_recorded_as_buffers_scalars_or_bytes() -> None:
    recorder = Recorder()
    with recorder.recording({"in.x": (0x7F0000000000, 4096)}, {"a": np.float32(1.5)}):
        inside = recorder._param(0x7F0000000000 + 64)
        pointer = recorder._param(ctypes.c_void_p(0x7F0000000000 + 128))
        scalar = recorder._param(ctypes.c_float(1.5))
        widened = recorder._param(1.5)  # a Python float: cuda.core passes a double
        size = recorder._param(1000)
        other = recorder._param(ctypes.c_float(2.5))
    assert inside == {"size": 8, "buffer": "in.x", "offset": 64}
    assert pointer == {"size": 8, "buffer": "in.x", "offset": 128}
    assert scalar == {"size": 4, "input": "a", "as": "float32"}
    assert widened == {"size": 8, "input": "a", "as": "float64"}
    assert size == {"size": 8, "hex": (1000).to_bytes(8, "little").hex()}
    assert other == {"size": 4, "hex": np.float32(2.5).tobytes().hex()}


def test_scalars_encode_only_where_they_fit() -> None:
    assert _encode(np.float32(2.0), "int32") == np.int32(2).tobytes()
    assert _encode(np.float32(2.5), "int32") is None
    assert _encode("text", "float32") is None
