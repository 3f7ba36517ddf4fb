"""Which instances the archive publishes at all.

Header de-identification cannot clean pixels. Instances whose pixels may show
a name or a face (burned-in annotations, screen captures, ultrasound,
photographs, documents) are excluded; every other image is screened for text
by the pixel stage. The de-identification report lists each excluded instance
with the reason.
"""

from __future__ import annotations

from functools import cache

from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.uid import UID_dictionary  # type: ignore[attr-defined]

# Image storage SOP classes whose pixels are acquired by the scanner itself.
SUPPORTED_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.1",  # CR
        "1.2.840.10008.5.1.4.1.1.1.1",  # DX for presentation
        "1.2.840.10008.5.1.4.1.1.1.1.1",  # DX for processing
        "1.2.840.10008.5.1.4.1.1.1.2",  # MG for presentation
        "1.2.840.10008.5.1.4.1.1.1.2.1",  # MG for processing
        "1.2.840.10008.5.1.4.1.1.13.1.3",  # breast tomosynthesis
        "1.2.840.10008.5.1.4.1.1.2",  # CT
        "1.2.840.10008.5.1.4.1.1.2.1",  # enhanced CT
        "1.2.840.10008.5.1.4.1.1.2.2",  # legacy converted enhanced CT
        "1.2.840.10008.5.1.4.1.1.4",  # MR
        "1.2.840.10008.5.1.4.1.1.4.1",  # enhanced MR
        "1.2.840.10008.5.1.4.1.1.4.3",  # enhanced MR colour
        "1.2.840.10008.5.1.4.1.1.4.4",  # legacy converted enhanced MR
        "1.2.840.10008.5.1.4.1.1.12.1",  # XA
        "1.2.840.10008.5.1.4.1.1.12.1.1",  # enhanced XA
        "1.2.840.10008.5.1.4.1.1.12.2",  # XRF
        "1.2.840.10008.5.1.4.1.1.20",  # NM
        "1.2.840.10008.5.1.4.1.1.128",  # PET
        "1.2.840.10008.5.1.4.1.1.128.1",  # legacy converted enhanced PET
        "1.2.840.10008.5.1.4.1.1.130",  # enhanced PET
        "1.2.840.10008.5.1.4.1.1.6.1",  # US (excluded below by modality until pixels are cleaned)
        "1.2.840.10008.5.1.4.1.1.7",  # secondary capture (excluded below)
    }
)
RISKY_MODALITIES = {
    "US": "ultrasound images often carry burned-in names and dates",
    "SC": "secondary captures are screenshots that may show identifiers",
    "OT": "'other' images are often screenshots or scanned documents",
    "XC": "external-camera photographs can show a face",
    "ES": "endoscopy video frames can carry burned-in text",
    "DOC": "scanned documents",
    "GM": "general microscopy photographs can carry labels",
}
# Image Type SECONDARY (derived images: reformats, projections, ADC maps) is published
# when its pixels pass the text screening of the pixel stage, as every image is.
RISKY_IMAGE_TYPES = {
    "SCREEN SAVE": "Image Type SCREEN SAVE (a screenshot)",
    "SCREEN": "Image Type SCREEN (a screenshot)",
}
# Modality defined terms (PS3.3 C.7.3.1.1.1, current and retired): the only Modality
# values a report repeats; anything else is reported as "other".
_MODALITY_TERMS = """
AR ASMT AU BDUS BI BMD CFM CR CT CTPROTOCOL DMS DG DOC DX ECG EEG EMG EOG EPS ES FID GM HC
HD IO IOL IVOCT IVUS KER KO LEN LS MG MR M3D NM OAM OCT OP OPM OPT OPTBSV OPTENF OPV OSS OT
PA PLAN POS PR PT PX REG RESP RF RG RT RTDOSE RTIMAGE RTINTENT RTPLAN RTRAD RTRECORD
RTSEGANN RTSTRUCT RWV SEG SM SMR SR SRF STAIN TEXTUREMAP TG US VA XA XAPROTOCOL XC
CD CF CP CS DD DF DM DS EC FA FS LP MA MS OPR ST VF
"""
MODALITIES = frozenset(_MODALITY_TERMS.split())
PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
PIXEL_TAGS = frozenset(Tag(keyword) for keyword in PIXEL_KEYWORDS)


_NO_SOP_CLASS = "no SOP Class UID"
_NO_PIXEL_DATA = "no pixel data"
_BURNED_IN = "Burned In Annotation is YES"
_FACE = "Recognizable Visual Features is YES (a face may be visible)"
_UNREADABLE = "an attribute the risk check reads cannot be read (unknown or wrong VR)"


def _not_published(name: str) -> str:
    return f"SOP class {name} is not an image type the archive publishes"


@cache
def fixed_reasons() -> frozenset[str]:
    """Every text this module writes into a report (each reason, each Modality it
    repeats): fixed texts of the standard and of this module, never a value of a file, so
    the gate does not search them (a donor called Key is not refused because a Key
    Object Selection Document is named in the report)."""
    names = [str(entry[0]) for entry in UID_dictionary.values()] + ["(unknown)"]
    return frozenset(
        {
            _NO_SOP_CLASS,
            _NO_PIXEL_DATA,
            _BURNED_IN,
            _FACE,
            _UNREADABLE,
            *(f"modality {m}: {reason}" for m, reason in RISKY_MODALITIES.items()),
            *RISKY_MODALITIES.values(),
            *RISKY_IMAGE_TYPES.values(),
            *map(_not_published, names),
            *MODALITIES,
            "other",
        }
    )


def exclusion_reason(ds: Dataset) -> str | None:
    """Why this instance is not published, or None when it may be."""
    try:
        return _reason(ds)
    except Exception:  # a value of an unknown or wrong VR: when in doubt, not published
        return _UNREADABLE


def _reason(ds: Dataset) -> str | None:
    sop_class = str(ds.get("SOPClassUID", "")).strip()
    if not sop_class:
        return _NO_SOP_CLASS
    if sop_class not in SUPPORTED_SOP_CLASSES:
        return _not_published(sop_class_name(sop_class))
    if not any(k in ds for k in PIXEL_KEYWORDS):
        return _NO_PIXEL_DATA
    if str(ds.get("BurnedInAnnotation", "")).strip().upper() == "YES":
        return _BURNED_IN
    if str(ds.get("RecognizableVisualFeatures", "")).strip().upper() == "YES":
        return _FACE
    modality = str(ds.get("Modality", "")).strip().upper()
    if modality in RISKY_MODALITIES:
        return f"modality {modality}: {RISKY_MODALITIES[modality]}"
    if sop_class == "1.2.840.10008.5.1.4.1.1.7":
        return RISKY_MODALITIES["SC"]
    image_type = {str(v).strip().upper() for v in ds.get("ImageType", [])}
    for value, reason in RISKY_IMAGE_TYPES.items():
        if value in image_type:
            return reason
    return None


def report_modality(ds: Dataset) -> str:
    """The instance's Modality for a published report: a defined term of the standard, or
    "other" (a header can hold any text there, a name included)."""
    value = str(ds.get("Modality", "") or "").strip().upper()
    return value if value in MODALITIES else "other"


def sop_class_name(uid: str) -> str:
    """A SOP class as a report names it: pydicom's name for a UID of the standard, else
    "an unknown SOP class" (never the text of the header)."""
    entry = UID_dictionary.get(uid)
    return str(entry[0]) if entry else "(unknown)"
