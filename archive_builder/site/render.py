"""Rendering the static site with Jinja: plain files, relative links, no request elsewhere."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import jinja2

from .. import __version__
from ..catalog import TABLES
from ..config import ArchiveConfig
from ..fair import LICENSES
from ..fair.landing import (
    SIGNPOSTED,
    LandingPage,
    archive_page,
    donation_page,
    donation_versions,
    files_in,
    measure,
    tombstone_page,
)
from ..fair.schemaorg import archive_jsonld, dataset_jsonld
from ..release.model import ReleaseInfo, Withdrawal
from ..sitefiles import SiteWriter
from ..store.content import StoredDonation
from . import cohort, pilot, stats
from .facts import (
    FACETS,
    UNRELEASED,
    Row,
    browse_index,
    facet_counts,
    release_added,
    releases_in_order,
    row_of,
)
from .markup import safe_markdown
from .pagecache import PageCache, fingerprint
from .previews import PREVIEW_VERSION, middle_instance, preview_for
from .releasepages import render_release_pages
from .search import indexing, search_document
from .searchwords import labels_by_code, search_words
from .signposting import Signposts
from .wording import plural

STATIC = ("style.css", "browse.js", "copy.js", "cohort.js")
PAGE_SIZE = 100
RECENT = 10  # donations listed on the home page
# Files another stage writes beside each donation page, linked when present.
CITATION_FILES = (("CFF", "CITATION.cff"), ("BibTeX", "citation.bib"), ("RIS", "citation.ris"))
DESCRIPTORS = (
    ("Licence", "LICENSE"),
    ("Citation File Format", "CITATION.cff"),
    ("BibTeX", "citation.bib"),
    ("RIS", "citation.ris"),
    ("DataCite JSON", "datacite.json"),
    ("DataCite XML", "datacite.xml"),
    ("Croissant", "croissant.json"),
    ("RO-Crate", "ro-crate-metadata.json"),
)
PAGES = (
    "",
    "browse/",
    "cohort/",
    "statistics/",
    "pilot/",
    "releases/",
    "catalog/",
    "methods/",
    "donors/",
)


def templates_dir() -> Path:
    """The packaged templates; in a source checkout, the repository's ``templates/``."""
    packaged = Path(str(resources.files("archive_builder"))) / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "templates"


def environment(overrides: Path | None = None) -> jinja2.Environment:
    """Templates in ``overrides`` (the archive's ``templates/``) win over the packaged ones."""
    loaders: list[jinja2.BaseLoader] = []
    if overrides is not None and overrides.is_dir():
        loaders.append(jinja2.FileSystemLoader(overrides))
    loaders.append(jinja2.FileSystemLoader(templates_dir()))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(["html", "xml", "svg"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["bytes"] = human_bytes
    env.filters["markdown"] = safe_markdown
    env.filters["plural"] = plural
    return env


def templates_fingerprint(overrides: Path | None) -> str:
    """Changes whenever any template (packaged or overridden) or this version changes."""
    digest = hashlib.sha256(__version__.encode())
    for folder in (overrides, templates_dir()):
        if folder is not None and folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def human_bytes(n: int | float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def clone_commands(config: ArchiveConfig, public_id: str) -> dict[str, str]:
    store = f"ria+{config.base_url}store"
    return {
        "donation": f"datalad clone {store}#~{public_id} {public_id}\n"
        f"cd {public_id}\n"
        "datalad get series-001/instance-0001.dcm",
        "archive": f"datalad clone {store}#~archive archive\n"
        "cd archive\n"
        f"datalad get -n {public_id}\n"
        f"datalad get {public_id}/series-001",
    }


def doi_url(doi: str | None) -> str | None:
    return f"https://doi.org/{doi}" if doi else None


def archive_citation_text(
    config: ArchiveConfig, release: ReleaseInfo | None, url: str | None = None
) -> str:
    """The archive's citation; ``url`` (a release's page) stands in when there is no DOI."""
    if release is None:
        return f"{config.publisher}. {config.name} [Data set]. {config.base_url}"
    where = doi_url(release.doi) or url or config.base_url
    return (
        f"{config.publisher} ({release.date[:4]}). {config.name} "
        f"(Version {release.version}) [Data set]. {where}"
    )


def donation_citation_text(
    config: ArchiveConfig, public_id: str, release: ReleaseInfo | None
) -> str:
    year = release.date[:4] if release else "n.d."
    version = f" (Version {release.version})" if release else ""
    return (
        f"{config.publisher} ({year}). {config.name}: donation {public_id}{version} "
        f"[Data set]. {config.base_url}datasets/{public_id}/"
    )


class _Renderer:
    """Holds what every page needs; one method per kind of page."""

    def __init__(
        self,
        config: ArchiveConfig,
        site: SiteWriter,
        overrides: Path | None,
        cache: Path | None,
    ):
        self.config = config
        self.site = site
        self.env = environment(overrides)
        self.cache_dir = cache
        salt = fingerprint(templates_fingerprint(overrides), config)
        self.pages = PageCache(site, cache / "site" if cache else None, salt)
        # every page with an identifier: its linkset and Link header
        self.signposts = Signposts(site, config.base_url, cache / "site" if cache else None, salt)

    def context(self, path: str) -> dict[str, Any]:
        depth = path.count("/")
        return {
            "config": self.config,
            "version": __version__,
            "licenses": LICENSES,
            "root": "../" * depth,
            "canonical": self.config.base_url + path.removesuffix("index.html"),
            "current": path,
        }

    def page(
        self,
        path: str,
        template: str,
        inputs: Any,
        lazy: Callable[[], dict[str, Any]] | None = None,
        **values: Any,
    ) -> None:
        """Render ``template`` to ``path`` unless ``inputs`` are those of the last build.

        ``lazy`` computes further values only when the page is rendered.
        """

        def render() -> str:
            more = lazy() if lazy else {}
            return self.env.get_template(template).render({**self.context(path), **values, **more})

        self.pages.page(path, (template, path, inputs), render)

    def static(self, name: str) -> None:
        loader = self.env.loader
        assert loader is not None
        source = loader.get_source(self.env, name)[0]
        self.site.text(
            name, source if name.endswith(".js") else self.env.from_string(source).render()
        )


def _descriptor_files(names: set[str]) -> list[tuple[str, str]]:
    """(label, file name) of the descriptors another stage wrote for a donation."""
    return [(label, name) for label, name in DESCRIPTORS if name in names]


def _citation_formats(
    site: SiteWriter, public_id: str, text: str, present: set[str]
) -> list[dict[str, str]]:
    formats = [{"label": "Text", "file": "", "text": text}]
    folder = site.root / "datasets" / public_id
    for label, name in CITATION_FILES:
        if name in present:
            formats.append(
                {"label": label, "file": name, "text": (folder / name).read_text(encoding="utf-8")}
            )
    return formats


def _previews(
    r: _Renderer, donation: StoredDonation, series: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Folder -> {file, alt} for each series that could be drawn; writes the PNGs."""
    result: dict[str, dict[str, Any]] = {}
    cache = r.cache_dir / "previews" if r.cache_dir else None
    for s in series:
        instance = middle_instance(donation.instances, s["folder"])
        if instance is None:
            continue
        name = f"preview-{s['folder']}.png"
        rel = f"datasets/{donation.public_id}/{name}"
        inputs = (PREVIEW_VERSION, instance["sha256"])
        state = r.pages.known(rel, inputs)
        if state is None:
            data = preview_for(donation.path / instance["path"], instance["sha256"], cache)
            r.pages.made(rel, inputs, data)
            state = "absent" if data is None else "kept"
        if state == "absent":
            continue  # not drawable: the page says so instead of showing a broken image
        description = s.get("SeriesDescription") or "no description"
        result[s["folder"]] = {
            "file": name,
            "alt": f"Preview of {s['folder']}: {s['Modality']}, {description}, "
            f"image {instance.get('InstanceNumber') or 1} of {s['instances']}, "
            f"{instance['Rows']} by {instance['Columns']} pixels",
        }
    return result


def _donation(
    r: _Renderer,
    donation: StoredDonation,
    row: Row,
    first_release: ReleaseInfo | None,
    version: tuple[str, str] | None,
) -> None:
    pid = donation.public_id
    series = donation.series
    previews = _previews(r, donation, series)
    citation = donation_citation_text(r.config, pid, first_release)
    folder = f"datasets/{pid}/"
    files = files_in(r.site.root, folder, catalog=False)
    descriptors = _descriptor_files(files)
    present = {name for _, name in descriptors}
    made: list[LandingPage] = []

    def landing() -> LandingPage:  # made only when the page or its links are
        if not made:
            made.append(donation_page(r.config, donation, files))
        return made[0]

    date, number = version or (None, "unreleased")
    # Those files are written earlier in this build, and only rewritten when they change.
    changed = sorted(name for name in files if folder + name in r.site.changed)
    inputs = (
        donation.record,
        donation.report,
        series,
        len(donation.instances),
        donation.total_bytes,
        row,
        citation,
        descriptors,
        previews,
        changed,
        donation.dataset_id,
        sorted(files & SIGNPOSTED),
        version,
    )
    key = fingerprint(inputs)  # once: the page and its links follow from the same inputs
    r.signposts.add(folder, key, landing)
    r.page(
        f"datasets/{pid}/index.html",
        "donation.html",
        key,
        lambda: {
            "jsonld": dataset_jsonld(r.config, donation, landing(), r.site.root, number, date),
            "citations": _citation_formats(r.site, pid, citation, present),
            "signposts": landing().head_links(r.config.base_url),
        },
        d=donation,
        row=row,
        record=donation.record,
        series=series,
        previews=previews,
        report=donation.report,
        commands=clone_commands(r.config, pid),
        license=LICENSES[donation.record["license"]],
        descriptors=descriptors,
    )


def render_site(
    config: ArchiveConfig,
    donations: Sequence[StoredDonation],
    site: SiteWriter,
    overrides: Path | None = None,
    releases: Sequence[ReleaseInfo] = (),
    withdrawals: Sequence[Withdrawal] = (),
    offers: Sequence[Mapping[str, Any]] | None = None,
    cache: Path | None = None,
    intake: pilot.Intake | None = None,
) -> None:
    """Write every page of the site into ``site``.

    ``offers``: lines of the private offers ledger (date, modality, anatomical_region,
    offered, accepted, declined, ...), or None before any were recorded; the
    pages show only what :func:`archive_builder.catalog.rate_table` publishes.
    ``intake``: counts from the private ingest log, for the pilot report.
    ``cache``: a folder outside the site for page keys, previews and search
    shards; with it, a rebuild renders only what changed.
    """
    r = _Renderer(config, site, overrides, cache)
    withdrawn = {w.public_id for w in withdrawals}
    donations = sorted(
        (d for d in donations if d.public_id not in withdrawn), key=lambda d: d.public_id
    )
    ordered = releases_in_order(releases)
    latest = ordered[-1] if ordered else None
    added = release_added(ordered)
    rows = [row_of(d, added) for d in donations]
    facets = facet_counts(rows)
    modality_counts = Counter(m for d in donations for m in d.modalities)
    totals = {
        "donations": len(donations),
        "instances": sum(len(d.instances) for d in donations),
        "bytes": sum(d.total_bytes for d in donations),
        "modalities": sorted(modality_counts.items()),
        "regions": facets["region"],
    }
    latest_citation = archive_citation_text(config, latest)
    recent = sorted(rows, key=lambda row: (row.month, row.public_id), reverse=True)[:RECENT]
    home = archive_page(config, files_in(site.root, ""))
    r.signposts.add("", home.key(), home)
    months = sorted({row.month for row in rows})
    measured = [measure(site.root, item) for item in home.items]
    r.page(
        "index.html",
        "index.html",
        (totals, latest, latest_citation, recent, home.key(), measured, ordered, months),
        lambda: {"jsonld": archive_jsonld(config, home, site.root, ordered, months)},
        signposts=home.head_links(config.base_url),
        totals=totals,
        recent=recent,
        latest=latest,
        latest_citation=latest_citation,
        doi_url=doi_url(latest.doi if latest else None),
        archive_clone=f"datalad clone ria+{config.base_url}store#~archive archive",
    )

    site.text("browse/index.json", _json(browse_index(rows)))
    labels = labels_by_code(d.record for d in donations)
    documents = {
        row.public_id: search_document(
            row.public_id,
            search_words(
                d.record,
                row.modalities,
                [s["SeriesDescription"] or "" for s in d.series],
                row.age_band,
                labels,
            ),
        )
        for row, d in zip(rows, donations, strict=True)
    }
    with indexing(documents, site, cache) as shards:
        _pages(r, donations, rows, shards, ordered, withdrawals, offers, intake, totals, facets)
    r.signposts.finish()
    r.pages.save()


def _pages(
    r: _Renderer,
    donations: list[StoredDonation],
    rows: list[Row],
    shards: list[int],
    ordered: list[ReleaseInfo],
    withdrawals: Sequence[Withdrawal],
    offers: Sequence[Mapping[str, Any]] | None,
    intake: pilot.Intake | None,
    totals: dict[str, Any],
    facets: dict[str, list[tuple[str, int]]],
) -> None:
    """The pages rendered while the search index is written: browse, donations and the rest."""
    config, site = r.config, r.site
    withdrawn = {w.public_id for w in withdrawals}
    by_version = {rel.version: rel for rel in ordered}
    latest_citation = archive_citation_text(config, ordered[-1] if ordered else None)

    pages = max(1, -(-len(rows) // PAGE_SIZE))
    for number in range(1, pages + 1):
        chunk = rows[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
        path = "browse/index.html" if number == 1 else f"browse/page-{number}.html"
        inputs = (chunk, number, pages, facets if number == 1 else None, len(rows), shards)
        r.page(
            path,
            "browse.html",
            inputs,
            rows=chunk,
            number=number,
            pages=pages,
            facets=facets,
            facet_names=FACETS,
            total=len(rows),
            shards=" ".join(map(str, shards)),
        )
    versions = donation_versions(ordered)
    for donation, row in zip(donations, rows, strict=True):
        first = by_version.get(row.release) if row.release != UNRELEASED else None
        _donation(r, donation, row, first, versions.get(donation.public_id))
    for w in withdrawals:
        tomb = tombstone_page(config, w)
        r.signposts.add(tomb.folder, tomb.key(), tomb)
        r.page(
            f"datasets/{w.public_id}/index.html",
            "tombstone.html",
            (w, tomb.key()),
            w=w,
            signposts=tomb.head_links(config.base_url),
        )

    for path, template, values in pilot.pages(rows, donations, offers, withdrawals, intake):
        r.page(path, template, values, **values)
    release_views = [
        {
            "release": rel,
            "doi_url": doi_url(rel.doi),
            "citation": archive_citation_text(config, rel),
        }
        for rel in reversed(ordered)
    ]
    r.page(
        "releases/index.html",
        "releases.html",
        release_views,
        releases=release_views,
        withdrawn=withdrawn,
    )
    citations = {
        rel.version: archive_citation_text(config, rel, f"{config.base_url}releases/{rel.version}/")
        for rel in ordered
    }
    for release in render_release_pages(r, ordered, rows, citations, withdrawn):
        r.signposts.add(release.folder, release.key(), release)
    r.page("catalog/index.html", "catalog.html", [repr(t) for t in TABLES], tables=TABLES)
    engine = cohort.write_engine(site)
    options = cohort.choices(donations, rows)
    cohort_settings = cohort.settings(config, engine, cohort.catalog_files(site.root))
    r.page(
        "cohort/index.html",
        "cohort.html",
        (options, cohort_settings),
        options=options,
        settings=cohort_settings,
    )
    methods = stats.methods_facts(donations)
    r.page(
        "methods/index.html",
        "methods.html",
        (methods, latest_citation, totals),
        m=methods,
        totals=totals,
        latest_citation=latest_citation,
    )
    r.page("donors/index.html", "donors.html", None)
    # Hosts serve 404.html at any depth: its links start from the site's own path.
    r.page("404.html", "404.html", None, root=urlsplit(config.base_url).path or "/")
    r.pages.page(
        "sitemap.xml",
        (PAGES, [d.public_id for d in donations]),
        lambda: _sitemap(config, [d.public_id for d in donations]),
    )
    site.text("robots.txt", f"User-agent: *\nAllow: /\nSitemap: {config.base_url}sitemap.xml\n")
    for name in STATIC:
        r.static(name)
    site.text("README.md", r.env.get_template("site-README.md").render() + "\n")


def _json(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _sitemap(config: ArchiveConfig, public_ids: Sequence[str]) -> str:
    urls = [config.base_url + p for p in PAGES]
    urls += [f"{config.base_url}datasets/{pid}/" for pid in public_ids]
    body = "".join(f"<url><loc>{escape(u)}</loc></url>\n" for u in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n' + body + "</urlset>\n"
    )
