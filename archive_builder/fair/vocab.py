"""Vocabulary URIs for what a donation is about: diagnoses, modality, anatomical region.

Machines match concepts by URI, not by label: ICD-10 codes get WHO's URIs
(``http://id.who.int/icd/release/10/2019/<code>``), ICD-10-CM codes the NCBO
BioPortal PURLs, SNOMED CT codes ``http://snomed.info/id/<sctid>``, modalities
their DICOM code (``http://dicom.nema.org/resources/ontology/DCM/CT``), and a
Body Part Examined term (DICOM CID 4031) its SNOMED CT code. The DICOM codes
come from pydicom's tables of the standard's context groups, so nothing here
is typed in by hand except the abbreviated Body Part Examined terms of DICOM
PS3.16 Annex L, each mapped to the code meaning it stands for.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

DCM = "http://dicom.nema.org/resources/ontology/DCM/"
SNOMED_ID = "http://snomed.info/id/"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://id.who.int/icd/release/10/2019"
ICD10CM = "http://purl.bioontology.org/ontology/ICD10CM"
DIAGNOSIS_SETS = {
    "ICD-10": (ICD10, lambda code: f"{ICD10}/{code}"),
    "ICD-10-CM": (ICD10CM, lambda code: f"{ICD10CM}/{code}"),
    "SNOMED-CT": (SNOMED, lambda code: f"{SNOMED_ID}{code}"),
}
DICOM_MODALITIES = (
    "http://dicom.nema.org/medical/dicom/current/output/chtml/part16/sect_CID_33.html"
)
BODY_PARTS = "http://dicom.nema.org/medical/dicom/current/output/chtml/part16/chapter_L.html"

# Body Part Examined defined terms (PS3.16 Annex L) that are not their code meaning run together.
ANNEX_L_TERMS = {
    "ABDOMENPELVIS": "Abdomen and Pelvis",
    "ACJOINT": "Acromioclavicular joint",
    "ANKLE": "Ankle joint",
    "ARM": "Upper arm",
    "CHESTABDOMEN": "Chest and Abdomen",
    "CHESTABDPELVIS": "Chest, Abdomen and Pelvis",
    "CSPINE": "Cervical spine",
    "CTSPINE": "Cervico-thoracic spine",
    "ELBOW": "Elbow joint",
    "HEADNECK": "Head and Neck",
    "IAC": "Internal Auditory Canal",
    "JAW": "Jaw region",
    "LEG": "Lower leg",
    "LSPINE": "Lumbar spine",
    "LSSPINE": "Lumbo-sacral spine",
    "NECKCHEST": "Neck and Chest",
    "NECKCHESTABDOMEN": "Neck, Chest and Abdomen",
    "NECKCHESTABDPELV": "Neck, Chest, Abdomen and Pelvis",
    "ORBIT": "Orbital structure",
    "SCJOINT": "Sternoclavicular joint",
    "SIJOINT": "Sacroiliac joint",
    "TLSPINE": "Thoraco-lumbar spine",
    "TMJ": "Temporomandibular joint",
    "TSPINE": "Thoracic spine",
    "WHOLEBODY": "Entire body",
    "WRIST": "Wrist joint",
}


def _term(meaning: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", meaning.upper())


def _codes(group: Any) -> list[Code]:
    return [getattr(group, keyword) for keyword in group.dir()]


@cache
def _regions() -> dict[str, Code]:
    by_meaning = {c.meaning: c for c in _codes(codes.cid4031)}
    table = {_term(c.meaning): c for c in by_meaning.values()}
    table.update({term: by_meaning[meaning] for term, meaning in ANNEX_L_TERMS.items()})
    return table


@cache
def _modalities() -> dict[str, Code]:
    return {c.value: c for c in _codes(codes.cid33)}


def region_code(term: str) -> Code | None:
    """The SNOMED CT code of a Body Part Examined term, or None if DICOM gives it none."""
    code = _regions().get(term)
    if code is None:  # a single-concept term (BRAIN) named by its meaning in DICOM's SNOMED table
        try:
            code = getattr(codes.SCT, term.capitalize())
        except AttributeError:
            return None
    return code if code.scheme_designator == "SCT" else None


def region_term(term: str) -> dict[str, Any]:
    """schema.org ``DefinedTerm`` of an anatomical region: its SNOMED CT concept when known."""
    code = region_code(term)
    if code is None:
        return {"@type": "DefinedTerm", "name": term, "inDefinedTermSet": BODY_PARTS}
    return {
        "@type": "DefinedTerm",
        "@id": SNOMED_ID + code.value,
        "name": code.meaning,
        "termCode": code.value,
        "alternateName": term,
        "inDefinedTermSet": SNOMED,
    }


def modality_term(modality: str) -> dict[str, Any]:
    """schema.org ``DefinedTerm`` of a DICOM modality: its DCM code (CID 33)."""
    code = _modalities().get(modality)
    term: dict[str, Any] = {
        "@type": "DefinedTerm",
        "name": code.meaning if code else modality,
        "termCode": modality,
        "inDefinedTermSet": DICOM_MODALITIES,
    }
    if code is not None:
        term["@id"] = DCM + code.value
    return term


def diagnosis_uri(system: str, code: str) -> str | None:
    known = DIAGNOSIS_SETS.get(system)
    return known[1](code) if known else None


def diagnosis_term(diagnosis: dict[str, Any]) -> dict[str, Any]:
    """schema.org ``DefinedTerm`` of a diagnosis, with its code system's URI for the code."""
    system, code = diagnosis["system"], diagnosis["code"]
    term: dict[str, Any] = {
        "@type": "DefinedTerm",
        "name": diagnosis.get("display") or f"{system} {code}",
        "termCode": code,
    }
    known = DIAGNOSIS_SETS.get(system)
    if known:
        term["@id"] = known[1](code)
        term["inDefinedTermSet"] = known[0]
    return term
