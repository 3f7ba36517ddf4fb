"""Every landing page is machine-actionable: typed links, linkset, Link header, complete JSON-LD.

The demo site is served over real HTTP by ``serve``; the ``signposting`` package
(FAIR Signposting's reference parser) reads each page's ``<link>`` elements and
its HTTP ``Link`` header; every link is followed and what it returns is parsed
as the type it declares.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import threading
import urllib.request
import warnings
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import bibtexparser
import pytest
import rispy
import yaml
from conftest import DATA, shared_file
from jsonschema import Draft7Validator, Draft202012Validator
from lxml import etree
from signposting import find_signposting_html, find_signposting_http
from site_data import CONFIG, donation

from archive_builder.archive import open_archive
from archive_builder.config import ArchiveConfig
from archive_builder.fair.vocab import ANNEX_L_TERMS, region_code, region_term
from archive_builder.release.model import ReleaseInfo, Withdrawal
from archive_builder.serve import make_server, url_of
from archive_builder.site import render_site
from archive_builder.sitefiles import SiteWriter
from archive_builder.store.objects import hashdir_mixed

SCHEMA = "http://schema.org/"
# RFC 9264, section 4.2: the JSON linkset format, as a JSON Schema.
LINKSET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["linkset"],
    "additionalProperties": False,
    "properties": {
        "linkset": {"type": "array", "items": {"$ref": "#/$defs/context"}},
        "linkset-metadata": {"type": "array", "items": {"type": "object"}},
    },
    "$defs": {
        "context": {
            "type": "object",
            "properties": {"anchor": {"type": "string", "format": "uri-reference"}},
            "patternProperties": {
                # a registered relation type (lower case token) or an extension relation URI
                "^(?!anchor$)([a-z][a-z0-9.-]*|[a-zA-Z][a-zA-Z0-9+.-]*:.+)$": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"$ref": "#/$defs/target"},
                }
            },
            "additionalProperties": False,
        },
        "target": {
            "type": "object",
            "required": ["href"],
            "properties": {
                "href": {"type": "string", "format": "uri-reference"},
                "type": {"type": "string"},
                "title": {"type": "string"},
                "media": {"type": "string"},
                "hreflang": {"type": "array", "items": {"type": "string"}},
                "title*": {
                    "type": "array",
                    "items": {"type": "object", "required": ["value"]},
                },
            },
            # extension target attributes (profile) are arrays of strings (4.2.4.3)
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
}


@pytest.fixture(scope="module")
def served(demo_archive: Path) -> Iterator[str]:
    server = make_server(demo_archive / "site", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url_of(server)
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def config(demo_archive: Path) -> ArchiveConfig:
    return open_archive(demo_archive).config


def _pages(site: Path) -> list[str]:
    """The folder of every landing page of a built site: home, donations, releases."""
    folders = [""]
    folders += sorted(f"datasets/{p.name}/" for p in (site / "datasets").iterdir() if p.is_dir())
    folders += sorted(f"releases/{p.name}/" for p in (site / "releases").iterdir() if p.is_dir())
    return folders


def _get(url: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(url) as response:
        return response.headers["Content-Type"].split(";")[0], response.read()


def _jsonld_block(html: str) -> dict[str, Any]:
    found = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert len(found) == 1, "expected one JSON-LD block"
    data: dict[str, Any] = json.loads(found[0])
    return data


def _offline_loader() -> Any:
    contexts = {
        "https://schema.org": json.loads(
            shared_file("standards/schemaorg/schemaorgcontext.jsonld").read_text()
        ),
        "https://w3id.org/ro/crate/1.2/context": json.loads(
            shared_file("standards/ro-crate/context-1.2.jsonld").read_text()
        )["@context"],
    }
    contexts["http://schema.org"] = contexts["https://schema.org"]

    def load(url: str, options: Any = None) -> dict[str, Any]:
        key = url.rstrip("/") if "schema.org" in url else url
        if key not in contexts:
            raise AssertionError(f"the JSON-LD needs {url}, which is not available offline")
        document = contexts[key]
        if "@context" not in document:
            document = {"@context": document}
        return {"contextUrl": None, "documentUrl": url, "document": document}

    return load


def _to_graph(doc: dict[str, Any]) -> Any:
    import rdflib
    from pyld import jsonld

    nquads = jsonld.to_rdf(
        doc, {"format": "application/n-quads", "documentLoader": _offline_loader()}
    )
    return rdflib.Graph().parse(data=nquads, format="nt")


def _parses_as(declared: str, data: bytes, url: str) -> None:
    """``data`` is what ``declared`` says: each format read by an independent parser."""
    if declared == "application/vnd.datacite.datacite+xml":
        xsd = etree.XMLSchema(
            etree.parse(str(shared_file("standards/datacite/kernel-4.5/metadata.xsd")))
        )
        assert xsd.validate(etree.fromstring(data)), f"{url}: {xsd.error_log}"
    elif declared == "application/vnd.datacite.datacite+json":
        from datacite import schema45

        assert schema45.validate(json.loads(data)), url
    elif declared == "text/turtle":
        import rdflib

        assert len(rdflib.Graph().parse(data=data, format="turtle")) > 50, url
    elif declared == "application/ld+json":
        assert len(_to_graph(json.loads(data))) > 20, url
    elif declared == "application/yaml":
        schema = json.loads((DATA / "citation-cff-1.2.0.schema.json").read_text())
        errors = list(Draft7Validator(schema).iter_errors(yaml.safe_load(data)))
        assert not errors, f"{url}: {errors[0].message}"
    elif declared == "application/x-bibtex":
        library = bibtexparser.parse_string(data.decode())
        assert len(library.entries) == 1 and not library.failed_blocks, url
    elif declared == "application/x-research-info-systems":
        assert len(rispy.loads(data.decode())) == 1, url
    elif declared == "application/vnd.apache.parquet":
        import io

        import pyarrow.parquet as pq

        assert pq.read_metadata(io.BytesIO(data)).num_rows >= 0, url
    elif declared == "application/linkset+json":
        Draft202012Validator(LINKSET_SCHEMA).validate(json.loads(data))
    else:
        raise AssertionError(f"{url}: no parser for {declared}")


def test_every_landing_page_signposts_metadata_and_items_that_resolve(
    demo_archive: Path, served: str, config: ArchiveConfig
) -> None:
    site = demo_archive / "site"
    pages = _pages(site)
    assert any(p.startswith("releases/") for p in pages) and len(pages) == 9
    for folder in pages:
        url = served + folder
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the parser warns about any invalid link
            html = find_signposting_html(url)
            header = find_signposting_http(url)
        assert set(html) == set(header), f"{folder}: <link>s and Link header differ"
        canonical = config.base_url + folder
        assert html.citeAs is not None and html.citeAs.target == canonical  # no DOI prefix
        assert {t.target for t in html.types} == {
            "https://schema.org/Dataset",
            "https://schema.org/AboutPage",
        }
        assert html.license is not None and html.license.target.startswith(
            "https://creativecommons.org/"
        )
        assert html.authors and html.describedBy and html.items and html.linksets
        for link in [*html.describedBy, *html.items, *html.linksets]:
            assert link.target.startswith(url), f"{folder}: {link.target} is not beside the page"
            served_type, data = _get(link.target)
            assert served_type == link.type, f"{link.target}: served as {served_type}"
            _parses_as(str(link.type), data, link.target)
        # the linkset holds every link of the page (absolute), and the DICOM files too
        linkset = json.loads(_get(url + "linkset.json")[1])["linkset"]
        assert linkset[0]["anchor"] == canonical
        absolute = {
            (rel, t["href"], t.get("type"))
            for rel, targets in linkset[0].items()
            if rel != "anchor"
            for t in targets
        }
        for link in html:
            if link.rel != "linkset":
                href = link.target.replace(served, config.base_url)
                assert (link.rel, href, link.type) in absolute, f"{folder}: {link} not in linkset"
        dicom = [t for t in linkset[0]["item"] if t["type"] == "application/dicom"]
        assert bool(dicom) == folder.startswith("datasets/")
        assert {c["anchor"] for c in linkset[1:]} == {
            config.base_url + folder + link.target.removeprefix(url) for link in html.describedBy
        }


def test_every_data_download_is_the_exact_file_at_its_url(
    demo_archive: Path, config: ArchiveConfig
) -> None:
    site = demo_archive / "site"
    checked = dicom = 0
    for folder in _pages(site):
        doc = _jsonld_block((site / folder / "index.html").read_text())
        downloads = doc["distribution"]
        assert downloads, folder
        for d in downloads:
            assert d["contentUrl"].startswith(config.base_url), d["contentUrl"]
            path = site / d["contentUrl"].removeprefix(config.base_url)
            data = path.read_bytes()
            assert d["contentSize"] == f"{len(data)} B", d["contentUrl"]
            assert d["sha256"] == hashlib.sha256(data).hexdigest(), d["contentUrl"]
            assert d["encodingFormat"] in ("application/vnd.apache.parquet", "application/dicom")
            checked += 1
            dicom += d["encodingFormat"] == "application/dicom"
    instances = sum(
        len(json.loads(p.read_text()))
        for p in (demo_archive / "datasets").glob("don-*/instances.json")
    )
    assert dicom == instances > 0 and checked > dicom


def test_json_ld_of_every_page_expands_offline_and_passes_google_shapes(
    demo_archive: Path, config: ArchiveConfig
) -> None:
    import pyshacl
    import rdflib

    shapes = rdflib.Graph().parse(shared_file("standards/google-dataset-search/shapes.ttl"))
    s = rdflib.Namespace(SCHEMA)
    site = demo_archive / "site"
    for folder in _pages(site):
        doc = _jsonld_block((site / folder / "index.html").read_text())
        graph = _to_graph(doc)
        _, _, text = pyshacl.validate(graph, shacl_graph=shapes, inference="none")
        assert "Severity:" not in text, f"{folder}:\n{text}"  # no violation, no warning
        page = rdflib.URIRef(config.base_url + folder)
        assert (page, rdflib.RDF.type, s.Dataset) in graph
        for prop in ("datePublished", "version", "license", "creator", "publisher"):
            assert graph.value(page, s[prop]) is not None, f"{folder}: no {prop}"
        assert graph.value(page, s.isAccessibleForFree).toPython() is True
        coar = rdflib.URIRef("http://purl.org/coar/access_right/c_abf2")
        assert (page, rdflib.DCTERMS.accessRights, coar) in graph
        assert str(graph.value(page, s.version)) in ("1.0.0",), folder
        if folder.startswith("releases/"):
            assert (page, s.isPartOf, rdflib.URIRef(config.base_url)) in graph
        if folder == "":
            parts = set(graph.objects(page, s.hasPart))
            assert parts == {rdflib.URIRef(config.base_url + "releases/1.0.0/")}
        if folder.startswith("datasets/"):
            about = {str(o) for o in graph.objects(page, s.about)}
            assert any(a.startswith("http://snomed.info/id/") for a in about), about
            techniques = {str(o) for o in graph.objects(page, s.measurementTechnique)}
            assert techniques and all(
                t.startswith("http://dicom.nema.org/resources/ontology/DCM/") for t in techniques
            )
            prov = rdflib.Namespace("http://www.w3.org/ns/prov#")
            activity = graph.value(page, prov.wasGeneratedBy)
            used = {str(o) for o in graph.objects(activity, prov.used)}
            assert "http://dicom.nema.org/resources/ontology/DCM/113100" in used
            agent = graph.value(activity, prov.wasAssociatedWith)
            assert str(graph.value(agent, s.name)) == "archive-builder"


def test_diagnoses_regions_and_modalities_get_vocabulary_uris(demo_archive: Path) -> None:
    site = demo_archive / "site"
    about: set[str] = set()
    for folder in (site / "datasets").iterdir():
        doc = _jsonld_block((folder / "index.html").read_text())
        about |= {t.get("@id", "") for t in doc["about"]}
    assert any(a.startswith("http://id.who.int/icd/release/10/2019/") for a in about), about
    # every region the portal's contract names as an example is a SNOMED CT concept
    contract = json.loads(
        (Path(__file__).parents[1] / "archive_builder/intake/donation.schema.json").read_text()
    )
    described = contract["properties"]["study"]["properties"]["anatomical_region"]["description"]
    examples = re.findall(r"\b[A-Z]{4,}\b", described.split("e.g.")[1])
    assert {"HEAD", "BRAIN", "CHEST", "KNEE"} <= set(examples)
    for term in examples:
        assert region_term(term)["@id"].startswith("http://snomed.info/id/"), term
    assert region_code("HEAD").value == "69536005"  # type: ignore[union-attr]
    assert all(region_code(term) is not None for term in ANNEX_L_TERMS)
    assert "@id" not in region_term("NOTAREGION")


def test_store_paths_use_git_annex_hash_directories() -> None:
    git_annex = Path(sys.executable).with_name("git-annex")
    keys = [f"SHA256E-s{n}--{hashlib.sha256(str(n).encode()).hexdigest()}.dcm" for n in range(20)]
    for key in keys:
        out = subprocess.run(
            [str(git_annex), "examinekey", "--format=${hashdirmixed}", key],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert hashdir_mixed(key) == out, key


def _head_links(html: str) -> list[dict[str, str]]:
    class Parser(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.links: list[dict[str, str]] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "link":
                self.links.append({k: v or "" for k, v in attrs})

    parser = Parser()
    parser.feed(html)
    return parser.links


def test_tombstone_keeps_its_identifier_and_says_what_it_is(tmp_path: Path) -> None:
    site = SiteWriter(tmp_path / "site")
    render_site(CONFIG, [donation(1)], site, withdrawals=[Withdrawal("don-gone01", "2026-11-02")])
    site.finish()
    page = (tmp_path / "site/datasets/don-gone01/index.html").read_text()
    links = {(link["rel"], link["href"]) for link in _head_links(page)}
    url = CONFIG.base_url + "datasets/don-gone01/"
    assert ("cite-as", url) in links and ("type", "https://schema.org/AboutPage") in links
    assert not any(rel in ("describedby", "item", "license") for rel, _ in links)
    linkset = json.loads((tmp_path / "site/datasets/don-gone01/linkset.json").read_text())
    Draft202012Validator(LINKSET_SCHEMA).validate(linkset)
    assert linkset["linkset"][0]["anchor"] == url
    assert "/datasets/don-gone01/\n  Link: " in (tmp_path / "site/_headers").read_text()


def test_with_a_doi_prefix_cite_as_is_the_doi(tmp_path: Path) -> None:
    config = ArchiveConfig(**{**CONFIG.__dict__, "doi_prefix": "10.5555", "doi_per_donation": True})
    d = donation(1)
    release = ReleaseInfo("1.0", "2026-10-01", "First.", added=(d.public_id,))
    site = SiteWriter(tmp_path / "site")
    render_site(config, [d], site, releases=[release])
    site.finish()

    def cite_as(relpath: str) -> str:
        html = (tmp_path / "site" / relpath).read_text()
        return next(x["href"] for x in _head_links(html) if x["rel"] == "cite-as")

    assert cite_as("index.html") == "https://doi.org/10.5555/test-archive"
    assert cite_as("releases/1.0/index.html") == "https://doi.org/10.5555/test-archive.v1.0"
    assert cite_as(f"datasets/{d.public_id}/index.html") == f"https://doi.org/10.5555/{d.public_id}"
    without = ArchiveConfig(**{**config.__dict__, "doi_per_donation": False})
    render_site(without, [d], SiteWriter(tmp_path / "site"), releases=[release])
    assert (
        cite_as(f"datasets/{d.public_id}/index.html") == f"{CONFIG.base_url}datasets/{d.public_id}/"
    )


@pytest.mark.parametrize(
    ("relpath", "expected"),
    [
        ("dcat.jsonld", "application/ld+json"),
        ("croissant.json", "application/ld+json"),
        ("dcat.ttl", "text/turtle"),
        ("catalog/donations.parquet", "application/vnd.apache.parquet"),
        ("CITATION.cff", "application/yaml"),
        ("citation.bib", "application/x-bibtex"),
        ("linkset.json", "application/linkset+json"),
        ("datacite.xml", "application/vnd.datacite.datacite+xml"),
        ("index.html", "text/html"),
        ("browse/index.json", "application/json"),
    ],
)
def test_serve_sends_the_media_type_of_each_kind_of_file(
    served: str, relpath: str, expected: str
) -> None:
    assert _get(served + relpath)[0] == expected


def test_a_donation_page_gives_ris_and_exact_sizes(demo_archive: Path, served: str) -> None:
    folder = next(p for p in (demo_archive / "site/datasets").iterdir() if p.is_dir())
    assert _get(f"{served}datasets/{folder.name}/citation.ris")[0] == (
        "application/x-research-info-systems"
    )
    instances = json.loads((demo_archive / "datasets" / folder.name / "instances.json").read_text())
    page = (folder / "index.html").read_text()
    doc = _jsonld_block(page)
    sizes = {d["name"]: d["contentSize"] for d in doc["distribution"]}
    for instance in instances:
        assert sizes[instance["path"]] == f"{instance['size']} B"
