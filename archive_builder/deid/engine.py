"""De-identify one DICOM dataset: Table E.1-1 actions, reject by default, keyed UIDs.

The engine builds a new dataset instead of deleting from the original, so an
attribute reaches the output only by a decision: a rule of the standard's
table, or the short allow-list of technical attributes. Sequences are walked
to every depth with the same rules.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from pydicom.datadict import keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID

from .. import __version__, keys
from .allowlist import SAFE_KEYWORDS
from .dates import shift_da, shift_dt
from .descriptors import clean_descriptor
from .identifiers import Identifiers, undecoded
from .profile import (
    APPLIED_OPTIONS,
    BASIC_PROFILE,
    DESCRIPTORS_CLEANED,
    load_profile,
    resolve_code,
)
from .uids import is_well_known

DUMMY_TEXT = "ANONYMIZED"
_DUMMIES: dict[str, object] = {
    "DA": "19000101",
    "TM": "000000",
    "DT": "19000101000000",
    "AS": "000Y",
    "IS": "0",
    "DS": "0",
    "US": 0,
    "SS": 0,
    "UL": 0,
    "SL": 0,
    "FL": 0.0,
    "FD": 0.0,
}
_BINARY = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN"})
# Value representations that can hold free text, names or codes typed by a person.
TEXT_VRS = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})
TOOL_NAME = "archive-builder"
SAFE_TAGS = frozenset(t for t in map(tag_for_keyword, SAFE_KEYWORDS) if t is not None)


@dataclass(frozen=True)
class Donor:
    """What the engine needs to know about the donation a file belongs to."""

    key: bytes
    public_id: str
    date_offset_days: int
    patient_age: str  # DICOM AS, e.g. "045Y"; "090Y" for 90 and over
    sex: str = "O"  # from the donation record, used where the header has none


def _as_list(value: object) -> list[object]:
    if value is None:
        return []
    return list(value) if isinstance(value, MultiValue | list | tuple) else [value]


def age_string(age_years: int) -> str:
    return f"{min(age_years, 90):03d}Y"


def already_deidentified(ds: Dataset, donor: Donor) -> bool:
    """Whether ``ds`` is this engine's own output for this donor (so de-identifying is a no-op).

    The donor's public id is a keyed hash, so only a file de-identified with the
    same key for the same donor carries it; such a file has had its dates
    shifted and its UIDs replaced already, and doing it again would move them
    twice. Every other rule still applies, and the verifier still runs.
    """
    return (
        str(ds.get("PatientIdentityRemoved", "")).strip() == "YES"
        and str(ds.get("PatientID", "")).strip() == donor.public_id
        and str(ds.get("LongitudinalTemporalInformationModified", "")).strip() == "MODIFIED"
        and any(str(v).startswith(TOOL_NAME) for v in _as_list(ds.get("DeidentificationMethod")))
    )


def method_description() -> list[str]:
    """Deidentification Method: the tool, the profile and each option, one value each."""
    return [
        f"{TOOL_NAME} {__version__}",
        f"DICOM PS3.15 {BASIC_PROFILE[1]}"[:64],
        *(meaning[:64] for _, meaning in APPLIED_OPTIONS.values()),
    ]


def _method_codes() -> Sequence:
    items = []
    for code, meaning in [BASIC_PROFILE, *APPLIED_OPTIONS.values()]:
        item = Dataset()
        item.CodeValue = code
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = meaning
        items.append(item)
    return Sequence(items)


class _Cleaner:
    def __init__(
        self,
        donor: Donor,
        identifiers: Identifiers,
        tally: Counter[tuple[str, str]],
        *,
        done_before: bool = False,
    ):
        self.donor = donor
        self.identifiers = identifiers
        self.tally = tally
        self.profile = load_profile()
        # A second pass over this engine's own output keeps its (already keyed) UIDs
        # and (already shifted) dates: de-identifying twice is the same as once.
        self.done_before = done_before
        self.offset = 0 if done_before else donor.date_offset_days
        self._uids: dict[str, str] = {}

    def uid(self, value: str) -> str:
        value = value.strip().rstrip("\x00")
        if not value or is_well_known(value):
            return value
        if self.done_before and value.startswith("2.25."):
            return value
        new = self._uids.get(value)
        if new is None:
            new = self._uids[value] = keys.uid(self.donor.key, value)
        return new

    def dataset(self, source: Dataset) -> Dataset:
        out = Dataset()
        _same_encoding(out, source)
        for tag in sorted(source.keys()):
            if self._removed_unread(tag):
                continue
            raw = source.get_item(tag)
            if tag in SAFE_TAGS and undecoded(raw, tag):
                # allow-listed numbers and binary (pixel data above all): copied as read
                self.tally["kept", keyword_for_tag(tag) or str(tag)] += 1
                out[tag] = raw
                continue
            as_read: RawDataElement | None = raw if isinstance(raw, RawDataElement) else None
            elem = source[tag]
            new = self.element(elem)
            if as_read is not None and new is elem and as_read.VR in (None, elem.VR):
                out[tag] = as_read  # kept unchanged: written back as read, not re-encoded
            elif new is not None:
                out.add(new)
        return out

    def _removed_unread(self, tag: BaseTag) -> bool:
        """Remove what no rule keeps without decoding its value (most of a header)."""
        rule = self.profile.rule_for(tag)
        if (rule is None and tag not in SAFE_TAGS) or (rule is not None and rule.action == "X"):
            name = keyword_for_tag(tag) or (
                "private" if tag.is_private else f"({tag.group:04X},{tag.element:04X})"
            )
            self.tally["removed", name] += 1
            return True
        return False

    def element(self, elem: DataElement) -> DataElement | None:
        tag, vr = elem.tag, elem.VR
        name = elem.keyword or (
            "private" if tag.is_private else f"({tag.group:04X},{tag.element:04X})"
        )
        rule = self.profile.rule_for(tag)
        if rule is None:
            if elem.keyword not in SAFE_KEYWORDS or (vr == "UN" and name != "PixelData"):
                self.tally["removed", name] += 1
                return None
            if vr in TEXT_VRS and self._identifying(elem):
                # technical text that repeats a name, ID or place of the header: when in
                # doubt, remove
                self.tally["removed", name] += 1
                return None
            action = "K"
        else:
            action = rule.action
        return self._apply(elem, name, action, rule.basic if rule else "X")

    def _identifying(self, elem: DataElement) -> bool:
        value = elem.value
        if value is None:
            return False
        texts = value if isinstance(value, MultiValue | list | tuple) else [value]
        return any(self.identifiers.find(r) for t in texts for r in _readings(str(t)))

    def _apply(self, elem: DataElement, name: str, action: str, basic: str) -> DataElement | None:
        tag, vr = elem.tag, elem.VR
        if action == "X":
            self.tally["removed", name] += 1
            return None
        if action == "Z":
            self.tally["emptied", name] += 1
            return DataElement(tag, vr, Sequence() if vr == "SQ" else None)
        if action == "D":
            self.tally["dummy", name] += 1
            return self._dummy(elem)
        if action == "U":
            self.tally["replaced", name] += 1
            return DataElement(tag, vr, self._map_uids(elem.value))
        if action == "C":
            return self._clean(elem, name, basic)
        # K and U*: keep, walking into sequences, replacing any UID that is not well known
        self.tally["kept", name] += 1
        return self._keep(elem)

    def _keep(self, elem: DataElement) -> DataElement:
        if elem.VR == "SQ":
            return DataElement(elem.tag, "SQ", Sequence([self.dataset(i) for i in elem.value]))
        if elem.VR == "UI":
            return DataElement(elem.tag, "UI", self._map_uids(elem.value))
        return elem

    def _map_uids(self, value: object) -> object:
        if value is None:
            return None
        if isinstance(value, MultiValue | list | tuple):
            return [self.uid(str(v)) for v in value]
        return self.uid(str(value))

    def _dummy(self, elem: DataElement) -> DataElement:
        tag, vr = elem.tag, elem.VR
        if elem.keyword in ("PatientName", "PatientID"):
            return DataElement(tag, vr, self.donor.public_id)
        if vr == "SQ":
            return DataElement(tag, vr, Sequence([self.dataset(i) for i in elem.value]))
        if vr == "UI":
            return DataElement(tag, vr, self._map_uids(elem.value))
        if vr in _BINARY:
            return DataElement(tag, vr, b"")
        if vr == "AT":
            return DataElement(tag, vr, None)
        return DataElement(tag, vr, _DUMMIES.get(vr, DUMMY_TEXT))

    def _clean(self, elem: DataElement, name: str, basic: str) -> DataElement | None:
        tag, vr, value = elem.tag, elem.VR, elem.value
        offset = self.offset
        if vr == "SQ":
            self.tally["cleaned", name] += 1
            return DataElement(tag, vr, Sequence([self.dataset(i) for i in value]))
        if vr in ("DA", "DT"):
            shift = shift_da if vr == "DA" else shift_dt
            self.tally["shifted", name] += 1
            if isinstance(value, MultiValue | list):
                return DataElement(tag, vr, [shift(str(v), offset) for v in value])
            return DataElement(tag, vr, shift(str(value), offset) if value else value)
        if vr == "TM":
            self.tally["kept", name] += 1
            return elem
        if elem.keyword == "PatientAge":
            self.tally["replaced", name] += 1
            return DataElement(tag, vr, self.donor.patient_age)
        if elem.keyword in DESCRIPTORS_CLEANED and vr in ("LO", "SH", "ST", "LT", "UT", "UC"):
            texts = value if isinstance(value, MultiValue | list) else [value]
            cleaned = [clean_descriptor(str(t), self.identifiers) for t in texts if t]
            cleaned = [c for c in cleaned if c]
            self.tally["cleaned", name] += 1
            return DataElement(tag, vr, cleaned[0] if len(cleaned) == 1 else cleaned or None)
        # An option says C for something this archive does not clean: Basic Profile action.
        return self._apply(elem, name, resolve_code(basic), basic)


def _readings(text: str) -> tuple[str, ...]:
    """``text``, and for non-ASCII text also its bytes read as UTF-8: pydicom decodes CS,
    IS and other VRs as ISO 8859-1 whatever the character set, so a UTF-8 name there
    reads as mojibake."""
    if text.isascii():
        return (text,)
    try:
        return text, text.encode("latin-1").decode("utf-8", errors="replace")
    except UnicodeEncodeError:  # not read as ISO 8859-1: decoded with its character set
        return (text,)


def _same_encoding(out: Dataset, source: Dataset) -> None:
    """Mark ``out`` as encoded like ``source``, so that elements kept as read are written
    as read: pydicom otherwise decodes and re-encodes every element of a new dataset."""
    implicit_vr, little_endian = source.original_encoding
    out.set_original_encoding(implicit_vr, little_endian, source.original_character_set)


def deidentify(
    original: Dataset, donor: Donor, identifiers: Identifiers, tally: Counter[tuple[str, str]]
) -> FileDataset:
    """A new, de-identified file dataset; ``original`` is not modified."""
    cleaner = _Cleaner(donor, identifiers, tally, done_before=already_deidentified(original, donor))
    out = cleaner.dataset(original)
    out.PatientName = donor.public_id
    out.PatientID = donor.public_id
    out.PatientAge = donor.patient_age
    if not str(out.get("PatientSex", "") or "").strip():
        out.PatientSex = donor.sex
    out.PatientIdentityRemoved = "YES"
    out.LongitudinalTemporalInformationModified = "MODIFIED"
    out.DeidentificationMethod = method_description()
    out.DeidentificationMethodCodeSequence = _method_codes()

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = out.SOPClassUID
    meta.MediaStorageSOPInstanceUID = out.SOPInstanceUID
    meta.TransferSyntaxUID = original.file_meta.TransferSyntaxUID
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = f"ARCHIVEBUILDER{__version__.replace('.', '')}"[:16]
    result = FileDataset("", out, file_meta=meta, preamble=b"\0" * 128)
    _same_encoding(result, original)
    return result
