"""The orchestrator's page as a reader sees it: nbconvert's HTML in headless Chromium.

The browser loads local files only; any other request is aborted and fails
the test, so the page is shown to need nothing from the network. A screenshot
is kept in ``test-artifacts/summary.png``.

Without Chromium the test is skipped on a workstation but fails in CI
(``CI=true``), where ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from notebook_factory import write_pipeline

pytestmark = pytest.mark.usefixtures("python3_kernel")

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must install it (see .ci/run)")

    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        _unavailable("chromium is not installed")

    assert path is not None
    return path


@pytest.fixture(scope="module")
def browser_page(chromium: str) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")

    with (
        tempfile.TemporaryDirectory() as profile,
        sync_playwright() as playwright,
    ):
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        yield context.new_page()
        context.close()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample project with one failing pipeline and one bad tag, run and
    rendered by nbconvert without input, as Posit Connect shows it."""
    project = tmp_path_factory.mktemp("browser") / "project"
    for name in ("pipelines", "data"):
        shutil.copytree(REPO / name, project / name)

    shutil.copy(REPO / "orchestrator.ipynb", project / "orchestrator.ipynb")
    write_pipeline(
        project / "pipelines",
        "flaky_source",
        {"frequency": "1 hour"},
        "",
        ["import json", "json.loads('{not json')"],
    )
    write_pipeline(project / "pipelines", "bad_tag", {"frequency": "every full moon"})
    executed = _run_orchestrator(project)
    return _to_html(project, executed)


def _run_orchestrator(project: Path) -> Path:
    executed = project / "runs" / "orchestrator.ipynb"
    executed.parent.mkdir()
    parameters = ["-p", "run_all", "True", "-p", "orch_frequency", "1 hour"]
    command = [sys.executable, "-m", "papermill", "orchestrator.ipynb", str(executed)]
    result = subprocess.run(
        [*command, *parameters], cwd=project, capture_output=True, text=True
    )
    # The orchestrator raises at the end because flaky_source failed.
    assert result.returncode == 1, result.stderr[-3000:]
    return executed


def _to_html(project: Path, executed: Path) -> Path:
    # nbconvert's template asks a CDN for require.js and MathJax; the page needs
    # neither, so empty local files stand in and the browser stays offline.
    (project / "offline-stub.js").write_text("")
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "nbconvert",
        "--to",
        "html",
        "--no-input",
        "--HTMLExporter.require_js_url=offline-stub.js",
        "--HTMLExporter.mathjax_url=offline-stub.js",
        "--output-dir",
        str(project),
        "--output",
        "summary_page",
        str(executed),
    ]
    subprocess.run(command, check=True, capture_output=True)
    return project / "summary_page.html"


def test_summary_page_in_headless_chromium(rendered: Path, browser_page: Any) -> None:
    page = browser_page
    problems: list[str] = []
    blocked: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))

    def offline(route: Any) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", offline)
    page.goto(rendered.as_uri(), wait_until="load")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "summary.png"), full_page=True)

    assert problems == [] and blocked == []
    runs = page.locator("table.maestro-runs")
    assert runs.is_visible()
    table_text = runs.inner_text()
    for notebook in (rendered.parent / "pipelines").glob("*.ipynb"):
        if notebook.stem != "bad_tag":
            assert notebook.stem in table_text
    assert runs.locator(".maestro-failed").inner_text() == "\u2716 failed"
    timeline = page.locator(".maestro-chart img").first
    assert timeline.is_visible()
    assert timeline.evaluate("img => img.naturalWidth") > 500
    failure = page.locator("details.maestro-failure")
    assert failure.get_attribute("open") is None
    assert "JSONDecodeError" in failure.locator("summary").inner_text()
    assert "bad_tag.ipynb" in page.locator("table.maestro-build-errors").inner_text()
    for href in runs.locator("a").evaluate_all("links => links.map(a => a.href)"):
        assert Path(href.removeprefix("file://")).is_file(), href
