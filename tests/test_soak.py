"""A few soak rounds: faults at random, and no run ever lost or misreported."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from kernel_procs import no_orphan_kernels  # noqa: F401  (a fixture)

pytestmark = pytest.mark.usefixtures("python3_kernel", "no_orphan_kernels")

SOAK = Path(__file__).parents[1] / "benchmarks" / "soak.py"


def test_a_few_rounds_of_random_faults_lose_no_run(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("soak", SOAK)
    assert spec is not None and spec.loader is not None
    soak = importlib.util.module_from_spec(spec)
    sys.modules["soak"] = soak
    spec.loader.exec_module(soak)

    result = soak.soak(rounds=3, notebooks=6, folder=tmp_path, seed=3)

    assert result.runs >= 3
    assert result.lost == []
    assert result.misreported == []
    assert result.orphan_kernels == 0
