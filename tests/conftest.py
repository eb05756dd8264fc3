"""Shared fixtures: a Jupyter kernel the pipeline runs can start."""

from __future__ import annotations

import subprocess
import sys

import pytest
from jupyter_client.kernelspec import KernelSpecManager


@pytest.fixture(scope="session")
def python3_kernel() -> str:
    """Make sure a ``python3`` kernelspec exists (a fresh venv may lack one)."""
    if "python3" not in KernelSpecManager().find_kernel_specs():
        subprocess.run(
            [sys.executable, "-m", "ipykernel", "install", "--sys-prefix"],
            check=True,
            capture_output=True,
        )

    return "python3"
