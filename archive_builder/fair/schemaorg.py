"""schema.org ``Dataset`` JSON-LD, embedded in each donation page at build time."""

from __future__ import annotations

from typing import Any

from ..config import ArchiveConfig
from ..store.content import StoredDonation
from .licenses import LICENSES
from .text import to_plain

VARIABLES = (
    ("age", "Age at the study in whole years; 90 means 90 or over."),
    ("sex", "DICOM Patient's Sex."),
    ("anatomical_region", "Examined region (DICOM Body Part Examined)."),
    ("diagnosis_codes", "Diagnoses as ICD-10 or SNOMED CT codes."),
    ("Modality", "DICOM Modality of each series."),
)


def dataset_jsonld(config: ArchiveConfig, donation: StoredDonation) -> dict[str, Any]:
    record = donation.record
    url = f"{config.base_url}datasets/{donation.public_id}/"
    region = record["study"]["anatomical_region"]
    modalities = ", ".join(donation.modalities)
    diagnoses = [f"{d['system']} {d['code']}" for d in record["study"]["diagnoses"]]
    return {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "@id": url,
        "name": f"{config.name}: donation {donation.public_id} ({modalities} {region})",
        "description": (
            f"A de-identified {modalities} imaging study of the {region.lower()} "
            f"({len(donation.instances)} DICOM files), donated for research by its patient. "
            + to_plain(config.description)
        ),
        "identifier": donation.public_id,
        "version": "1.0.0",
        "temporalCoverage": record["consent"]["month"],
        "variableMeasured": [
            {"@type": "PropertyValue", "name": name, "description": text}
            for name, text in VARIABLES
        ],
        "citation": f"{url}citation.bib",
        "url": url,
        "license": LICENSES[record["license"]].url,
        "isAccessibleForFree": True,
        "keywords": ["medical imaging", "DICOM", *donation.modalities, region, *diagnoses],
        "creator": {"@type": "Organization", "name": config.publisher, "email": config.contact},
        "publisher": {"@type": "Organization", "name": config.publisher},
        "includedInDataCatalog": {
            "@type": "DataCatalog",
            "name": config.name,
            "url": config.base_url,
        },
        "distribution": [
            {
                "@type": "DataDownload",
                "encodingFormat": "application/dicom",
                "contentUrl": f"ria+{config.base_url}store#~{donation.public_id}",
                "contentSize": f"{donation.total_bytes} B",
            },
            *(
                {
                    "@type": "DataDownload",
                    "encodingFormat": media,
                    "contentUrl": f"{url}{name}",
                    "description": text,
                }
                for name, media, text in (
                    ("instances.parquet", "application/vnd.apache.parquet", "DICOM files"),
                    ("croissant.json", "application/ld+json", "Croissant metadata"),
                    ("datacite.xml", "application/xml", "DataCite metadata"),
                )
            ),
        ],
    }
