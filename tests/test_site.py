"""The site's files, rendered with render_site from small synthetic archives."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from site_data import CONFIG, donation

from archive_builder.release.model import ReleaseInfo, Withdrawal
from archive_builder.site import render_site
from archive_builder.site.facts import age_band
from archive_builder.sitefiles import SiteWriter


def build(root: Path, donations: list, **kwargs) -> SiteWriter:  # type: ignore[type-arg]
    site = SiteWriter(root / "site")
    render_site(CONFIG, donations, site, **kwargs)
    site.finish()
    return site


def read(root: Path, relpath: str) -> str:
    return (root / "site" / relpath).read_text(encoding="utf-8")


# <link> relations that name an identifier (FAIR Signposting) and load nothing; a page's
# describedby, item and linkset links point to its own files, so they stay relative.
IDENTIFIER_LINKS = {
    f"link:{rel}" for rel in ("canonical", "cite-as", "type", "license", "author", "collection")
}


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                rel = dict(attrs).get("rel") or ""
                self.links.append((f"{tag}:{rel}", name, value))


@pytest.mark.parametrize(
    ("age", "band"), [("0", "0-9"), ("9", "0-9"), ("52", "50-59"), ("89", "80-89"), ("90+", "90+")]
)
def test_age_bands(age: str, band: str) -> None:
    assert age_band(age) == band


def test_every_kind_of_page_is_written(tmp_path: Path) -> None:
    donations = [donation(n) for n in range(3)]
    build(tmp_path, donations, withdrawals=[Withdrawal("don-gone", "2026-11-02")])
    for page in (
        "index.html",
        "browse/index.html",
        "browse/index.json",
        "statistics/index.html",
        "releases/index.html",
        "catalog/index.html",
        "methods/index.html",
        "donors/index.html",
        f"datasets/{donations[0].public_id}/index.html",
        "datasets/don-gone/index.html",
        "sitemap.xml",
        "robots.txt",
        "pagefind/",
    ):
        assert (tmp_path / "site" / page).exists(), page


def test_links_are_relative_and_resources_local(tmp_path: Path) -> None:
    build(tmp_path, [donation(n) for n in range(3)])
    pages = sorted((tmp_path / "site").rglob("*.html"))
    assert len(pages) >= 10
    for page in pages:
        if page.name == "404.html":
            continue  # served at any depth: its links start at the base path (test_pages)
        parser = Links()
        parser.feed(page.read_text(encoding="utf-8"))
        for tag, _attribute, value in parser.links:
            assert not value.startswith("/"), f"{page}: {value} is root-relative"
            if tag.startswith("a:") or tag in IDENTIFIER_LINKS:
                continue  # links a reader follows, or identifiers (signposting); loading nothing
            assert not re.match(r"^[a-z]+:", value) or value == "data:,", f"{page}: loads {value}"
        text = page.read_text(encoding="utf-8")
        assert "Content-Security-Policy" in text and "default-src 'self'" in text


def test_donation_and_maintainer_text_is_escaped(tmp_path: Path) -> None:
    evil = donation(
        1,
        study={
            "anatomical_region": "HEAD",
            "diagnoses": [{"system": "ICD-10", "code": "G43.9", "display": "<script>x()</script>"}],
        },
    )
    build(tmp_path, [evil])
    page = read(tmp_path, f"datasets/{evil.public_id}/index.html")
    assert "<script>x()</script>" not in page
    assert "&lt;script&gt;x()&lt;/script&gt;" in page
    browse = read(tmp_path, "browse/index.html")
    assert "&lt;script&gt;x()" in browse and "<script>x()" not in browse
    home = read(tmp_path, "index.html")
    assert "<strong>donated</strong>" in home  # Markdown works...
    assert "&lt;script&gt;alert" in home and "<script>alert" not in home  # ...raw HTML does not


def test_browse_is_paginated_without_javascript(tmp_path: Path) -> None:
    build(tmp_path, [donation(n) for n in range(250)])
    first, third = read(tmp_path, "browse/index.html"), read(tmp_path, "browse/page-3.html")
    assert first.count('<tr><td><a href="../datasets/') == 100
    assert third.count('<tr><td><a href="../datasets/') == 50
    assert 'rel="next" href="page-2.html"' in first
    assert 'rel="prev" href="page-2.html"' in third and 'rel="next"' not in third
    assert "250 donations; page 3 of 3" in third


def test_releases_and_tombstones(tmp_path: Path) -> None:
    donations = [donation(n) for n in range(3)]
    gone = donations[2].public_id
    releases = [
        ReleaseInfo(
            "1.0.0",
            "2026-10-01",
            "First *release*.",
            "10.12345/a.1",
            added=tuple(d.public_id for d in donations),
        ),
        ReleaseInfo("1.1.0", "2026-11-15", "Second.", None, withdrawn=(gone,)),
    ]
    build(tmp_path, donations, releases=releases, withdrawals=[Withdrawal(gone, "2026-11-10")])
    page = read(tmp_path, "releases/index.html")
    assert page.index("Release 1.1.0") < page.index("Release 1.0.0")  # newest first
    assert "<em>release</em>" in page
    assert 'href="https://doi.org/10.12345/a.1"' in page
    assert "Test Publisher (2026). Test Archive (Version 1.0.0) [Data set]." in page
    tomb = read(tmp_path, f"datasets/{gone}/index.html")
    assert "was withdrawn" in tomb and "2026-11-10" in tomb and "noindex" in tomb
    assert gone not in read(tmp_path, "browse/index.json")
    assert gone not in read(tmp_path, "sitemap.xml")
    kept = read(tmp_path, f"datasets/{donations[0].public_id}/index.html")
    assert 'releases/1.0.0/index.html">1.0.0</a>' in kept
    assert "Release 1.1.0</a> of 2026-11-15" in read(tmp_path, "index.html")


def test_statistics_with_and_without_offers(tmp_path: Path) -> None:
    donations = [donation(n) for n in range(12)]
    build(tmp_path, donations)
    page = read(tmp_path, "statistics/index.html")
    assert "No offers data yet" in page
    assert page.count('role="img"') == 4 and page.count("<title id=") == 4
    offers = [
        {
            "date": "2026-10-03",
            "modality": "CT",
            "anatomical_region": "HEAD",
            "offered": 30,
            "accepted": 6,
            "declined": 24,
        },
        {
            "date": "2026-10-20",
            "modality": "MR",
            "anatomical_region": "HEAD",
            "offered": 10,
            "accepted": 4,
            "declined": 6,
        },
    ]
    build(tmp_path, donations, offers=offers)
    page = read(tmp_path, "statistics/index.html")
    assert "No offers data yet" not in page
    assert (
        "From 2026-10-03 to 2026-10-20, 10 of the 40 patients offered the donation button "
        "donated: 25.0% (95% CI 14.2% to 40.2%, Wilson score interval)." in page
    )
    assert '<th scope="row">2026-10</th><td>10</td><td>40</td><td>25.0%</td>' in page
    # MR HEAD had 4 donors: withheld, and CT HEAD with it, or subtraction would show it
    assert page.count("withheld to protect privacy</td>") == 2
    pilot = read(tmp_path, "pilot/index.html")
    assert "<dt>Numerator</dt>" in pilot and "14.2%" in pilot


def test_sitemap_robots_and_canonical_links(tmp_path: Path) -> None:
    d = donation(1)
    build(tmp_path, [d])
    sitemap = read(tmp_path, "sitemap.xml")
    assert f"<loc>https://data.example.org/archive/datasets/{d.public_id}/</loc>" in sitemap
    assert "<loc>https://data.example.org/archive/browse/</loc>" in sitemap
    assert "Sitemap: https://data.example.org/archive/sitemap.xml" in read(tmp_path, "robots.txt")
    page = read(tmp_path, f"datasets/{d.public_id}/index.html")
    canonical = (
        f'<link rel="canonical" href="https://data.example.org/archive/datasets/{d.public_id}/">'
    )
    assert canonical in page


def test_template_override_wins(tmp_path: Path) -> None:
    overrides = tmp_path / "templates"
    overrides.mkdir()
    (overrides / "donors.html").write_text(
        '{% extends "base.html" %}{% block main %}<h1>Our own words</h1>{% endblock %}'
    )
    build(tmp_path, [donation(1)], overrides=overrides)
    assert "Our own words" in read(tmp_path, "donors/index.html")


def test_rebuild_rewrites_only_what_changed(tmp_path: Path) -> None:
    cache = tmp_path / ".cache"
    donations = [donation(n) for n in range(20)]
    build(tmp_path, donations, cache=cache)
    again = build(tmp_path, donations, cache=cache)
    assert again.changed == set()
    new = donation(99)
    after = build(tmp_path, [*donations, new], cache=cache)
    assert f"datasets/{new.public_id}/index.html" in after.changed
    assert {"index.html", "browse/index.html", "browse/index.json", "sitemap.xml"} <= after.changed
    other_pages = {f"datasets/{d.public_id}/index.html" for d in donations}
    assert not other_pages & after.changed
    assert any(p.startswith("pagefind/") for p in after.changed)
    # a changed template renders every page again
    overrides = tmp_path / "templates"
    overrides.mkdir()
    (overrides / "tombstone.html").write_text("{{ w.public_id }}")
    changed = build(tmp_path, [*donations, new], cache=cache, overrides=overrides)
    assert "index.html" in changed.written
