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
