import json
import os

import numpy as np
import pytest

from grader.channel import MAGIC, FrameReader, FrameWriter

TOKEN = b"0123456789abcdef"


def _roundtrip(header, arrays, token=TOKEN, chunk=None):
    read_fd, write_fd = os.pipe()
    FrameWriter(write_fd, token).send(header, arrays)
    os.close(write_fd)
    data = b""
    while piece := os.read(read_fd, 1 << 16):
        data += piece
    os.close(read_fd)
    reader = FrameReader(TOKEN)
    frames = []
    step = chunk or len(data)
    for i in range(0, len(data), step):
        frames += reader.feed(data[i : i + step])
    return reader, frames


def test_frames_carry_header_and_arrays_intact_even_when_fed_byte_by_byte():
    arrays = {"out": np.arange(7, dtype=np.float32), "m": np.eye(3, dtype=np.int64)}
    reader, frames = _roundtrip({"type": "case", "x": 1.5}, arrays, chunk=1)
    assert reader.error is None and len(frames) == 1
    frame = frames[0]
    assert frame.type == "case" and frame.header["x"] == 1.5
    np.testing.assert_array_equal(frame.arrays["out"], arrays["out"])
    np.testing.assert_array_equal(frame.arrays["m"], arrays["m"])
    assert reader.pending_bytes == 0


def test_a_frame_with_another_token_marks_the_channel_as_forged():
    reader, frames = _roundtrip({"type": "done"}, {}, token=b"x" * 16)
    assert frames == [] and "forged" in reader.error


def test_bytes_that_are_not_a_frame_mark_the_channel():
    reader = FrameReader(TOKEN)
    assert reader.feed(b"hello from a print statement\n") == []
    assert "not a grader frame" in reader.error


def test_object_arrays_are_refused_so_nothing_is_unpickled():
    header = {"type": "case", "arrays": [{"name": "evil", "dtype": "|O", "shape": [1]}]}
    encoded = json.dumps(header).encode()
    raw = MAGIC + TOKEN + len(encoded).to_bytes(4, "little") + encoded
    raw += (8).to_bytes(8, "little") + b"\0" * 8
    reader = FrameReader(TOKEN)
    assert reader.feed(raw) == []
    assert "not allowed" in reader.error


@pytest.mark.parametrize("shape", [[3], [-1], [2, 2]])
def test_an_array_whose_size_disagrees_with_its_shape_is_refused(shape):
    header = {"type": "case", "arrays": [{"name": "a", "dtype": "<f4", "shape": shape}]}
    encoded = json.dumps(header).encode()
    raw = MAGIC + TOKEN + len(encoded).to_bytes(4, "little") + encoded
    raw += (8).to_bytes(8, "little") + b"\0" * 8  # 2 floats, not what the shape says
    reader = FrameReader(TOKEN)
    reader.feed(raw)
    assert reader.error is not None


def test_a_large_frame_arriving_in_small_reads_is_parsed_once_in_linear_time():
    import time

    big = {"a": np.zeros(4 << 20, np.float32), "b": np.ones(4 << 20, np.float32)}
    read_fd, write_fd = os.pipe()
    import threading

    writer = threading.Thread(
        target=lambda: (FrameWriter(write_fd, TOKEN).send({"t": 1}, big), os.close(write_fd))
    )
    writer.start()
    reader = FrameReader(TOKEN)
    frames = []
    started = time.perf_counter()
    while piece := os.read(read_fd, 1 << 16):  # 64 KiB at a time, as a default pipe gives
        frames += reader.feed(piece)
    writer.join()
    os.close(read_fd)
    assert len(frames) == 1 and frames[0].arrays["b"].sum() == 4 << 20
    assert time.perf_counter() - started < 5.0


def test_a_flood_is_stopped_at_the_cap_and_the_reader_holds_no_more() -> None:
    from grader.channel import FrameReader, encode

    token = b"t" * 16
    reader = FrameReader(token, max_total_bytes=1 << 20)
    frame = encode({"type": "progress"}, {"junk": np.zeros(500_000, np.uint8)}, token)
    for _ in range(3):
        reader.feed(frame)
    assert reader.error and "MiB" in reader.error and reader.pending_bytes == 0
    assert reader.feed(frame) == []


def test_header_text_is_made_valid_and_bounded() -> None:
    from grader.channel import MAX_TEXT, FrameReader, encode

    token = b"t" * 16
    reader = FrameReader(token)
    raw = encode(
        {"type": "case", "message": "\ud800 [red]boom[/red]" + "x" * (2 * MAX_TEXT)}, {}, token
    )
    (frame,) = reader.feed(raw)
    message = frame.header["message"]
    assert message.startswith("? [red]boom[/red]") and len(message) == MAX_TEXT
    message.encode("utf-8")  # writable as UTF-8: no lone surrogate left


def test_a_header_nested_too_deep_is_refused() -> None:
    from grader.channel import FrameReader, encode

    token = b"t" * 16
    nested: dict = {}
    inner = nested
    for _ in range(40):
        inner["a"] = {}
        inner = inner["a"]
    reader = FrameReader(token)
    assert reader.feed(encode({"type": "case", "deep": nested}, {}, token)) == []
    assert reader.error and "nested" in reader.error


# -- header values the grader computes with --------------------------------------------------


def _raw(header_json: str, token: bytes = TOKEN) -> bytes:
    """A frame whose header is exactly this JSON text (what a forger in the child can write)."""
    encoded = header_json.encode()
    return MAGIC + token + len(encoded).to_bytes(4, "little") + encoded


def test_integers_too_large_for_the_grader_arrive_as_text_not_numbers() -> None:
    from grader.channel import OUT_OF_RANGE

    header = (
        '{"type": "case", "value": 1' + "0" * 400 + ', "low": -' + "9" * 30 + ", "
        '"nested": {"a": [2' + "0" * 30 + ', 1]}, "fits": [9223372036854775807, '
        '-9223372036854775808, 18446744073709551615], "big_float": 1e400}'
    )
    (frame,) = FrameReader(TOKEN).feed(_raw(header))
    h = frame.header
    assert h["value"] == OUT_OF_RANGE and h["low"] == OUT_OF_RANGE
    assert h["nested"]["a"] == [OUT_OF_RANGE, 1]
    assert h["fits"] == [2**63 - 1, -(2**63), 2**64 - 1]
    assert h["big_float"] == float("inf")  # a float: no overflow in float arithmetic


@pytest.mark.parametrize(
    "routing",
    [
        '"task": []',
        '"task": {"a": 1}',
        '"task": 3',
        '"case": null',
        '"bench": ["x"]',
        '"status": 1',
        '"type": ["case"]',
        '"call": "0"',
        '"call": true',
        '"call": 0.0',
        '"call": 1' + "0" * 30,
    ],
)
def test_a_routing_key_of_the_wrong_type_makes_the_frame_malformed(routing: str) -> None:
    reader = FrameReader(TOKEN)
    frames = reader.feed(
        _raw('{"type": "case", "task": "t", "case": "c", "call": 0, ' + routing + "}")
    )
    assert frames == [] and reader.error and "frame's" in reader.error


def test_routing_keys_of_the_right_type_pass() -> None:
    header = '{"type": "case", "task": "t", "case": "c", "call": 2, "status": "returned"}'
    (frame,) = FrameReader(TOKEN).feed(_raw(header))
    assert frame.header["call"] == 2


# -- memory: what a header costs once parsed ------------------------------------------------------


def test_a_header_of_too_many_values_is_refused_even_under_the_size_cap() -> None:
    from grader.channel import MAX_HEADER_BYTES, MAX_NODES

    # ~1 MB of "{}, ": 18 MB of Python objects once parsed, were it kept.
    header = {"type": "junk", **{k: [{}] * 85_000 for k in "abc"}}
    raw = json.dumps(header)
    assert len(raw) < MAX_HEADER_BYTES
    reader = FrameReader(TOKEN)
    assert reader.feed(_raw(raw)) == []
    assert reader.error and f"more than {MAX_NODES} values" in reader.error


def test_keys_count_as_values_too() -> None:
    from grader.channel import MAX_NODES

    header = {"type": "junk", "a": {str(i): 0 for i in range(MAX_NODES // 2 + 1)}}
    reader = FrameReader(TOKEN)
    assert reader.feed(_raw(json.dumps(header))) == [] and "values" in reader.error


def test_the_values_of_all_headers_of_one_process_are_bounded(monkeypatch) -> None:
    import grader.channel as channel

    monkeypatch.setattr(channel, "MAX_TOTAL_NODES", 10_000)
    frame = channel.encode({"type": "junk", "a": [{}] * 3_000}, {}, TOKEN)
    reader = FrameReader(TOKEN)
    kept = []
    for _ in range(10):
        kept += reader.feed(frame)
    assert len(kept) == 3  # 3 x ~3 000 values fit; the 4th frame would pass 10 000
    assert reader.error and "values in all" in reader.error and "limit" in reader.error
    assert reader.feed(frame) == [] and reader.pending_bytes == 0


def test_the_header_bytes_of_one_process_are_bounded(monkeypatch) -> None:
    import grader.channel as channel

    monkeypatch.setattr(channel, "MAX_TOTAL_HEADER_BYTES", 100_000)
    frame = channel.encode({"type": "junk", "text": "x" * 15_000}, {}, TOKEN)
    reader = FrameReader(TOKEN)
    kept = []
    for _ in range(10):
        kept += reader.feed(frame)
    assert 5 <= len(kept) <= 6
    assert reader.error and "of frame headers" in reader.error


def test_a_header_split_across_reads_is_counted_once(monkeypatch) -> None:
    import grader.channel as channel

    monkeypatch.setattr(channel, "MAX_TOTAL_NODES", 7_000)
    frame = channel.encode({"type": "x", "a": [0] * 3_000}, {"big": np.zeros(50_000)}, TOKEN)
    reader = FrameReader(TOKEN)
    kept = []
    for _ in range(2):  # each frame fed in small pieces: its header is parsed several times
        for i in range(0, len(frame), 4096):
            kept += reader.feed(frame[i : i + 4096])
    assert len(kept) == 2 and reader.error is None
