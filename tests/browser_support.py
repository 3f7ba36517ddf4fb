"""Real Chromium for the browser tests: found, or a clear skip (a failure in CI)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def chromium_path() -> str:
    """Debian's Chromium, or skip (fail when CI=true) saying how to get it."""
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    problem = None
    if not Path(found).is_file():
        problem = "Chromium is not installed (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is missing (pip install '.[test]')"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run in CI: {problem}")
        pytest.skip(f"browser tests skipped: {problem}")
    return found


def axe_source() -> str:
    """axe-core, as the axe-playwright-python package (a test dependency) ships it."""
    try:
        import axe_playwright_python
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("axe-playwright-python (which ships axe-core) is missing")
        pytest.skip("axe-core missing: pip install '.[test]'")
    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text("utf-8")
