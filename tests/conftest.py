"""Markers: `gpu` tests run only where a CUDA device answers, and say why they skipped."""

from __future__ import annotations

import functools

import pytest


@functools.cache
def _gpu() -> bool:
    from grader.runner import gpu_available

    return gpu_available()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if any("gpu" in item.keywords for item in items) and not _gpu():
        skip = pytest.mark.skip(reason="needs a CUDA device: none answered on this machine")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
