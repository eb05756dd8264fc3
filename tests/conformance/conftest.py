from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent))

CONFORMANCE_TALLY: Counter[str] = Counter()


@pytest.fixture
def tally() -> Counter[str]:
    """Counts of conformance items checked, printed at the end of the run."""
    return CONFORMANCE_TALLY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not CONFORMANCE_TALLY:
        return

    terminalreporter.section("conformance")
    for key in sorted(CONFORMANCE_TALLY):
        terminalreporter.write_line(f"{key}: {CONFORMANCE_TALLY[key]}")
