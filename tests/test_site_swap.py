"""Readers never see a half-built site: a crawler follows every link while builds add donations."""

from __future__ import annotations

import re
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
from conftest import run_cli, sample

from archive_builder.serve import make_server

pytestmark = pytest.mark.slow

LINK = re.compile(r'(?:href|src)="([^"]+)"')


def crawl(base: str) -> tuple[int, list[str]]:
    """Follow every link of the site from its home page; return (pages seen, broken links)."""
    seen: set[str] = set()
    queue = [base]
    broken = []
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                body = response.read()
                kind = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            broken.append(f"{url}: {exc.code}")
            continue
        if "text/html" not in kind:
            continue
        for link in LINK.findall(body.decode("utf-8", "replace")):
            target = urldefrag(urljoin(url, link.replace("&amp;", "&")))[0].split("?")[0]
            if target.startswith(base) and not urlsplit(target).path.startswith("/store/"):
                queue.append(target)
    return len(seen), broken


def test_a_reader_following_links_during_builds_meets_no_404(
    archive_dir: Path, make_package
) -> None:
    assert run_cli("ingest", archive_dir, make_package([sample("CT_small.dcm")])).exit_code == 0
    assert run_cli("build", archive_dir).exit_code == 0
    server = make_server(archive_dir / "site", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    done = threading.Event()
    crawls: list[tuple[int, list[str]]] = []

    def reader() -> None:
        while not done.is_set() and len(crawls) < 500:
            crawls.append(crawl(base))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for name in ("CT_small.dcm", "CT_small.dcm", "CT_small.dcm"):
            package = make_package([sample(name)])
            assert run_cli("ingest", archive_dir, package).exit_code == 0
            result = run_cli("build", archive_dir)
            assert result.exit_code == 0, result.output
    finally:
        done.set()
        thread.join()
        server.shutdown()
        server.server_close()
    broken = [link for _, links in crawls for link in links]
    assert len(crawls) >= 3, "the reader must have crawled the site while it was rebuilt"
    assert broken == []
    assert crawls[-1][0] > 20  # pages seen in one crawl: the whole site, not its home alone
