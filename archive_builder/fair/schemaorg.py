"""schema.org JSON-LD of the landing pages: the archive, each release, each donation.

Each is a ``Dataset`` that Google Dataset Search and FAIR assessment tools read:
identifier, version, dates, licence, access rights (also as the COAR URI), creator
and publisher, and a ``distribution`` of ``DataDownload``s with the exact byte
size and SHA-256 of each file (from :mod:`.landing`). A donation says what it
is about with vocabulary URIs (:mod:`.vocab`) and how it was made: generated
(``prov:wasGeneratedBy``) by a de-identification activity with its software and
DICOM profile and options as DCM codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import ArchiveConfig
from ..licenses import LICENSES
from ..release.model import ReleaseInfo
from ..store.content import StoredDonation
from .landing import LandingPage, measure
from .text import to_plain
from .vocab import DCM, diagnosis_term, modality_term, region_term

COAR_OPEN_ACCESS = "http://purl.org/coar/access_right/c_abf2"
VARIABLES = (
    ("age", "Age at the study in whole years; 90 means 90 or over."),
    ("sex", "DICOM Patient's Sex."),
    ("anatomical_region", "Examined region (DICOM Body Part Examined)."),
    ("diagnosis_codes", "Diagnoses as ICD-10 or SNOMED CT codes."),
    ("Modality", "DICOM Modality of each series."),
)
KEYWORDS = ["medical imaging", "DICOM", "open data", "data donation"]


def _publisher(config: ArchiveConfig) -> dict[str, Any]:
    return {
        "@type": "Organization",
        "@id": config.base_url + "#publisher",
        "name": config.publisher,
        "email": config.contact,
        "url": config.base_url,
    }


def _access(spdx: str) -> dict[str, Any]:
    lic = LICENSES[spdx]
    return {
        "license": lic.url,
        "isAccessibleForFree": True,
        "conditionsOfAccess": (
            f"Open access, without registration, under {lic.name} ({lic.spdx}). "
            "Re-identifying, or trying to re-identify, any person is not permitted."
        ),
        "dct:accessRights": {"@id": COAR_OPEN_ACCESS},
    }


def _downloads(config: ArchiveConfig, page: LandingPage, root: Path) -> list[dict[str, Any]]:
    downloads = []
    for item in page.items:
        size, sha256 = measure(root, item)
        download = {
            "@type": "DataDownload",
            "name": item.name,
            "contentUrl": config.base_url + item.path,
            "encodingFormat": item.media_type,
            "contentSize": f"{size} B",
            "sha256": sha256,
        }
        if item.description:
            download["description"] = item.description
        downloads.append(download)
    return downloads


def _coverage(months: Sequence[str]) -> str | None:
    if not months:
        return None
    first, last = min(months), max(months)
    return first if first == last else f"{first}/{last}"


def _dataset(
    config: ArchiveConfig,
    page: LandingPage,
    root: Path,
    *,
    name: str,
    description: str,
    version: str,
    license: str,
    months: Sequence[str],
    date: str | None,
) -> dict[str, Any]:
    url = config.base_url + page.folder
    identifiers = [page.cite_as] if page.cite_as == url else [page.cite_as, url]
    doc: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "@id": url,
        "url": url,
        "identifier": identifiers,
        "name": name,
        "description": description,
        "version": version,
        **_access(license),
        "creator": _publisher(config),
        "publisher": _publisher(config),
        "keywords": list(KEYWORDS),
        "variableMeasured": [
            {"@type": "PropertyValue", "name": n, "description": text} for n, text in VARIABLES
        ],
        "citation": f"{url}citation.bib",
        "inLanguage": "en",
    }
    if date:
        doc["datePublished"] = date
    coverage = _coverage(months)
    if coverage:
        doc["temporalCoverage"] = coverage
    if page.collection:
        # references, not descriptions: the archive's own page describes it as a Dataset
        doc["isPartOf"] = {"@id": page.collection, "name": config.name}
        doc["includedInDataCatalog"] = {
            "@type": "DataCatalog",
            "name": config.name,
            "url": config.base_url,
        }
    doc["distribution"] = _downloads(config, page, root)
    return doc


def archive_jsonld(
    config: ArchiveConfig,
    page: LandingPage,
    root: Path,
    releases: Sequence[ReleaseInfo],
    months: Sequence[str],
) -> dict[str, Any]:
    """The archive as a whole (the concept record): ``hasPart`` each release."""
    latest = releases[-1] if releases else None
    doc = _dataset(
        config,
        page,
        root,
        name=config.name,
        description=to_plain(config.description),
        version=latest.version if latest else "unreleased",
        license=config.license,
        months=months,
        date=releases[0].date if releases else None,
    )
    if releases:
        doc["hasPart"] = [
            {
                "@id": f"{config.base_url}releases/{r.version}/",
                "name": f"{config.name}, release {r.version}",
                "version": r.version,
                "datePublished": r.date,
            }
            for r in releases
        ]
    return doc


def release_jsonld(
    config: ArchiveConfig,
    page: LandingPage,
    root: Path,
    release: ReleaseInfo,
    months: Sequence[str],
) -> dict[str, Any]:
    """One release: a ``Dataset`` with its ``version``, ``isPartOf`` the archive."""
    description = to_plain(config.description)
    if release.notes.strip():
        description += "\n\n" + to_plain(release.notes)
    return _dataset(
        config,
        page,
        root,
        name=f"{config.name}, release {release.version}",
        description=description,
        version=release.version,
        license=config.license,
        months=months,
        date=release.date,
    )


def _files(count: int) -> str:
    return f"{count} DICOM file{'' if count == 1 else 's'}"


def _deidentification(url: str, report: dict[str, Any]) -> dict[str, Any]:
    tool = str(report.get("tool") or f"archive-builder {__version__}")
    name, _, version = tool.partition(" ")
    profile = report.get("profile", {})
    used = [
        {
            "@type": "DefinedTerm",
            "@id": DCM + code,
            "termCode": code,
            "name": meaning,
            "inDefinedTermSet": DCM.rstrip("/"),
        }
        for code, meaning in (
            (profile.get("code"), profile.get("name")),
            *((o.get("code"), o.get("meaning")) for o in report.get("options_applied", [])),
        )
        if code and meaning
    ]
    return {
        "@type": "prov:Activity",
        "@id": url + "#deidentification",
        "name": "De-identification following DICOM PS3.15 Annex E",
        "description": str(profile.get("table") or profile.get("name") or ""),
        "prov:wasAssociatedWith": {
            "@type": ["SoftwareApplication", "prov:SoftwareAgent"],
            "name": name,
            "softwareVersion": version or __version__,
        },
        "prov:used": used,
    }


def dataset_jsonld(
    config: ArchiveConfig,
    donation: StoredDonation,
    page: LandingPage,
    root: Path,
    version: str,
    date: str | None,
) -> dict[str, Any]:
    """One donation: what it is about as vocabulary URIs, how it was made, every file."""
    record = donation.record
    region = record["study"]["anatomical_region"]
    modalities = ", ".join(donation.modalities) or "imaging"
    diagnoses = record["study"]["diagnoses"]
    doc = _dataset(
        config,
        page,
        root,
        name=f"{config.name}: donation {donation.public_id} ({modalities} {region})",
        description=(
            f"A de-identified {modalities} imaging study of the {region.lower()} "
            f"({_files(len(donation.instances))}, {donation.total_bytes} bytes), "
            "donated for research by its patient. " + to_plain(config.description)
        ),
        version=version,
        license=record["license"],
        months=[record["consent"]["month"]],
        date=date,
    )
    doc["identifier"].append(
        {"@type": "PropertyValue", "propertyID": "public_id", "value": donation.public_id}
    )
    doc["keywords"] = [
        *KEYWORDS[:2],
        *donation.modalities,
        region,
        *(f"{d['system']} {d['code']}" for d in diagnoses),
    ]
    doc["about"] = [region_term(region), *(diagnosis_term(d) for d in diagnoses)]
    doc["measurementTechnique"] = [modality_term(m) for m in donation.modalities]
    doc["prov:wasGeneratedBy"] = _deidentification(doc["url"], donation.report)
    return doc
