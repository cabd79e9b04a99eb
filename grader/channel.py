"""The result channel from a child process to the grader: framed JSON headers and raw arrays.

The parent never unpickles anything a child sent: a pickle from a submission's process would
run the submission's code in the grader. Frames are JSON plus raw numeric buffers, parsed with a
dtype whitelist. Each frame carries a per-run token that the child received on stdin; a frame
with a wrong token, or bytes that are not a frame, mark the channel as tampered with.

Layout of one frame::

    b"CWB1" | token (16 B) | header length (u32) | header JSON | per array: length (u64) | bytes
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAGIC = b"CWB1"
TOKEN_BYTES = 16
_PREFIX = struct.Struct("<4s16sI")
_LENGTH = struct.Struct("<Q")
MAX_HEADER_BYTES = 1 << 20
MAX_ARRAY_BYTES = 1 << 30  # one array (lab 0's largest is 40 MB)
DEFAULT_TOTAL_BYTES = (
    1 << 30
)  # all one process may send (lab 0's check: 12 B x 2 calls x 11.1M elements)
MAX_TEXT = 20_000  # characters of any one string in a header
MAX_ITEMS = 100_000  # entries of any one list or object in a header
MAX_DEPTH = 12
# Parsed JSON costs far more than its text ("{}," is 3 bytes, an empty dict 64), and the parent
# keeps every frame of a phase: the values (and keys) of one header, and of all the headers one
# process sends, are bounded, and so are all its header bytes (arrays have their own cap).
MAX_NODES = 100_000  # JSON values and keys in one header (honest ones: a few thousand)
MAX_TOTAL_NODES = 2_000_000  # in all the headers of one process (~150 MB of objects at most)
MAX_TOTAL_HEADER_BYTES = 64 << 20  # JSON text of all the headers of one process
# Integers a header may hold: what fits in int64 or uint64. A larger one (JSON allows any)
# would overflow float() in the grader, so it arrives as this text instead of a number.
MIN_INT, MAX_INT = -(2**63), 2**64 - 1
OUT_OF_RANGE = "<integer out of range>"
# The keys the grader routes frames by: a frame whose routing key has another type is not one
# the harness wrote (a list as "task" would not even be a dictionary key).
ROUTING_TEXT = ("type", "task", "case", "bench", "status")
ROUTING_INT = ("call",)
ALLOWED_DTYPE_KINDS = "biufc"  # bool, int, uint, float, complex: never object or void


@dataclass
class Frame:
    header: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def type(self) -> str:
        return str(self.header.get("type", ""))


def encode(header: dict[str, Any], arrays: dict[str, np.ndarray] | None, token: bytes) -> bytes:
    """One frame's bytes: prefix, JSON header (with the arrays' descriptions), raw arrays."""
    contiguous = {name: np.ascontiguousarray(a) for name, a in (arrays or {}).items()}
    header = dict(header)
    header["arrays"] = [
        {"name": name, "dtype": a.dtype.str, "shape": list(a.shape)}
        for name, a in contiguous.items()
    ]
    encoded = json.dumps(header, allow_nan=True).encode()
    parts = [_PREFIX.pack(MAGIC, token, len(encoded)), encoded]
    for a in contiguous.values():
        parts.append(_LENGTH.pack(a.nbytes))
        parts.append(a.tobytes())
    return b"".join(parts)


class FrameWriter:
    """Child side: writes frames to an inherited pipe."""

    def __init__(self, fd: int, token: bytes):
        self._fd = fd
        self._token = token

    def send(self, header: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> None:
        view = memoryview(encode(header, arrays, self._token))
        while view:
            written = os.write(self._fd, view)
            view = view[written:]


class ChannelError(Exception):
    """The bytes on the channel are not frames this run's harness wrote."""


def clean(value: Any, depth: int = 0, budget: list[int] | None = None) -> Any:
    """A header's JSON value made safe to show, to store and to compute with: every string
    valid Unicode (an unpaired surrogate becomes U+FFFD) and at most ``MAX_TEXT`` characters;
    every integer within int64/uint64 (a larger one becomes the text ``OUT_OF_RANGE``); lists
    and objects bounded in size and depth, and at most ``MAX_NODES`` values and keys in all
    (``budget``, a one-item list, counts what is left). Raises ChannelError for what no
    harness would send."""
    if budget is None:
        budget = [MAX_NODES]
    budget[0] -= 1
    if budget[0] < 0:
        raise ChannelError(f"a frame header holds more than {MAX_NODES} values")
    if depth > MAX_DEPTH:
        raise ChannelError("a frame header is nested too deeply")
    if isinstance(value, str):
        text = value[:MAX_TEXT]
        return text.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if MIN_INT <= value <= MAX_INT else OUT_OF_RANGE
    if isinstance(value, list):
        if len(value) > MAX_ITEMS:
            raise ChannelError(f"a frame header holds a list of {len(value)} items")
        return [clean(v, depth + 1, budget) for v in value]
    if isinstance(value, dict):
        if len(value) > MAX_ITEMS:
            raise ChannelError(f"a frame header holds an object of {len(value)} keys")
        budget[0] -= len(value)  # the keys
        return {
            clean(str(k), depth + 1, budget): clean(v, depth + 1, budget) for k, v in value.items()
        }
    if isinstance(value, float) or value is None:
        return value
    raise ChannelError(f"a frame header holds a {type(value).__name__}")


def clean_header(header: Any, budget: list[int] | None = None) -> dict[str, Any]:
    """A whole header, cleaned (:func:`clean`), with its routing keys checked: ``type``,
    ``task``, ``case``, ``bench`` and ``status`` are text and ``call`` an integer where they
    are present. Raises ChannelError for a header the harness would not write."""
    if not isinstance(header, dict):
        raise ChannelError("a frame header is not a JSON object")
    header = clean(header, budget=budget)
    for key in ROUTING_TEXT:
        if key in header and not isinstance(header[key], str):
            raise ChannelError(f"a frame's {key!r} is not text")
    for key in ROUTING_INT:
        value = header.get(key)
        if key in header and (not isinstance(value, int) or isinstance(value, bool)):
            raise ChannelError(f"a frame's {key!r} is not an integer")
    return header


class FrameReader:
    """Parent side: incremental parser. Feed it bytes as they arrive; it returns whole frames.

    At most ``max_total_bytes`` may arrive in all: a process that floods the channel is stopped
    with an error rather than filling the grader's memory."""

    def __init__(self, token: bytes, max_total_bytes: int | None = None):
        self._token = token
        self._buffer = bytearray()
        self._need = 0  # bytes the frame at the front needs before it is worth parsing again
        self._received = 0
        self._max_total = max_total_bytes or DEFAULT_TOTAL_BYTES
        self._header_bytes = 0  # JSON text of every whole frame so far
        self._nodes = 0  # JSON values and keys of every whole frame so far
        self.error: str | None = None

    def feed(self, data: bytes) -> list[Frame]:
        if self.error:
            return []
        self._received += len(data)
        if self._received > self._max_total:
            self.error = (
                f"more than {self._max_total >> 20} MiB of results were sent: the channel's limit"
            )
            self._buffer.clear()
            return []
        self._buffer += data
        if len(self._buffer) < self._need:
            return []  # a large frame is still arriving: do not re-parse it per pipe read
        frames = []
        try:
            while (frame := self._next_frame()) is not None:
                frames.append(frame)
        except ChannelError as exc:
            self.error = str(exc)
            self._buffer.clear()
        return frames

    @property
    def pending_bytes(self) -> int:
        return len(self._buffer)

    def _next_frame(self) -> Frame | None:
        buf = self._buffer
        if len(buf) < _PREFIX.size:
            if buf and not MAGIC.startswith(bytes(buf[:4])):
                raise ChannelError("bytes that are not a grader frame were written to the channel")
            return None
        magic, token, header_len = _PREFIX.unpack_from(buf)
        if magic != MAGIC:
            raise ChannelError("bytes that are not a grader frame were written to the channel")
        if token != self._token:
            raise ChannelError("a frame with a forged token was written to the channel")
        if header_len > MAX_HEADER_BYTES:
            raise ChannelError(f"a frame header of {header_len} bytes is too large")
        if self._header_bytes + header_len > MAX_TOTAL_HEADER_BYTES:
            raise ChannelError(
                f"more than {MAX_TOTAL_HEADER_BYTES >> 20} MiB of frame headers were sent: "
                "the channel's limit"
            )
        end = _PREFIX.size + header_len
        if len(buf) < end:
            self._need = end
            return None
        try:
            header = json.loads(bytes(buf[_PREFIX.size : end]))
        except (ValueError, RecursionError) as exc:
            raise ChannelError(f"a frame header is not JSON: {exc}") from None
        budget = [MAX_NODES]
        header = clean_header(header, budget)
        nodes = MAX_NODES - budget[0]
        if self._nodes + nodes > MAX_TOTAL_NODES:
            raise ChannelError(
                f"frame headers holding more than {MAX_TOTAL_NODES} values in all were sent: "
                "the channel's limit"
            )
        specs = header.get("arrays", [])
        if not isinstance(specs, list):
            raise ChannelError("a frame's array list is malformed")
        # First find where every array lies, decoding nothing until the whole frame is here.
        spans = []
        offset = end
        for _ in specs:
            if len(buf) < offset + _LENGTH.size:
                self._need = offset + _LENGTH.size
                return None
            (nbytes,) = _LENGTH.unpack_from(buf, offset)
            offset += _LENGTH.size
            if nbytes > MAX_ARRAY_BYTES:
                raise ChannelError(f"an array of {nbytes} bytes is larger than the channel allows")
            spans.append((offset, nbytes))
            offset += nbytes
        if len(buf) < offset:
            self._need = offset
            return None
        arrays = {
            str(spec.get("name")): _decode_array(spec, buf[start : start + nbytes])
            for spec, (start, nbytes) in zip(specs, spans, strict=True)
        }
        del buf[:offset]
        self._need = 0
        self._header_bytes += header_len
        self._nodes += nodes
        return Frame(header, arrays)


def _decode_array(spec: Any, raw: bytearray) -> np.ndarray:
    try:
        dtype = np.dtype(str(spec["dtype"]))
        shape = tuple(int(d) for d in spec["shape"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ChannelError(f"a frame's array description is malformed: {exc}") from None
    if dtype.kind not in ALLOWED_DTYPE_KINDS or dtype.hasobject:
        raise ChannelError(f"dtype {dtype} is not allowed on the channel")
    if any(d < 0 for d in shape) or int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != len(
        raw
    ):
        raise ChannelError("an array's size does not match its shape and dtype")
    return np.frombuffer(raw, dtype=dtype).reshape(shape)  # raw is a fresh slice: no copy
