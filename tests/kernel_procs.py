"""Find kernel processes a test left behind, by scanning /proc."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def kernels_of(marker: str) -> list[int]:
    """Return the pids of live ipykernel processes that mention ``marker``.

    A kernel is found through its environment (every run's kernel is told
    its files under the test's folder) or its parent chain, so one that
    outlived its orchestrator and was adopted by init is still found.
    """
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _is_kernel_of(entry, marker):
            found.append(int(entry.name))

    return found


def _is_kernel_of(proc: Path, marker: str) -> bool:
    try:
        cmdline = (proc / "cmdline").read_bytes()
        if b"ipykernel" not in cmdline or _is_zombie(proc):
            return False

        environ = (proc / "environ").read_bytes()
    except OSError:
        return False

    return marker.encode() in environ or _descends_from(proc, os.getpid())


def _is_zombie(proc: Path) -> bool:
    status = (proc / "stat").read_text()
    return status.rsplit(")", 1)[1].split()[0] == "Z"


def _descends_from(proc: Path, ancestor: int) -> bool:
    pid = int(proc.name)
    for _ in range(20):
        if pid == ancestor:
            return True

        if pid <= 1:
            return False

        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False

        pid = int(stat.rsplit(")", 1)[1].split()[1])

    return False


def wait_for_no_kernels(marker: str, seconds: float = 10.0) -> list[int]:
    """Wait until no kernel of ``marker`` is left; return those still there."""
    deadline = time.monotonic() + seconds
    left = kernels_of(marker)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = kernels_of(marker)

    return left


@pytest.fixture
def no_orphan_kernels(tmp_path: Path) -> Iterator[Path]:
    """Fail the test if a kernel it started is still running afterwards."""
    yield tmp_path
    left = wait_for_no_kernels(str(tmp_path))
    assert not left, f"kernel processes left behind: {left}"
