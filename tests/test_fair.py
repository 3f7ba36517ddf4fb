"""Every descriptor `build` writes passes an independent validator (none of them is ours)."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import warnings
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import bibtexparser
import pyarrow.parquet as pq
import pytest
import rispy
import yaml
from conftest import run_cli, shared_file
from jsonschema import Draft7Validator
from license_expression import get_spdx_licensing
from lxml import etree
from urllib3 import HTTPResponse

from archive_builder.archive import open_archive
from archive_builder.fair import write_release_files
from archive_builder.pipeline import stored_donations
from archive_builder.release import ReleaseInfo
from archive_builder.sitefiles import SiteWriter

DATA = Path(__file__).parent / "data"
DESCRIPTORS = (
    "datacite.json",
    "datacite.xml",
    "croissant.json",
    "ro-crate-metadata.json",
    "CITATION.cff",
    "citation.bib",
    "citation.ris",
    "LICENSE",
)


@pytest.fixture(scope="module")
def site(demo_archive: Path) -> Path:
    return demo_archive / "site"


@pytest.fixture(scope="module")
def donation_dirs(site: Path) -> list[Path]:
    dirs = sorted(p for p in (site / "datasets").iterdir() if p.is_dir())
    assert len(dirs) == 7
    return dirs


@pytest.fixture(scope="module")
def release_site(demo_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two releases written by the release-time library function, into a scratch site."""
    archive = open_archive(demo_archive)
    donations = stored_donations(archive.layout)
    ids = [d.public_id for d in donations]
    first = ReleaseInfo("1.0", "2026-10-01", "First release.", added=tuple(ids[:4]))
    second = ReleaseInfo(
        "1.1", "2026-11-01", "Adds **three** donations.\n\n- CT\n- MR", added=tuple(ids[4:])
    )
    root = tmp_path_factory.mktemp("release-site")
    writer = SiteWriter(root)
    write_release_files(archive.config, donations[:4], first, None, writer, releases=[first])
    write_release_files(
        archive.config, donations, second, first, writer, releases=[first, second], offers=[]
    )
    return root


def test_every_donation_has_every_descriptor(donation_dirs: list[Path]) -> None:
    for folder in donation_dirs:
        missing = [name for name in DESCRIPTORS if not (folder / name).is_file()]
        assert not missing, f"{folder.name} lacks {missing}"


# --- DataCite ----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["4.5", "4.7"])
def test_datacite_xml_validates_against_the_official_xsd(
    site: Path, donation_dirs: list[Path], release_site: Path, version: str
) -> None:
    xsd = etree.XMLSchema(
        etree.parse(str(shared_file(f"standards/datacite/kernel-{version}/metadata.xsd")))
    )
    files = [site / "datacite.xml", *(d / "datacite.xml" for d in donation_dirs)]
    files += sorted(release_site.glob("releases/*/datacite.xml"))
    assert len(files) == 10
    for path in files:
        doc = etree.parse(str(path))
        assert xsd.validate(doc), f"{path}: {xsd.error_log}"


def test_datacite_json_validates_against_the_datacite_package_schema(
    site: Path, donation_dirs: list[Path], release_site: Path
) -> None:
    from datacite import schema45

    files = [site / "datacite.json", *(d / "datacite.json" for d in donation_dirs)]
    files += sorted(release_site.glob("releases/*/datacite.json"))
    for path in files:
        data = json.loads(path.read_text())
        assert schema45.validate(data), f"{path} breaks DataCite 4.5"
        # the XML beside it is the same record: DataCite's own converter agrees on the essentials
        xml = etree.parse(str(path.with_suffix(".xml")))
        ns = {"d": "http://datacite.org/schema/kernel-4"}
        assert xml.findtext("d:titles/d:title", namespaces=ns) == data["titles"][0]["title"]


def test_release_datacite_links_versions(release_site: Path) -> None:
    ns = {"d": "http://datacite.org/schema/kernel-4"}

    def relations(version: str) -> list[str]:
        doc = etree.parse(str(release_site / f"releases/{version}/datacite.xml"))
        return [e.get("relationType") for e in doc.iterfind(".//d:relatedIdentifier", ns)]

    assert relations("1.0") == ["IsVersionOf"]
    assert relations("1.1") == ["IsVersionOf", "IsNewVersionOf"]
    notes = json.loads((release_site / "releases/1.1/datacite.json").read_text())["descriptions"]
    assert any("Adds three donations." in d["description"] for d in notes)
    assert not any("**" in d["description"] for d in notes), "Markdown leaked into plain text"


# --- DCAT-AP 3.0 -------------------------------------------------------------------------------


def _shapes(*names: str) -> Any:
    import rdflib

    graph = rdflib.Graph()
    for name in names:
        graph.parse(shared_file(f"standards/dcat-ap-3.0.1/{name}"), format="turtle")
    return graph


@pytest.mark.parametrize("name", ["dcat.ttl", "dcat.jsonld"])
def test_dcat_ap_conforms_to_semic_shapes(
    site: Path, release_site: Path, name: str, record_property: Any
) -> None:
    import pyshacl
    import rdflib

    mandatory = _shapes("shapes.ttl", "range.ttl")
    recommended = _shapes("shapes_recommended.ttl")
    for path in (site / name, release_site / "releases/1.1" / name):
        fmt = "turtle" if name.endswith(".ttl") else "json-ld"
        with warnings.catch_warnings():  # rdflib's JSON-LD parser uses its own deprecated API
            warnings.simplefilter("ignore", DeprecationWarning)
            data = rdflib.Graph().parse(path, format=fmt)
        datasets = set(
            data.subjects(rdflib.RDF.type, rdflib.URIRef("http://www.w3.org/ns/dcat#Dataset"))
        )
        assert len(datasets) == 7
        conforms, _, text = pyshacl.validate(data, shacl_graph=mandatory, inference="none")
        assert conforms, f"{path}:\n{text}"
        ok, _, advice = pyshacl.validate(data, shacl_graph=recommended, inference="none")
        missing = Counter(re.findall(r"Result Path: (\S+)", advice) if not ok else [])
        record_property(f"dcat_recommended_{path.parent.name}_{name}", dict(missing))
        if missing:  # recommendations, not requirements: reported, not failed
            print(f"\n{path}: DCAT-AP recommended properties not given (nodes lacking each):")
            for prop, count in sorted(missing.items()):
                print(f"   {prop}: {count}")


# --- schema.org / Google Dataset Search ---------------------------------------------------------


class _JsonLd(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._inside = tag == "script" and ("type", "application/ld+json") in attrs

    def handle_endtag(self, tag: str) -> None:
        self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.blocks.append(data)


def test_donation_pages_embed_schema_org_that_google_dataset_search_accepts(
    donation_dirs: list[Path], record_property: Any
) -> None:
    import pyshacl
    import rdflib
    from pyld import jsonld

    context = json.loads(shared_file("standards/schemaorg/schemaorgcontext.jsonld").read_text())
    shapes = rdflib.Graph().parse(shared_file("standards/google-dataset-search/shapes.ttl"))

    def offline_loader(url: str, options: Any = None) -> dict[str, Any]:
        if url.rstrip("/") in ("https://schema.org", "http://schema.org"):
            return {"contextUrl": None, "documentUrl": url, "document": context}
        raise AssertionError(f"the JSON-LD needs {url}, which is not available offline")

    all_warnings = 0
    for folder in donation_dirs:
        parser = _JsonLd()
        parser.feed((folder / "index.html").read_text())
        assert len(parser.blocks) == 1, f"{folder}/index.html: expected one JSON-LD block"
        doc = json.loads(parser.blocks[0])
        nquads = jsonld.to_rdf(
            doc, {"format": "application/n-quads", "documentLoader": offline_loader}
        )
        graph = rdflib.Graph().parse(data=nquads, format="nt")  # one default graph
        assert len(graph) > 20
        _, _, text = pyshacl.validate(graph, shacl_graph=shapes, inference="none")
        violations = text.count("Severity: sh:Violation")
        assert violations == 0, f"{folder.name}:\n{text}"
        all_warnings += text.count("Severity: sh:Warning")
    record_property("schemaorg_warnings", all_warnings)
    assert all_warnings == 0, "a Google Dataset Search recommended property is missing"


# --- Croissant ---------------------------------------------------------------------------------


def _check_croissant(path: Path) -> Any:
    import mlcroissant as mlc

    doc = json.loads(path.read_text())
    for key in ("name", "description", "license", "url", "creator", "distribution", "recordSet"):
        assert doc.get(key), f"{path}: {key} is required and missing"
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.1"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = mlc.Dataset(jsonld=path)  # raises ValidationError on any error
    issues = dataset.metadata.ctx.issues
    assert not issues.errors, issues.report()
    return dataset


def test_mlcroissant_validate_command_accepts_the_catalog_croissant(site: Path) -> None:
    cli = Path(sys.executable).with_name("mlcroissant")
    done = subprocess.run(
        [str(cli), "validate", "--jsonld", str(site / "croissant.json")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "not standard" not in done.stderr, done.stderr


def test_croissant_per_donation_loads_the_donations_instances(donation_dirs: list[Path]) -> None:
    for folder in donation_dirs[:2]:
        dataset = _check_croissant(folder / "croissant.json")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = list(dataset.records("instances"))
        expected = pq.read_table(folder / "instances.parquet").to_pylist()
        assert len(rows) == len(expected) > 0
        paths = sorted(r["instances/path"].decode() for r in rows)
        assert paths == sorted(e["path"] for e in expected)
        # and those are exactly this donation's rows of the archive-wide catalog
        catalog = pq.read_table(
            folder.parents[1] / "catalog/instances.parquet",
            filters=[("public_id", "=", folder.name)],
        )
        assert sorted(catalog.column("path").to_pylist()) == paths


def test_croissant_over_the_catalogs_loads_their_rows(site: Path, release_site: Path) -> None:
    for path in (site / "croissant.json", release_site / "releases/1.1/croissant.json"):
        dataset = _check_croissant(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = list(dataset.records("donations"))
        ids = sorted(r["donations/public_id"].decode() for r in rows)
        table = pq.read_table(path.parent / "catalog/donations.parquet")
        assert ids == sorted(table.column("public_id").to_pylist())
        assert len(ids) == 7


def test_partitioned_catalogs_are_described_as_they_are_written(tmp_path: Path) -> None:
    """Past a million instances the catalogs are hive-partitioned by month: Croissant
    loads every row from the parts, and DCAT links each donation to its month's part."""
    import rdflib
    from site_data import CONFIG, donation

    from archive_builder.catalog import write_catalogs
    from archive_builder.fair.files import write_archive_files

    donations = [donation(i) for i in range(30)]  # twelve months of donation
    site = SiteWriter(tmp_path)
    write_catalogs(CONFIG, donations, site, partition_from=1)
    write_archive_files(CONFIG, donations, site)
    assert not (tmp_path / "catalog/donations.parquet").exists()
    dataset = _check_croissant(tmp_path / "croissant.json")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ids = sorted(r["donations/public_id"].decode() for r in dataset.records("donations"))
        paths = [r["instances/path"] for r in dataset.records("instances")]
    assert ids == sorted(d.public_id for d in donations)
    assert len(paths) == sum(len(d.instances) for d in donations)
    graph = rdflib.Graph().parse(tmp_path / "dcat.ttl")
    dcat = rdflib.Namespace("http://www.w3.org/ns/dcat#")
    for d in donations:
        page = rdflib.URIRef(f"{CONFIG.base_url}datasets/{d.public_id}/")
        urls = [
            str(u)
            for dist in graph.objects(page, dcat.distribution)
            for u in graph.objects(dist, dcat.downloadURL)
            if "/catalog/" in str(u)
        ]
        assert len(urls) == 3
        for url in urls:
            part = tmp_path / url.removeprefix(CONFIG.base_url)
            rows = pq.read_table(part).column("public_id").to_pylist()
            assert d.public_id in rows, url


# --- RO-Crate ----------------------------------------------------------------------------------


def _seed_cache(cache: Path) -> None:
    """Put the RO-Crate contexts (tests/data copies) into the validator's HTTP cache."""
    import requests
    from requests_cache import CachedSession

    session = CachedSession(cache_name=str(cache), backend="sqlite", expire_after=-1)
    for version in ("1.1", "1.2"):
        body = shared_file(f"standards/ro-crate/context-{version}.jsonld").read_bytes()
        for url in (
            f"https://w3id.org/ro/crate/{version}/context",
            f"https://www.researchobject.org/ro-crate/specification/{version}/context.jsonld",
        ):
            response = requests.Response()
            response.status_code = 200
            response._content = body
            response.url = url
            response.headers["Content-Type"] = "application/ld+json"
            response.request = requests.Request("GET", url).prepare()
            response.raw = HTTPResponse(
                body=io.BytesIO(body),
                headers={"Content-Type": "application/ld+json"},
                status=200,
                preload_content=False,
                request_url=url,
            )
            response.encoding = "utf-8"
            session.cache.save_response(response)
    session.close()


def test_ro_crate_passes_roc_validator_offline(donation_dirs: list[Path], tmp_path: Path) -> None:
    from rocrate_validator import services
    from rocrate_validator.models import Severity, ValidationSettings

    cache = tmp_path / "roc-cache"
    _seed_cache(cache)
    folder = donation_dirs[0]
    crate = json.loads((folder / "ro-crate-metadata.json").read_text())
    assert crate["@context"] == "https://w3id.org/ro/crate/1.2/context"
    settings = ValidationSettings(
        rocrate_uri=str(folder),
        profile_identifier="ro-crate-1.2",
        requirement_severity=Severity.REQUIRED,
        offline=True,
        cache_path=cache,
    )
    with warnings.catch_warnings():  # rdflib deprecations inside the validator
        warnings.simplefilter("ignore", DeprecationWarning)
        result = services.validate(settings)
    issues = [f"{i.check.identifier}: {i.message}" for i in result.get_issues()]
    assert result.passed(), "\n".join(issues)


# --- Citations and licences --------------------------------------------------------------------


def test_citation_cff_matches_the_cff_1_2_schema(
    site: Path, donation_dirs: list[Path], release_site: Path
) -> None:
    schema = json.loads((DATA / "citation-cff-1.2.0.schema.json").read_text())
    validator = Draft7Validator(schema)
    files = [site / "CITATION.cff", *(d / "CITATION.cff" for d in donation_dirs)]
    files += sorted(release_site.glob("releases/*/CITATION.cff"))
    for path in files:
        data = yaml.safe_load(path.read_text())
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
        assert not errors, f"{path}: {errors}"
    release = yaml.safe_load((release_site / "releases/1.1/CITATION.cff").read_text())
    assert release["version"] == "1.1"
    assert str(release["date-released"]) == "2026-11-01"


def test_bibtex_and_ris_parse(site: Path, donation_dirs: list[Path], release_site: Path) -> None:
    bibs = [site / "citation.bib", *(d / "citation.bib" for d in donation_dirs)]
    bibs += sorted(release_site.glob("releases/*/citation.bib"))
    for path in bibs:
        library = bibtexparser.parse_string(path.read_text())
        assert not library.failed_blocks, f"{path}: {library.failed_blocks}"
        assert len(library.entries) == 1
        entry = library.entries[0]
        for key in ("title", "author", "year", "url"):
            assert entry.get(key) is not None, f"{path}: no {key}"
    for folder in donation_dirs:
        with (folder / "citation.ris").open() as handle:
            records = rispy.load(handle)
        assert len(records) == 1
        assert records[0]["type_of_reference"] == "DATA"
        assert folder.name in records[0]["title"]
        assert records[0]["urls"] == [f"http://127.0.0.1:8000/datasets/{folder.name}/"]


def test_licenses_are_valid_spdx_with_summary_and_legal_code(
    site: Path, donation_dirs: list[Path]
) -> None:
    licensing = get_spdx_licensing()
    for folder in [site, *donation_dirs]:
        text = (folder / "LICENSE").read_text()
        spdx = re.search(r"\(SPDX: ([^)]+)\)", text)
        assert spdx, f"{folder}/LICENSE names no SPDX identifier"
        info = licensing.validate(spdx.group(1), strict=True)
        assert not info.errors, info.errors
        assert "In plain words:" in text
        assert re.search(r"https://creativecommons\.org/\S+/legalcode", text)
    for folder in donation_dirs:
        cff = yaml.safe_load((folder / "CITATION.cff").read_text())
        assert not licensing.validate(cff["license"], strict=True).errors
        rights = json.loads((folder / "datacite.json").read_text())["rightsList"][0]
        assert not licensing.validate(rights["rightsIdentifier"].upper(), strict=True).errors


def test_a_second_build_rewrites_no_descriptor(demo_archive: Path) -> None:
    """Descriptors are byte-stable: a rebuild with nothing new leaves them untouched."""
    site = demo_archive / "site"
    names = {"dcat.ttl", "dcat.jsonld", "datacite.xml", "datacite.json", "croissant.json"}
    names |= set(DESCRIPTORS) | {"CITATION.cff", "citation.bib"}
    files = [p for p in site.rglob("*") if p.is_file() and p.name in names]
    files += list((site / "catalog").glob("*.parquet*"))
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
    result = run_cli("build", demo_archive, "--quiet")
    assert result.exit_code == 0, result.output
    changed = [
        str(p.relative_to(site)) for p, (_, data) in before.items() if p.read_bytes() != data
    ]
    assert not changed
    touched = [
        str(p.relative_to(site))
        for p, (mtime, _) in before.items()
        if p.stat().st_mtime_ns != mtime
    ]
    assert not touched


def test_release_descriptors_follow_a_withdrawal(
    demo_archive: Path, release_site: Path, tmp_path: Path
) -> None:
    import hashlib
    import shutil

    import pyarrow.compute as pc
    import rdflib

    from archive_builder.fair import write_release_descriptors

    archive = open_archive(demo_archive)
    donations = stored_donations(archive.layout)
    gone, kept = donations[0].public_id, donations[1:]
    shutil.copytree(release_site / "releases/1.1", tmp_path / "1.1")
    for path in (tmp_path / "1.1/catalog").glob("*.parquet"):
        table = pq.read_table(path)
        if "public_id" in table.column_names:  # what a withdrawal does to a frozen catalog
            pq.write_table(table.filter(pc.not_equal(table["public_id"], gone)), path)
    first = ReleaseInfo("1.0", "2026-10-01", "First release.")
    second = ReleaseInfo("1.1", "2026-11-01", "More.")
    write_release_descriptors(
        archive.config, kept, second, first, SiteWriter(tmp_path), folder="1.1/"
    )
    croissant = json.loads((tmp_path / "1.1/croissant.json").read_text())
    for item in croissant["distribution"]:
        data = (tmp_path / "1.1" / item["contentUrl"]).read_bytes()
        assert item["sha256"] == hashlib.sha256(data).hexdigest()
    dataset = _check_croissant(tmp_path / "1.1/croissant.json")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ids = {r["donations/public_id"].decode() for r in dataset.records("donations")}
    assert gone not in ids and len(ids) == 6
    graph = rdflib.Graph().parse(tmp_path / "1.1/dcat.ttl")
    assert rdflib.URIRef(f"{archive.config.base_url}datasets/{gone}/") not in set(graph.subjects())
