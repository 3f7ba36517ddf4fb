"""The browse page in a real Chromium, over 160 synthetic donations: search, facets, URL.

Also every kind of page at 390 px wide (a phone): nothing sticks out of the viewport.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

import pytest
from browser_support import Watched, chromium_path, overflow, serious_violations
from playwright.sync_api import expect
from site_data import CONFIG, donation

from archive_builder.release.model import ReleaseInfo, Withdrawal
from archive_builder.serve import make_server, url_of
from archive_builder.site import render_site
from archive_builder.sitefiles import SiteWriter

pytestmark = pytest.mark.browser
COUNT = 160


@pytest.fixture(scope="module")
def site_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    chromium_path()
    donations = [donation(n) for n in range(COUNT)]
    # One donation recorded in British spelling, one coded the same in American spelling.
    donations[7].record["study"]["diagnoses"] = [
        {"system": "ICD-10", "code": "I61.9", "display": "Intracerebral haemorrhage"}
    ]
    donations[8].record["study"]["diagnoses"] = [
        {"system": "ICD-10", "code": "I61.9", "display": "Intracerebral hemorrhage, unspecified"}
    ]
    root = tmp_path_factory.mktemp("browse") / "site"
    site = SiteWriter(root)
    release = ReleaseInfo(
        "1.0.0", "2026-11-01", "First.", None, tuple(d.public_id for d in donations)
    )
    render_site(
        CONFIG,
        donations,
        site,
        releases=[release],
        withdrawals=[Withdrawal("don-gone", "2026-11-02")],
    )
    site.finish()
    server = make_server(root, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield url_of(server)
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(browser: Any) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    yield Watched(context.new_page())
    context.close()


def ids_shown(page: Any) -> list[str]:
    return page.locator("#results tbody tr td:first-child").all_inner_texts()


def search(page: Any, query: str) -> None:
    page.fill("#q", query)
    expect(page.locator("#status")).to_contain_text("match")
    expect(page).to_have_url(re.compile(r"[?&]q=" + re.escape(quote_plus(query)) + "(&|$)"))


def test_search_finds_both_spellings_and_every_label_of_a_code(
    site_url: str, page: Watched
) -> None:
    p = page.page
    p.goto(site_url + "browse/index.html")
    found = {}
    for query in ("hemorrhage", "haemorrhage", "I61.9"):
        search(p, query)
        found[query] = sorted(ids_shown(p))
    assert found["hemorrhage"] == found["haemorrhage"] == found["I61.9"]
    assert sorted([donation(7).public_id, donation(8).public_id]) == found["hemorrhage"]
    assert page.errors == [] and page.foreign() == []


def test_search_matches_ids_exactly_and_no_sex_letter(site_url: str, page: Watched) -> None:
    p = page.page
    p.goto(site_url + "browse/index.html")
    wanted = donation(42).public_id
    search(p, wanted)
    assert ids_shown(p) == [wanted]
    # Migraine is every fourth donation (n % 4 == 0, but for 8), men and women alike.
    search(p, "migraine")
    migraine = sum(1 for n in range(COUNT) if n % 4 == 0 and n != 8)
    expect(p.locator("#status")).to_have_text(f"{migraine} donations match.")
    search(p, "male")  # the word, not a letter: odd donations are men
    assert p.locator("#status").inner_text() == f"{COUNT // 2} donations match."
    assert page.errors == []


def test_results_go_beyond_fifty_and_facets_follow_the_selection(
    site_url: str, page: Watched
) -> None:
    p = page.page
    p.goto(site_url + "browse/index.html")
    search(p, "axial")  # CT and MR donations: two thirds of them
    total = sum(1 for n in range(COUNT) if n % 3 != 2)
    assert p.locator("#status").inner_text() == f"{total} donations match."
    assert len(ids_shown(p)) == 100
    p.locator("#more").click()
    assert len(ids_shown(p)) == total
    # The modality facet now counts only what the search matched: CR has none.
    cr = p.locator('input[name="modality"][value="CR"]').locator("xpath=..")
    expect(cr.locator(".n")).to_have_text("(0)")
    p.locator('input[name="sex"][value="F"]').check()
    expect(p.locator("#status")).to_have_text(
        f"{sum(1 for n in range(COUNT) if n % 3 != 2 and n % 2 == 0)} donations match."
    )
    ct = p.locator('input[name="modality"][value="CT"]').locator("xpath=..")
    expect(ct.locator(".n")).to_have_text(f"({sum(1 for n in range(COUNT) if n % 6 == 0)})")


def test_selection_lives_in_the_url(site_url: str, page: Watched) -> None:
    p = page.page
    p.goto(site_url + "browse/index.html")
    p.locator('input[name="region"][value="KNEE"]').check()
    search(p, "migraine")
    shared = p.url
    assert "region=KNEE" in shared and "q=migraine" in shared
    expected = ids_shown(p)
    assert expected and all(int(k) for k in [len(expected)])
    fresh = p.context.new_page()
    fresh.goto(shared)
    expect(fresh.locator("#status")).to_contain_text(f"{len(expected)} donation")
    assert ids_shown(fresh) == expected
    assert fresh.locator('input[name="region"][value="KNEE"]').is_checked()
    assert fresh.locator("#q").input_value() == "migraine"


PAGES = [
    "index.html",
    "browse/index.html",
    "statistics/index.html",
    "releases/index.html",
    "catalog/index.html",
    "methods/index.html",
    "donors/index.html",
    "404.html",
    f"datasets/{donation(3).public_id}/index.html",
    "datasets/don-gone/index.html",
]


def test_every_page_fits_a_phone(site_url: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    p = context.new_page()
    for path in PAGES:
        p.goto(site_url + path)
        p.wait_for_load_state("networkidle")
        fit = overflow(p)
        assert fit["page"] <= 390 and fit["wide"] == [], f"{path}: {fit}"
    p.goto(site_url + "browse/index.html")
    search(p, "axial")
    fit = overflow(p)
    assert fit["page"] <= 390 and fit["wide"] == [], f"browse after a search: {fit}"
    assert serious_violations(p) == []
    context.close()
