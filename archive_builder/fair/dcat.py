"""DCAT-AP 3.0 catalog of the archive, as an rdflib graph serialised to Turtle and JSON-LD.

The archive is a ``dcat:Catalog``; each published donation is a ``dcat:Dataset``
with distributions: the DataLad (RIA) clone URL, its rows in the Parquet
catalogs, and its descriptor files. Every object the DCAT-AP range shapes
constrain is typed (licences, media types, agents, pages).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import quote

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, SKOS, XSD

from ..catalog.writer import PARTITION
from ..config import ArchiveConfig
from ..licenses import LICENSES
from ..release.model import ReleaseInfo
from ..store.content import StoredDonation
from .text import to_plain

VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
EU_FILE_TYPE = Namespace("http://publications.europa.eu/resource/authority/file-type/")
EU_THEME = Namespace("http://publications.europa.eu/resource/authority/data-theme/")
EU_ACCESS = Namespace("http://publications.europa.eu/resource/authority/access-right/")
EU_LANGUAGE = Namespace("http://publications.europa.eu/resource/authority/language/")
EU_AVAILABILITY = Namespace(
    "http://publications.europa.eu/resource/authority/planned-availability/"
)
DCATAP = Namespace("http://data.europa.eu/r5r/")
ADMS_PUBLISHER_TYPE = Namespace("http://purl.org/adms/publishertype/")
IANA = "https://www.iana.org/assignments/media-types/"
DCAT3_VERSION = URIRef(str(DCAT) + "version")  # DCAT 3; rdflib's DCAT namespace is DCAT 2

# media type, EU file type, title, per-donation descriptor file
DESCRIPTORS = (
    ("application/json", "JSON", "DataCite metadata (JSON)", "datacite.json"),
    ("application/xml", "XML", "DataCite metadata (XML)", "datacite.xml"),
    ("application/ld+json", "JSON_LD", "Croissant metadata", "croissant.json"),
    ("application/ld+json", "JSON_LD", "RO-Crate metadata", "ro-crate-metadata.json"),
    ("application/x-yaml", "YAML", "Citation File Format", "CITATION.cff"),
    ("application/x-bibtex", "TXT", "BibTeX citation", "citation.bib"),
    ("application/x-research-info-systems", "TXT", "RIS citation", "citation.ris"),
    ("text/plain", "TXT", "Licence", "LICENSE"),
)
CATALOG_FILES = ("donations", "series", "instances")

CONTEXT = {
    "dcat": str(DCAT),
    "dct": str(DCTERMS),
    "foaf": str(FOAF),
    "vcard": str(VCARD),
    "skos": str(SKOS),
    "xsd": str(XSD),
}


class _Builder:
    def __init__(self, config: ArchiveConfig, root: str, partitioned: bool = False):
        self.config = config
        self.root = root
        self.partitioned = partitioned
        self.g = Graph()
        for prefix, ns in CONTEXT.items():
            self.g.bind(prefix, ns)
        self.publisher = URIRef(config.base_url + "#publisher")
        self.g.add((self.publisher, RDF.type, FOAF.Agent))
        self.g.add((self.publisher, FOAF.name, Literal(config.publisher)))
        kind = self.typed(ADMS_PUBLISHER_TYPE.NonProfitOrganisation, SKOS.Concept)
        self.g.add((kind, SKOS.prefLabel, Literal("Non-Profit Organisation", lang="en")))
        self.g.add((self.publisher, DCTERMS.type, kind))
        self.contact = URIRef(config.base_url + "#contact")
        self.g.add((self.contact, RDF.type, VCARD.Kind))
        self.g.add((self.contact, RDF.type, VCARD.Organization))
        self.g.add((self.contact, VCARD.fn, Literal(config.publisher)))
        mailto = URIRef("mailto:" + quote(config.contact, safe="@"))
        self.g.add((self.contact, VCARD.hasEmail, mailto))

    def typed(self, iri: str, kind: URIRef) -> URIRef:
        ref = URIRef(iri)
        self.g.add((ref, RDF.type, kind))
        return ref

    def license(self, spdx: str) -> URIRef:
        ref = self.typed(LICENSES[spdx].url, DCTERMS.LicenseDocument)
        self.g.add((ref, DCTERMS.identifier, Literal(spdx)))
        return ref

    def distribution(
        self, iri: str, title: str, url: str, media: str | None, file_type: str, spdx: str
    ) -> URIRef:
        g = self.g
        dist = self.typed(iri, DCAT.Distribution)
        g.add((dist, DCTERMS.title, Literal(title, lang="en")))
        g.add((dist, DCTERMS.description, Literal(title, lang="en")))
        stable = self.typed(EU_AVAILABILITY.STABLE, SKOS.Concept)
        g.add((stable, SKOS.prefLabel, Literal("stable", lang="en")))
        g.add((dist, DCATAP.availability, stable))
        g.add((dist, DCAT.accessURL, URIRef(url)))
        if media:
            g.add((dist, DCAT.downloadURL, URIRef(url)))
            g.add((dist, DCAT.mediaType, self.typed(IANA + media, DCTERMS.MediaType)))
        g.add(
            (dist, DCTERMS.format, self.typed(EU_FILE_TYPE[file_type], DCTERMS.MediaTypeOrExtent))
        )
        g.add((dist, DCTERMS.license, self.license(spdx)))
        return dist

    def dataset(self, donation: StoredDonation) -> URIRef:
        g, config = self.g, self.config
        record = donation.record
        pid = donation.public_id
        page = f"{config.base_url}datasets/{pid}/"
        ds = self.typed(page, DCAT.Dataset)
        region = record["study"]["anatomical_region"]
        modalities = ", ".join(donation.modalities) or "imaging"
        g.add((ds, DCTERMS.title, Literal(f"Donation {pid} ({modalities} {region})", lang="en")))
        g.add(
            (
                ds,
                DCTERMS.description,
                Literal(
                    f"A de-identified {modalities} imaging study of the {region.lower()} "
                    f"({len(donation.series)} series, {len(donation.instances)} DICOM "
                    f"file{'' if len(donation.instances) == 1 else 's'}), "
                    "donated for research by its patient.",
                    lang="en",
                ),
            )
        )
        g.add((ds, DCTERMS.identifier, Literal(pid)))
        g.add((ds, DCTERMS.language, self.typed(EU_LANGUAGE.ENG, DCTERMS.LinguisticSystem)))
        g.add((ds, DCTERMS.publisher, self.publisher))
        g.add((ds, DCAT.contactPoint, self.contact))
        g.add((ds, DCAT.landingPage, self.typed(page, FOAF.Document)))
        theme = self.typed(EU_THEME.HEAL, SKOS.Concept)
        g.add((theme, SKOS.prefLabel, Literal("Health", lang="en")))
        g.add((ds, DCAT.theme, theme))
        g.add((ds, DCTERMS.accessRights, self.typed(EU_ACCESS.PUBLIC, DCTERMS.RightsStatement)))
        g.add((ds, DCTERMS.license, self.license(record["license"])))
        for word in ("medical imaging", "DICOM", *donation.modalities, region):
            g.add((ds, DCAT.keyword, Literal(word, lang="en")))
        spdx = record["license"]
        g.add(
            (
                ds,
                DCAT.distribution,
                self.distribution(
                    page + "#clone",
                    "DataLad dataset (clone with datalad clone)",
                    f"ria+{config.base_url}store#~{pid}",
                    None,
                    "DCM",
                    spdx,
                ),
            )
        )
        for table in CATALOG_FILES:
            url = f"{self.root}catalog/{table}.parquet"
            if self.partitioned:  # the part of the donation's month holds its rows
                month = record["consent"]["month"]
                url = f"{self.root}catalog/{table}/{PARTITION}={month}/part-0.parquet"
            dist = self.distribution(
                f"{page}#catalog-{table}",
                f"Rows of this donation in the {table} catalog (public_id = '{pid}')",
                url,
                "vnd.apache.parquet",
                "PARQUET",
                spdx,
            )
            g.add((ds, DCAT.distribution, dist))
        for media, file_type, title, name in DESCRIPTORS:
            dist = self.distribution(
                f"{page}{name}", title, f"{page}{name}", media, file_type, spdx
            )
            g.add((ds, DCAT.distribution, dist))
        return ds


def dcat_graph(
    config: ArchiveConfig,
    donations: Sequence[StoredDonation],
    release: ReleaseInfo | None = None,
    partitioned: bool = False,
) -> Graph:
    """The catalog of the archive (or of one release: its own IRI, title and issue date).

    ``partitioned``: the catalogs were written hive-partitioned by month of donation,
    so each donation's rows are in its month's part, and that is what is linked.
    """
    root = config.base_url if release is None else f"{config.base_url}releases/{release.version}/"
    b = _Builder(config, root, partitioned)
    g = b.g
    cat = b.typed(root, DCAT.Catalog)
    title = config.name if release is None else f"{config.name}, release {release.version}"
    g.add((cat, DCTERMS.title, Literal(title, lang="en")))
    description = to_plain(config.description)
    if release is not None and release.notes.strip():
        description += "\n\n" + to_plain(release.notes)
    g.add((cat, DCTERMS.description, Literal(description, lang="en")))
    g.add((cat, DCTERMS.publisher, b.publisher))
    g.add((cat, FOAF.homepage, b.typed(config.base_url, FOAF.Document)))
    g.add((cat, DCTERMS.license, b.license(config.license)))
    g.add((cat, DCAT.contactPoint, b.contact))
    g.add((cat, DCTERMS.language, b.typed(EU_LANGUAGE.ENG, DCTERMS.LinguisticSystem)))
    if release is not None:
        g.add((cat, DCTERMS.issued, Literal(release.date, datatype=XSD.date)))
        g.add((cat, DCAT3_VERSION, Literal(release.version)))
        g.add((cat, DCTERMS.isVersionOf, URIRef(config.base_url)))
    for donation in donations:
        g.add((cat, DCAT.dataset, b.dataset(donation)))
    return g


def dcat_turtle(graph: Graph) -> str:
    text: str = graph.serialize(format="turtle")
    return text


def dcat_jsonld(graph: Graph) -> str:
    """Compact JSON-LD, nodes sorted by ``@id`` so that equal graphs give equal bytes."""
    text = graph.serialize(format="json-ld", context=CONTEXT, auto_compact=True)
    data = json.loads(text)
    nodes = data.get("@graph", [])
    for node in nodes:
        for key, value in node.items():
            if isinstance(value, list):
                node[key] = sorted(value, key=lambda v: json.dumps(v, sort_keys=True))
    data["@graph"] = sorted(nodes, key=lambda n: str(n.get("@id", "")))
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
