"""The site in a real Chromium, served over real HTTP on 127.0.0.1.

One demo archive (seven real donations) is built per session; a release and a
withdrawal are rendered into it with render_site, as the release commands do.
Every kind of page is opened with axe-core, console errors and requests to
other hosts recorded; screenshots go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import ARTIFACTS, Watched, chromium_path, serious_violations
from conftest import run_cli

from archive_builder.archive import open_archive
from archive_builder.catalog import ledger_path, load_ledger
from archive_builder.pipeline import stored_donations
from archive_builder.release.model import ReleaseInfo, Withdrawal
from archive_builder.serve import make_server, url_of
from archive_builder.site import render_site
from archive_builder.site.pilot import Intake
from archive_builder.sitefiles import SiteWriter

pytestmark = pytest.mark.browser

WITHDRAWN = "don-withdrawn00"


@pytest.fixture(scope="session")
def site_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    chromium_path()  # skip early, before building anything
    root = tmp_path_factory.mktemp("browser") / "demo"
    result = run_cli("demo", root, "--no-serve")
    assert result.exit_code == 0, result.output
    archive = open_archive(root)
    donations = stored_donations(archive.layout)
    release = ReleaseInfo(
        version="1.0.0",
        date="2026-11-01",
        notes="First release: **seven** donations.",
        doi="10.12345/demo.1",
        added=tuple(d.public_id for d in donations),
    )
    site = SiteWriter(archive.layout.site)
    render_site(
        archive.config,
        donations,
        site,
        releases=[release],
        withdrawals=[Withdrawal(WITHDRAWN, "2026-11-10")],
        offers=load_ledger(ledger_path(archive.layout.private)),  # the demo's, version 2
        intake=Intake(refused=6),
    )
    server = make_server(archive.layout.site, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # Served under a sub-path would need a proxy; relative links are checked in test_site.
    yield url_of(server)
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(browser: Any) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    yield Watched(context.new_page())
    context.close()


PAGES = {
    "home": "index.html",
    "browse": "browse/index.html",
    "statistics": "statistics/index.html",
    "pilot": "pilot/index.html",
    "releases": "releases/index.html",
    "release": "releases/1.0.0/index.html",
    "catalog": "catalog/index.html",
    "methods": "methods/index.html",
    "donors": "donors/index.html",
    "tombstone": f"datasets/{WITHDRAWN}/index.html",
}


@pytest.mark.parametrize("name", [*PAGES, "donation"])
def test_page_is_accessible_private_and_clean(site_url: str, page: Watched, name: str) -> None:
    if name == "donation":
        page.page.goto(site_url + "browse/index.html")
        path = page.page.locator("#results tbody a").first.get_attribute("href")
        page.requests.clear()
    else:
        path = PAGES[name]
    response = page.page.goto(site_url + path)
    assert response is not None and response.ok
    page.page.wait_for_load_state("networkidle")
    assert page.page.locator("h1").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    assert serious_violations(page.page) == []
    assert page.errors == []
    assert page.foreign() == []


def test_donation_page_shows_previews_with_alt_text(site_url: str, page: Watched) -> None:
    page.page.goto(site_url + "browse/index.html")
    page.page.locator("#results tbody a").first.click()
    images = page.page.locator(".previews img")
    assert images.count() >= 1
    for i in range(images.count()):
        img = images.nth(i)
        img.scroll_into_view_if_needed()
        expect(img).to_have_js_property("complete", True)
        assert img.evaluate("img => img.naturalWidth") > 0
        assert "Preview of series-" in (img.get_attribute("alt") or "")


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def test_facet_filters_the_list(site_url: str, page: Watched) -> None:
    page.page.goto(site_url + "browse/index.html")
    rows = page.page.locator("#results tbody tr")
    assert rows.count() == 7
    page.page.get_by_label("MR", exact=False).first.check()
    expect(page.page.locator("#status")).to_contain_text("match")
    assert 0 < rows.count() < 7
    for i in range(rows.count()):
        assert "MR" in rows.nth(i).locator("td").nth(4).inner_text()
    assert str(rows.count()) in page.page.locator("#status").inner_text()
    assert page.errors == [] and page.foreign() == []


def test_search_finds_a_diagnosis(site_url: str, page: Watched) -> None:
    page.page.goto(site_url + "browse/index.html")
    page.page.fill("#q", "pneumonia")
    expect(page.page.locator("#status")).to_contain_text("match")
    rows = page.page.locator("#results tbody tr")
    expect(rows).to_have_count(1)
    assert "Pneumonia" in rows.first.inner_text()
    page.page.fill("#q", "zebrafish")
    expect(page.page.locator("#status")).to_contain_text("0 donations match")
    assert rows.count() == 0
    assert page.errors == [] and page.foreign() == []


def test_copy_citation_puts_it_on_the_clipboard(site_url: str, page: Watched) -> None:
    page.page.goto(site_url + "browse/index.html")
    page.page.locator("#results tbody a").first.click()
    text = page.page.locator("#cite-1").inner_text()
    assert "[Data set]" in text
    page.page.get_by_role("button", name="Copy Text").click()
    assert page.page.evaluate("navigator.clipboard.readText()") == text
    bibtex = page.page.get_by_text("BibTeX", exact=True)
    if bibtex.count():
        bibtex.click()
        assert page.page.get_by_role("link", name="Download citation.bib").is_visible()


def test_browse_works_without_javascript(site_url: str, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(site_url + "browse/index.html")
    assert page.locator("#results tbody tr").count() == 7
    assert not page.locator("#filters").is_visible()
    assert not page.get_by_role("button", name="Copy").first.is_visible()
    context.close()


@pytest.mark.parametrize("path", ["statistics/index.html", "pilot/index.html"])
def test_charts_have_text_alternatives(site_url: str, page: Watched, path: str) -> None:
    page.page.goto(site_url + path)
    charts = page.page.locator("svg[role=img]")
    assert charts.count() >= 2
    for i in range(charts.count()):
        chart = charts.nth(i)
        ids = (chart.get_attribute("aria-labelledby") or "").split()
        assert len(ids) == 2
        title, desc = (page.page.locator(f"[id='{x}']").text_content() or "" for x in ids)
        assert title.strip() and len(desc) > 20, (title, desc)
        # and the numbers as a table right after the figure
        table = chart.locator("xpath=ancestor::figure/following-sibling::table[1]")
        assert table.locator("caption").inner_text().endswith("the numbers")
    if path.startswith("statistics"):
        assert "Wilson score interval" in page.page.locator("main").inner_text()
        ages = page.page.locator("table", has_text="Donation rate by age band")
        assert "withheld to protect privacy" in ages.inner_text()
        assert ages.locator("td", has_text="% to ").count() >= 1
    else:
        text = page.page.locator("main").inner_text()
        assert "Primary outcome" in text and "Numerator" in text and "Denominator" in text
        assert "Refused at ingest" in text and "withdrawn since" in text
    assert page.errors == [] and page.foreign() == []
