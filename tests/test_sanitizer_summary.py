from pathlib import Path

from grader.sanitizer import summarize_sanitizer

# Captured on the lent H200 (2026-11-21): compute-sanitizer memcheck on a numba kernel that
# writes 4 GB past its array.
CAPTURED = (Path(__file__).parent / "fixtures" / "sanitizer_h200.txt").read_text()


def test_the_first_error_and_the_kernels_readable_name_are_kept():
    summary = summarize_sanitizer(CAPTURED)
    assert summary.startswith("compute-sanitizer: Invalid __global__ write of size 4 bytes")
    assert "in kernel `bad`" in summary
    assert "abi:v1" not in summary


def test_nothing_to_say_without_sanitizer_lines():
    assert summarize_sanitizer("ordinary output\n") == ""


def test_a_driver_api_error_before_the_memory_error_is_passed_over():
    # The API error lines are as the H200 printed them (2026-11-21); the memory error after
    # them is the shape of the one in sanitizer_h200.txt, for a kernel named saxpy_kernel.
    text = (Path(__file__).parent / "fixtures" / "sanitizer_h200_api_error_first.txt").read_text()
    summary = summarize_sanitizer(text)
    assert summary.startswith("compute-sanitizer: Invalid __global__ write of size 4 bytes")
    assert "in kernel `saxpy_kernel`" in summary and "cuGetProcAddress" not in summary
