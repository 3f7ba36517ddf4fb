"""Real Chromium for the browser tests: found, or a clear skip (a failure in CI)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

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


class Watched:
    """A page whose console errors and requests are recorded."""

    def __init__(self, page: Any):
        self.page = page
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))

    def foreign(self) -> list[str]:
        return [
            u
            for u in self.requests
            if urlparse(u).scheme not in ("data", "blob") and urlparse(u).hostname != "127.0.0.1"
        ]


def serious_violations(page: Any) -> list[str]:
    page.evaluate(axe_source() + "\n;true")  # through DevTools: the page's CSP forbids inline
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


# Elements that stick out of the viewport and are not inside a box that scrolls on its own.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth, out = [];
  const scrolls = (el) => { for (let p = el.parentElement; p; p = p.parentElement) {
    const x = getComputedStyle(p).overflowX; if (x === "auto" || x === "scroll") return true; }
    return false; };
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    if (box.right > width + 0.5 && el.offsetParent !== null && !scrolls(el))
      out.push(`${el.tagName}${el.id ? "#" + el.id : ""} to ${Math.round(box.right)}px`);
  }
  return {page: document.documentElement.scrollWidth, width, wide: out.slice(0, 5)};
}"""


def overflow(page: Any) -> dict[str, Any]:
    """How the page fits its viewport: its scroll width and what sticks out."""
    result: dict[str, Any] = page.evaluate(OVERFLOW)
    return result
