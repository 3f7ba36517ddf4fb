"""The researcher's path, in a real Chromium, on a published archive served over HTTP.

Ten donations made from the demo's studies (its CT studies twice, with other
ages and sexes) are ingested, built and published into a real DataLad store;
the site is served on the port its base URL names. The tests filter a cohort on
the cohort page, download its manifests, fetch exactly those files with DataLad
and with the URL list, and compare every SHA-256 with the catalog.
"""

from __future__ import annotations

import hashlib
import html
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from browser_support import Watched, chromium_path, overflow, serious_violations
from conftest import run_cli
from playwright.sync_api import expect

from archive_builder.demo import STUDIES, make_packages
from archive_builder.serve import make_server, url_of

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SCRIPTS = Path(sysconfig.get_path("scripts"))
SWAP = {"M": "F", "F": "M"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def researcher_env(home: Path) -> dict[str, str]:
    """A researcher's shell: this virtualenv's python, datalad and git-annex on PATH."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": f"{SCRIPTS}:{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_AUTHOR_NAME": "A Researcher",
        "GIT_AUTHOR_EMAIL": "researcher@university.example",
        "GIT_COMMITTER_NAME": "A Researcher",
        "GIT_COMMITTER_EMAIL": "researcher@university.example",
    }


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    chromium_path()
    port = free_port()
    root = tmp_path_factory.mktemp("researcher") / "archive"
    init = run_cli("init", root, "--name", "Cohort Test", "--base-url", f"http://127.0.0.1:{port}/")
    assert init.exit_code == 0, init.output
    # The demo's seven studies, and its CT studies once more, 25 years younger, other sex.
    again = [
        replace(
            s, donation_id=f"{s.donation_id}-again", age_years=s.age_years - 25, sex=SWAP[s.sex]
        )
        for s in STUDIES
        if "-ct-" in s.donation_id
    ]
    studies = [*STUDIES, *again]
    packages = make_packages(tmp_path_factory.mktemp("packages"), studies)
    ingest = run_cli("ingest", root, "-q", *packages)
    assert ingest.exit_code == 0, ingest.output
    build = run_cli("build", root, "-q")
    assert build.exit_code == 0, build.output
    site = root / "site"
    server = make_server(site, port=port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"url": url_of(server), "site": site, "root": root}
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(browser: Any) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    yield Watched(context.new_page())
    context.close()


def head_ct_40_to_70(site: Path) -> tuple[set[str], int, dict[str, str]]:
    """The cohort computed from the catalogs with pyarrow: donations, files, path -> sha256."""
    donations = pq.read_table(site / "catalog/donations.parquet").to_pylist()
    wanted = {
        d["public_id"]
        for d in donations
        if d["anatomical_region"] == "HEAD" and d["age"] is not None and 40 <= d["age"] <= 70
    }
    files = {
        f"{i['public_id']}/{i['path']}": i["sha256"]
        for i in pq.read_table(site / "catalog/instances.parquet").to_pylist()
        if i["public_id"] in wanted and i["Modality"] == "CT"
    }
    return {f.split("/")[0] for f in files}, len(files), files


def ready(p: Any) -> None:
    expect(p.locator("#status")).to_contain_text("selected", timeout=60_000)


def download(p: Any, button: str, folder: Path) -> Path:
    with p.expect_download() as info:
        p.locator(button).click()
    target = folder / info.value.suggested_filename
    info.value.save_as(target)
    return target


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_researcher_filters_downloads_and_fetches_exactly_the_cohort(
    published: dict[str, Any], page: Watched, tmp_path: Path
) -> None:
    p, site = page.page, published["site"]
    donations, count, files = head_ct_40_to_70(site)
    assert len(donations) >= 2 and count >= 3  # enough to tell a cohort from a donation
    p.goto(published["url"] + "cohort/index.html")
    ready(p)
    p.locator('input[name="region"][value="HEAD"]').check()
    p.locator('input[name="modality"][value="CT"]').check()
    p.fill("#age_min", "40")
    p.fill("#age_max", "70")
    expect(p.locator("#n-files")).to_have_text(str(count))
    expect(p.locator("#n-donations")).to_have_text(str(len(donations)))
    shown = set(p.locator("#shown tbody tr td:first-child").all_inner_texts())
    assert shown == donations
    assert "d.anatomical_region IN ('HEAD')" in p.locator("#sql").input_value()

    got = tmp_path / "page"
    got.mkdir()
    script = download(p, "#get-script", got)
    manifest = download(p, "#get-csv", got)
    urls = download(p, "#get-urls", got)
    rows = [line.split(",") for line in manifest.read_text().splitlines()[1:]]
    assert {f"{r[0]}/{r[1]}": r[3] for r in rows} == files

    # The command line, given the page's address, writes the very same files.
    cli = run_cli("cohort", published["url"], "--url", p.url, "-o", tmp_path / "cli")
    assert cli.exit_code == 0, cli.output
    for made in (script, manifest, urls):
        assert (tmp_path / "cli" / made.name).read_bytes() == made.read_bytes(), made.name

    # DataLad over HTTP: exactly the selected files arrive, each as the catalog says.
    env = researcher_env(tmp_path / "home")
    run = subprocess.run(
        ["sh", str(script), "clone"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    clone = tmp_path / "clone"
    present = {
        f.relative_to(clone).as_posix()
        for f in clone.glob("don-*/series-*/*.dcm")
        if f.exists()  # an annexed file without its content is a dangling link
    }
    assert present == set(files)
    assert {name: sha256(clone / name) for name in present} == files

    # The URL list, with no DataLad at all.
    listed = urls.read_text().split()
    assert len(listed) == count
    fetched = set()
    for url in listed:
        with urllib.request.urlopen(url) as response:
            fetched.add(hashlib.sha256(response.read()).hexdigest())
    assert fetched == set(files.values())
    assert page.errors == [] and page.foreign() == []


def test_the_query_is_kept_in_the_address(published: dict[str, Any], page: Watched) -> None:
    p = page.page
    p.goto(published["url"] + "cohort/index.html")
    ready(p)
    p.locator('input[name="sex"][value="F"]').check()
    expect(p.locator("#sql")).to_have_value(re.compile("d.sex IN \\('F'\\)"))
    shared, counts = p.url, None
    expect(p).to_have_url(re.compile("sex=F"))
    shared = p.url
    counts = p.locator(".counts").inner_text()
    again = p.context.new_page()
    again.goto(shared)
    ready(again)
    expect(again.locator(".counts")).to_have_text(counts)
    assert again.locator('input[name="sex"][value="F"]').is_checked()


def test_a_malformed_query_shows_the_engine_message(
    published: dict[str, Any], page: Watched
) -> None:
    p = page.page
    p.goto(published["url"] + "cohort/index.html")
    ready(p)
    p.fill("#sql", "SELEC public_id FROM donations")
    p.locator("#run").click()
    expect(p.locator("#sql-error")).to_contain_text("Parser Error: syntax error")
    assert p.locator("#sql").get_attribute("aria-invalid") == "true"
    p.fill("#sql", "SELECT age FROM donations")
    p.locator("#run").click()
    expect(p.locator("#sql-error")).to_contain_text("must return a public_id column")
    p.fill("#sql", "SELECT public_id FROM donations WHERE sex = 'M'")
    p.locator("#run").click()
    expect(p.locator("#sql-error")).to_be_empty()
    expect(p.locator("#status")).to_contain_text("selected")


def test_a_catalog_of_another_schema_version_is_named(
    published: dict[str, Any], browser: Any, tmp_path: Path
) -> None:
    site = published["site"]
    other = tmp_path / "site"
    for name in ("cohort", "catalog"):
        shutil.copytree(site / name, other / name)
    for name in ("cohort.js", "style.css", "copy.js", "index.html"):
        shutil.copy(site / name, other / name)
    table = pq.read_table(other / "catalog/instances.parquet")
    old = table.replace_schema_metadata({**table.schema.metadata, b"schema_version": b"1"})
    pq.write_table(old, other / "catalog/instances.parquet", compression="zstd")
    server = make_server(other, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        p = browser.new_page()
        p.goto(url_of(server) + "cohort/index.html")
        expect(p.locator("#sql-error")).to_contain_text(
            "instances.parquet has schema version 1; this page expects schema version",
            timeout=60_000,
        )
        p.close()
    finally:
        server.shutdown()
        server.server_close()


def test_cohort_page_fits_a_phone_and_passes_axe(published: dict[str, Any], browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    p = context.new_page()
    p.goto(published["url"] + "cohort/index.html")
    ready(p)
    fit = overflow(p)
    assert fit["page"] <= 390 and fit["wide"] == [], fit
    assert serious_violations(p) == []
    context.close()


def test_only_the_cohort_page_loads_the_engine(published: dict[str, Any], page: Watched) -> None:
    for path in ("index.html", "browse/index.html", "catalog/index.html"):
        page.page.goto(published["url"] + path)
        page.page.wait_for_load_state("networkidle")
    assert not [u for u in page.requests if "/engine/" in u or u.endswith("cohort.js")]


def test_without_javascript_the_page_says_what_it_needs(
    published: dict[str, Any], browser: Any
) -> None:
    context = browser.new_context(java_script_enabled=False)
    p = context.new_page()
    p.goto(published["url"] + "cohort/index.html")
    assert "needs JavaScript" in p.locator("#needs").inner_text()
    assert not p.locator("#filters").is_visible()
    for name in ("donations", "series", "instances"):
        link = p.get_by_role("link", name=f"{name}.parquet")
        assert link.get_attribute("href") == f"../catalog/{name}.parquet"
    context.close()


def test_catalog_snippets_run_as_written(published: dict[str, Any], tmp_path: Path) -> None:
    """Each snippet, copied from the page, run in Python as a researcher would."""
    text = (published["site"] / "catalog/index.html").read_text(encoding="utf-8")

    def snippet(name: str) -> str:
        found = re.search(f'<code id="snippet-{name}">(.*?)</code>', text, re.S)
        assert found, name
        return html.unescape(found.group(1))

    env = researcher_env(tmp_path / "home")
    donations, _, files = head_ct_40_to_70(published["site"])
    pandas = subprocess.run(
        [sys.executable, "-c", snippet("pandas")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert pandas.returncode == 0, pandas.stderr
    assert {pid for pid in donations if pid in pandas.stdout} == donations
    session = snippet("duckdb") + "\n" + snippet("get")
    both = subprocess.run(
        [sys.executable, "-c", session], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert both.returncode == 0, both.stdout + both.stderr
    assert sorted(
        line.split()[1] for line in both.stdout.splitlines() if line.startswith("ok ")
    ) == sorted(files)
