"""Site benchmark: 10,000 synthetic donations (metadata only).

    .venv/bin/python benchmarks/bench_site.py [--donations 10000]

Measures, against a baseline in the same run:
- a full render (cold cache) and a rebuild after adding one donation, with the
  page cache (what `build` does) and without it (the baseline: render everything);
- the bytes Chromium transfers to show the home and browse pages;
- the time from typing a query to results in Chromium, first and later queries;
- the cohort page over a 500,000-instance catalog (the same 10,000 donations' ids,
  50 files each, written by the catalog writer as `build` does): bytes transferred
  before its first result, time from loading the page to the first result, and time
  for a filter change; as the baseline, downloading the three catalogs in full.
Targets: rebuild after one donation < 5 s; home page < 300 KB; search < 200 ms;
cohort page first result < 2 s, filter change < 300 ms, nothing loaded by other pages.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench_catalog import synthetic_donations
from browser_support import CHROMIUM_ARGS
from site_data import CONFIG, donation

from archive_builder.catalog import write_catalogs
from archive_builder.release.model import ReleaseInfo
from archive_builder.serve import make_server, url_of
from archive_builder.site import render_site
from archive_builder.sitefiles import SiteWriter, stage, swap

# A first release of the first 5,000 donations: release pages and donation versions render too.
RELEASES = [
    ReleaseInfo(
        "1.0.0",
        "2026-10-01",
        "First release.",
        added=tuple(donation(i).public_id for i in range(5000)),
    )
]
# Recorded from the first moment of the page: when its status first reports a selection.
FIRST_RESULT = """new MutationObserver((changes, observer) => {
  const status = document.getElementById("status");
  if (status && status.textContent.includes("selected")) {
    window.firstResult = performance.now();
    observer.disconnect();
  }
}).observe(document, { childList: true, characterData: true, subtree: true });"""

CHANGE_FILTER = """(value) => new Promise((resolve) => {
  const status = document.getElementById("status");
  const t0 = performance.now();
  const done = new MutationObserver(() => {
    if (!status.textContent.includes("selected")) return;
    done.disconnect();
    resolve(performance.now() - t0);
  });
  done.observe(status, { childList: true, characterData: true, subtree: true });
  document.querySelector(`input[name="region"][value="${value}"]`).click();
})"""

TYPE_QUERY = """(query) => new Promise((resolve) => {
  const status = document.getElementById("status");  // set last, once results are shown
  const t0 = performance.now();
  const done = new MutationObserver(() => { done.disconnect(); resolve(performance.now() - t0); });
  done.observe(status, { childList: true, characterData: true, subtree: true });
  const box = document.getElementById("q");
  box.value = query;
  box.dispatchEvent(new Event("input", { bubbles: true }));
})"""


def timed_build(root: Path, donations: list[Any], cache: Path | None) -> tuple[float, int]:
    """As `build` writes pages: into a hard-linked copy of the live site, swapped in whole.

    As after a finished build, with nothing published to a store (there is none
    here), staging compares nothing: the twin is the live site.
    """
    start = time.perf_counter()
    site = SiteWriter(stage(root, changed=[] if root.is_dir() else None))
    render_site(CONFIG, donations, site, releases=RELEASES, cache=cache)
    removed = site.finish()
    swap(site.root, root, touched=[*site.changed, *removed])
    return time.perf_counter() - start, len(site.changed)


def timed_swap(root: Path) -> tuple[float, int]:
    """Staging by comparing the whole tree (a listing per folder, as after a killed
    build) and the swap alone, nothing rendered."""
    start = time.perf_counter()
    partial = stage(root)
    swap(partial, root)
    return time.perf_counter() - start, sum(1 for p in root.rglob("*") if p.is_file())


def transferred(request: Any) -> int:
    sizes = request.sizes()
    return int(sizes["responseBodySize"] + sizes["responseHeadersSize"])


def cohort_numbers(browser: Any, base: str) -> dict[str, float]:
    numbers: dict[str, float] = {}
    start = time.perf_counter()
    for table in ("donations", "series", "instances"):
        with urllib.request.urlopen(f"{base}catalog/{table}.parquet") as response:
            numbers["baseline: the three catalogs downloaded in full, bytes"] = numbers.get(
                "baseline: the three catalogs downloaded in full, bytes", 0
            ) + len(response.read())
    numbers["baseline: the three catalogs downloaded in full, ms"] = (
        time.perf_counter() - start
    ) * 1000
    page = browser.new_page()
    page.add_init_script(FIRST_RESULT)
    finished: list[Any] = []
    page.on("requestfinished", lambda r: r.url.startswith("http") and finished.append(r))
    page.goto(base + "cohort/index.html")
    page.wait_for_function("() => window.firstResult !== undefined", timeout=120_000)
    numbers["cohort page, bytes transferred before the first result"] = sum(
        transferred(r) for r in finished
    )
    numbers["cohort page, load to first result, ms"] = page.evaluate("window.firstResult")
    changes = [
        page.evaluate(CHANGE_FILTER, region) for region in ("HEAD", "CHEST", "HEAD", "KNEE", "KNEE")
    ]
    numbers["cohort page, filter change (median of 5) ms"] = statistics.median(changes)
    page.close()
    return numbers


def browser_numbers(site: Path) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    server = make_server(site, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = url_of(server)
    numbers: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for name, path in (("home", "index.html"), ("browse", "browse/index.html")):
            page = browser.new_page()
            finished: list[Any] = []
            page.on(
                "requestfinished",
                lambda r, f=finished: r.url.startswith("http") and f.append(r),  # sized later
            )
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            numbers[f"{name} page, bytes transferred"] = sum(transferred(r) for r in finished)
            page.close()
        # The first query of a reader, in five fresh pages (one page's first query is
        # noisy); then later queries in the last page.
        queries = ("pneumonia", "migraine", "gonarthrosis", "knee", "prostate", "axial")
        firsts = []
        for query in queries[:5]:
            page = browser.new_page()
            page.goto(base + "browse/index.html")
            page.focus("#q")  # the page fetches the index and the search as the box gets focus
            page.wait_for_load_state("networkidle")
            firsts.append(page.evaluate(TYPE_QUERY, query))
            if query != queries[4]:
                page.close()
        later = [page.evaluate(TYPE_QUERY, q) for q in queries if q != queries[4]]
        page.close()
        numbers["search, first query after focusing the box (median of 5 pages), ms"] = (
            statistics.median(firsts)
        )
        numbers["search, later queries (median of 5) ms"] = statistics.median(later)
        numbers.update(cohort_numbers(browser, base))
        browser.close()
    server.shutdown()
    return numbers


def shown(name: str, value: float) -> tuple[str, str]:
    if "cohort" in name or "baseline" in name:
        target = {"first result": "target < 2 s", "filter change": "target < 300 ms"}
        if "bytes" in name:
            return f"{value / 1e6:.1f} MB", ""
        note = next((t for key, t in target.items() if key in name), "")
        return f"{value:.0f} ms", note
    if "bytes" in name:
        return f"{value / 1000:.0f} KB", "target < 300 KB"
    return f"{value:.0f} ms", "target < 200 ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--donations", type=int, default=10_000)
    n = parser.parse_args().donations
    donations = [donation(i) for i in range(n)]
    extra = donation(n)
    rows: list[tuple[str, str, str]] = []
    print(f"rendering {n} donations...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root, cache = Path(tmp) / "site", Path(tmp) / ".cache"
        full, files = timed_build(root, donations, cache)
        rows.append((f"full build, {n} donations (cold cache)", f"{full:.1f} s", f"{files} files"))
        same, changed = timed_build(root, donations, cache)
        rows.append(("rebuild, nothing changed", f"{same:.1f} s", f"{changed} files rewritten"))
        plus, changed = timed_build(root, [*donations, extra], cache)
        rows.append(
            (
                "rebuild after one more donation",
                f"{plus:.1f} s (target < 5 s)",
                f"{changed} files rewritten",
            )
        )
        staged, count = timed_swap(root)
        rows.append(
            ("  staging, whole tree compared, and swap alone", f"{staged:.1f} s", f"{count} files")
        )
        base_root = Path(tmp) / "baseline"
        timed_build(base_root, donations, None)
        baseline, changed = timed_build(base_root, [*donations, extra], None)
        rows.append(
            (
                "  baseline: same, without the cache",
                f"{baseline:.1f} s",
                f"{changed} files rewritten",
            )
        )
        first = donation(1).public_id
        for label, relpath in (
            ("donation page (3 DICOM files), bytes", f"datasets/{first}/index.html"),
            ("`_headers` (a Link header per landing page)", "_headers"),
        ):
            size = (root / relpath).stat().st_size
            rows.append((label, f"{size / 1000:,.0f} KB", "uncompressed"))
        print(f"writing a {n * 50}-instance catalog...", file=sys.stderr, flush=True)
        # Written beside the rendered pages, as build does (no finish(): the pages stay).
        write_catalogs(CONFIG, synthetic_donations(n * 50), SiteWriter(root))
        print("measuring in Chromium...", file=sys.stderr, flush=True)
        for name, value in browser_numbers(root).items():
            rows.append((name, *shown(name, value)))
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure':<{width}} | value | note |")
    print(f"|{'-' * (width + 2)}|---|---|")
    for measure, value, note in rows:
        print(f"| {measure:<{width}} | {value} | {note} |")


if __name__ == "__main__":
    main()
