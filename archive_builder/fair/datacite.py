"""DataCite Metadata Schema 4.5 records, as REST API JSON attributes and as kernel-4 XML.

One dict of attributes (the shape of the DataCite REST API and of the JSON
schema the ``datacite`` package ships) is the source; the XML is generated
from it, so the two cannot disagree. Without a DOI prefix the identifier is
the landing page URL and the record is ready to register once a prefix is set.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from lxml import etree

from ..config import ArchiveConfig
from ..licenses import LICENSES
from ..release.model import ReleaseInfo
from ..store.content import StoredDonation
from .text import to_plain

SCHEMA_VERSION = "http://datacite.org/schema/kernel-4"
NS = "http://datacite.org/schema/kernel-4"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{NS} https://schema.datacite.org/meta/kernel-4.5/metadata.xsd"


def archive_slug(config: ArchiveConfig) -> str:
    return re.sub(r"[^a-z0-9]+", "-", config.name.lower()).strip("-") or "archive"


def concept_doi(config: ArchiveConfig) -> str | None:
    """The DOI that always resolves to the latest release of the archive."""
    return f"{config.doi_prefix}/{archive_slug(config)}" if config.doi_prefix else None


def release_doi(config: ArchiveConfig, release: ReleaseInfo) -> str | None:
    if release.doi:
        return release.doi
    concept = concept_doi(config)
    return f"{concept}.v{release.version}" if concept else None


def donation_doi(config: ArchiveConfig, donation: StoredDonation | str) -> str | None:
    """A donation's own DOI (by donation or public id), only when ``doi_per_donation`` is set."""
    if not (config.doi_prefix and config.doi_per_donation):
        return None
    public_id = donation if isinstance(donation, str) else donation.public_id
    return f"{config.doi_prefix}/{public_id}"


def _common(config: ArchiveConfig, url: str, doi: str | None, year: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if doi:
        prefix, suffix = doi.split("/", 1)
        attrs.update(doi=doi, prefix=prefix, suffix=suffix)
    attrs.update(
        url=url,
        creators=[{"name": config.publisher, "nameType": "Organizational"}],
        publisher={"name": config.publisher},
        publicationYear=year,
        language="en",
        contributors=[
            {
                "name": config.publisher,
                "nameType": "Organizational",
                "contributorType": "ContactPerson",
            }
        ],
        schemaVersion=SCHEMA_VERSION,
    )
    return attrs


def _rights(spdx: str) -> list[dict[str, str]]:
    lic = LICENSES[spdx]
    return [
        {
            "rights": lic.name,
            "rightsUri": lic.url,
            "rightsIdentifier": lic.spdx.lower(),
            "rightsIdentifierScheme": "SPDX",
            "schemeUri": "https://spdx.org/licenses/",
        }
    ]


def donation_datacite(
    config: ArchiveConfig, donation: StoredDonation, year: str, version: str | None = None
) -> dict[str, Any]:
    """The DataCite attributes of one donation (a Dataset of DICOM images)."""
    record = donation.record
    url = f"{config.base_url}datasets/{donation.public_id}/"
    region = record["study"]["anatomical_region"]
    modalities = ", ".join(donation.modalities) or "imaging"
    attrs = _common(config, url, donation_doi(config, donation), year)
    attrs.update(
        types={"resourceTypeGeneral": "Dataset", "resourceType": "DICOM imaging study"},
        titles=[{"title": f"{config.name}: donation {donation.public_id} ({modalities} {region})"}],
        subjects=[
            {"subject": "medical imaging"},
            {"subject": "DICOM"},
            *({"subject": m, "subjectScheme": "DICOM Modality"} for m in donation.modalities),
            {"subject": region, "subjectScheme": "DICOM Body Part Examined"},
            *(
                {"subject": f"{d['code']} {d['display']}", "subjectScheme": d["system"]}
                for d in record["study"]["diagnoses"]
            ),
        ],
        alternateIdentifiers=[
            {"alternateIdentifier": donation.public_id, "alternateIdentifierType": "public_id"}
        ],
        relatedIdentifiers=[
            {
                "relatedIdentifier": config.base_url,
                "relatedIdentifierType": "URL",
                "relationType": "IsPartOf",
            }
        ],
        sizes=[f"{len(donation.instances)} files", f"{donation.total_bytes} bytes"],
        formats=["application/dicom"],
        rightsList=_rights(record["license"]),
        descriptions=[
            {
                "description": (
                    f"A de-identified {modalities} imaging study of the {region.lower()} "
                    f"({len(donation.series)} series, {len(donation.instances)} DICOM "
                    f"file{'' if len(donation.instances) == 1 else 's'}), "
                    "donated for research by its patient and de-identified following "
                    "DICOM PS3.15 Annex E."
                ),
                "descriptionType": "Abstract",
            }
        ],
    )
    if version:
        attrs["version"] = version
    return attrs


def archive_datacite(
    config: ArchiveConfig, releases: Sequence[ReleaseInfo], year: str
) -> dict[str, Any]:
    """The concept record: the archive as a whole, ``HasVersion`` each release.

    ``year`` is the publication year until there is a release.
    """
    year = releases[0].date[:4] if releases else year
    attrs = _common(config, config.base_url, concept_doi(config), year)
    attrs.update(
        types={"resourceTypeGeneral": "Dataset", "resourceType": "Imaging archive"},
        titles=[{"title": config.name}],
        subjects=[{"subject": "medical imaging"}, {"subject": "DICOM"}, {"subject": "open data"}],
        relatedIdentifiers=[_related(config, r, "HasVersion") for r in releases],
        formats=["application/dicom", "application/vnd.apache.parquet"],
        rightsList=_rights(config.license),
        descriptions=[{"description": to_plain(config.description), "descriptionType": "Abstract"}],
    )
    if releases:
        attrs["version"] = releases[-1].version
    return attrs


def _related(config: ArchiveConfig, release: ReleaseInfo, relation: str) -> dict[str, str]:
    doi = release_doi(config, release)
    if doi:
        return {"relatedIdentifier": doi, "relatedIdentifierType": "DOI", "relationType": relation}
    return {
        "relatedIdentifier": f"{config.base_url}releases/{release.version}/",
        "relatedIdentifierType": "URL",
        "relationType": relation,
    }


def release_datacite(
    config: ArchiveConfig,
    release: ReleaseInfo,
    previous: ReleaseInfo | None,
    donations: Sequence[StoredDonation],
) -> dict[str, Any]:
    """One release: ``IsVersionOf`` the concept, ``IsNewVersionOf`` the previous release."""
    url = f"{config.base_url}releases/{release.version}/"
    attrs = _common(config, url, release_doi(config, release), release.date[:4])
    related = []
    concept = concept_doi(config)
    related.append(
        {
            "relatedIdentifier": concept,
            "relatedIdentifierType": "DOI",
            "relationType": "IsVersionOf",
        }
        if concept
        else {
            "relatedIdentifier": config.base_url,
            "relatedIdentifierType": "URL",
            "relationType": "IsVersionOf",
        }
    )
    if previous:
        related.append(_related(config, previous, "IsNewVersionOf"))
    descriptions = [
        {
            "description": to_plain(config.description),
            "descriptionType": "Abstract",
        }
    ]
    if release.notes.strip():
        descriptions.append({"description": to_plain(release.notes), "descriptionType": "Other"})
    attrs.update(
        types={"resourceTypeGeneral": "Dataset", "resourceType": "Imaging archive release"},
        titles=[{"title": f"{config.name}, release {release.version}"}],
        subjects=[{"subject": "medical imaging"}, {"subject": "DICOM"}, {"subject": "open data"}],
        dates=[{"date": release.date, "dateType": "Issued"}],
        version=release.version,
        relatedIdentifiers=related,
        sizes=[
            f"{len(donations)} donations",
            f"{sum(len(d.instances) for d in donations)} files",
        ],
        formats=["application/dicom", "application/vnd.apache.parquet"],
        rightsList=_rights(config.license),
        descriptions=descriptions,
    )
    return attrs


# --- XML ------------------------------------------------------------------------------------


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> Any:
    child = etree.SubElement(parent, f"{{{NS}}}{tag}")
    for key, value in attrs.items():
        child.set(key, value)
    if text is not None:
        child.text = text
    return child


def _name(parent: etree._Element, tag: str, person: dict[str, Any]) -> None:
    extra = {"contributorType": person["contributorType"]} if "contributorType" in person else {}
    node = _el(parent, tag, **extra)
    _el(node, f"{tag}Name", person["name"], nameType=person.get("nameType", "Organizational"))


# Lists of elements whose text is the JSON item's value under the element's own name:
# (JSON key and XML group, XML element, {XML attribute: JSON key}). The schema's
# <resource> is an xs:all, so the order of its children is free.
_LISTS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("subjects", "subject", {"subjectScheme": "subjectScheme"}),
    ("dates", "date", {"dateType": "dateType"}),
    (
        "alternateIdentifiers",
        "alternateIdentifier",
        {"alternateIdentifierType": "alternateIdentifierType"},
    ),
    (
        "relatedIdentifiers",
        "relatedIdentifier",
        {"relatedIdentifierType": "relatedIdentifierType", "relationType": "relationType"},
    ),
    (
        "rightsList",
        "rights",
        {
            "rightsURI": "rightsUri",
            "rightsIdentifier": "rightsIdentifier",
            "rightsIdentifierScheme": "rightsIdentifierScheme",
            "schemeURI": "schemeUri",
        },
    ),
    ("descriptions", "description", {"descriptionType": "descriptionType"}),
)


def datacite_xml(attrs: dict[str, Any]) -> bytes:
    """The kernel-4 XML of DataCite attributes made by this module."""
    root = etree.Element(f"{{{NS}}}resource", nsmap={None: NS, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
    if attrs.get("doi"):
        _el(root, "identifier", attrs["doi"], identifierType="DOI")
    else:
        _el(root, "identifier", attrs["url"], identifierType="URL")
    creators = _el(root, "creators")
    for person in attrs["creators"]:
        _name(creators, "creator", person)
    titles = _el(root, "titles")
    for title in attrs["titles"]:
        _el(titles, "title", title["title"])
    _el(root, "publisher", attrs["publisher"]["name"])
    _el(root, "publicationYear", attrs["publicationYear"])
    types = attrs["types"]
    _el(
        root,
        "resourceType",
        types["resourceType"],
        resourceTypeGeneral=types["resourceTypeGeneral"],
    )
    if attrs.get("contributors"):
        node = _el(root, "contributors")
        for person in attrs["contributors"]:
            _name(node, "contributor", person)
    for single in ("language", "version"):
        if attrs.get(single):
            _el(root, single, attrs[single])
    for group, tag in (("sizes", "size"), ("formats", "format")):
        if attrs.get(group):
            node = _el(root, group)
            for value in attrs[group]:
                _el(node, tag, value)
    for group, tag, attributes in _LISTS:
        if attrs.get(group):
            node = _el(root, group)
            for item in attrs[group]:
                xml = {name: item[key] for name, key in attributes.items() if key in item}
                _el(node, tag, item[tag], **xml)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data
