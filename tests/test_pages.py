"""Page wording, the 404 page and the search documents, from small synthetic archives."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

from site_data import CONFIG, donation

from archive_builder.serve import make_server, url_of
from archive_builder.site import render_site
from archive_builder.site.facts import row_of
from archive_builder.site.searchwords import labels_by_code, search_words, spelling_variants
from archive_builder.site.stats import age_by_sex
from archive_builder.site.wording import commonest, plural
from archive_builder.sitefiles import SiteWriter


def build(root: Path, donations: list) -> Path:  # type: ignore[type-arg]
    site = SiteWriter(root / "site")
    render_site(CONFIG, donations, site)
    site.finish()
    return root / "site"


def test_counts_have_the_right_plural(tmp_path: Path) -> None:
    one = donation(1)
    one.instances[1:] = []
    site = build(tmp_path, [one])
    page = (site / f"datasets/{one.public_id}/index.html").read_text(encoding="utf-8")
    assert "1 DICOM file," in page and "1 DICOM files" not in page
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "1 DICOM files" not in home and "DICOM file<" in home.replace("</li>", "<")
    methods = (site / "methods/index.html").read_text(encoding="utf-8")
    assert "1 donation, 1 DICOM file," in methods
    assert plural(3, "series", "series") == "3 series"


def test_tied_age_bands_are_said_to_be_tied() -> None:
    assert commonest(Counter({"60-69": 2, "40-49": 1}), "age band", "donor") == (
        "the commonest age band is 60-69 (2 donors)"
    )
    assert commonest(Counter({"60-69": 1, "40-49": 1}), "age band", "donor") == (
        "each age band has 1 donor"
    )
    assert commonest(Counter({"60-69": 2, "40-49": 2, "0-9": 1}), "age band", "donor") == (
        "the commonest age bands are 40-49 and 60-69 (2 donors each)"
    )
    # Donations 1, 2, 3 and 12 are aged 19, 20, 21 and 30: 20-29 twice.
    rows = [row_of(donation(n), {}) for n in (1, 2, 3, 12)]
    summary = age_by_sex(rows).summary
    assert "4 donors; the commonest age band is 20-29 (2 donors)" in summary
    tied = age_by_sex([row_of(donation(n), {}) for n in (1, 12)]).summary
    assert "each age band has 1 donor" in tied and "commonest" not in tied


def test_404_page_is_written_and_served(tmp_path: Path) -> None:
    site = build(tmp_path, [donation(1)])
    page = (site / "404.html").read_text(encoding="utf-8")
    # Served for any missing path at any depth: links start from the site's own path.
    assert 'href="/archive/browse/index.html"' in page and 'href="/archive/style.css"' in page
    server = make_server(site, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        try:
            urllib.request.urlopen(url_of(server) + "datasets/don-nothere/index.html")
        except urllib.error.HTTPError as error:
            assert error.code == 404
            assert "Page not found" in error.read().decode()
        else:
            raise AssertionError("a missing page was served")
    finally:
        server.shutdown()
        server.server_close()


def test_british_and_american_spellings() -> None:
    assert spelling_variants("Intracerebral haemorrhage") == ["hemorrhage"]
    assert spelling_variants("Hemorrhagic stroke, edema") == ["haemorrhagic", "oedema"]
    assert spelling_variants("Malignant tumor of prostate") == ["tumour"]
    assert spelling_variants("Hemiplegia of the left hemisphere") == []
    assert spelling_variants("Pneumonia") == []


def test_search_words_carry_labels_codes_and_no_sex_letter() -> None:
    a = donation(1)
    b = donation(5)  # the same code (n % 4 == 1) with another label
    b.record["study"]["diagnoses"][0]["display"] = "Pneumonia, organism not specified"
    labels = labels_by_code([a.record, b.record])
    words = search_words(a.record, ["CT"], ["axial"], "10-19", labels)
    assert "Pneumonia, unspecified organism" in words
    assert "Pneumonia, organism not specified" in words
    assert {"J18.9", "J189", "ICD-10"} <= set(words)
    assert "male" in words and "M" not in words and "F" not in words
    assert a.public_id not in words


def test_search_shards_map_result_ids_to_donations(tmp_path: Path) -> None:
    """The page turns Pagefind's result ids into donations with ids.json alone: the
    per-page fragments (one file per donation) are not published."""
    donations = [donation(n) for n in range(12)]
    site = build(tmp_path, donations)
    mapped: dict[str, str] = {}
    for ids in site.glob("pagefind/*/ids.json"):
        mapped.update(json.loads(ids.read_text(encoding="utf-8")))
    assert sorted(mapped.values()) == sorted(d.public_id for d in donations)
    assert not list(site.glob("pagefind/*/fragment/*"))


def _indexed(site: Path) -> dict[str, list[str]]:
    """Shard -> the donations its search index returns (from ids.json)."""
    return {
        ids.parent.name: sorted(json.loads(ids.read_text(encoding="utf-8")).values())
        for ids in site.glob("pagefind/*/ids.json")
    }


def test_a_cached_rebuild_indexes_exactly_the_donations_a_fresh_build_does(
    tmp_path: Path,
) -> None:
    """Search documents are kept between builds: one gone and one more re-index their
    shards, and neither a stale document nor a missing one reaches the index."""
    donations = [donation(n) for n in range(40)]
    cache = tmp_path / "cache"
    for kept in (donations, [*donations[1:], donation(40)]):
        site = SiteWriter(tmp_path / "site")
        render_site(CONFIG, kept, site, cache=cache)
        site.finish()
    fresh = build(tmp_path / "fresh", [*donations[1:], donation(40)])
    assert _indexed(tmp_path / "site") == _indexed(fresh)
    everything = [pid for ids in _indexed(fresh).values() for pid in ids]
    assert sorted(everything) == sorted(d.public_id for d in [*donations[1:], donation(40)])
    stale = [p for p in (cache / "search").rglob("*.html") if donations[0].public_id in p.name]
    assert not stale
