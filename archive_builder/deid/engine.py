"""De-identify one DICOM dataset: Table E.1-1 actions, reject by default, keyed UIDs.

The engine builds a new dataset instead of deleting from the original, so an
attribute reaches the output only by a decision: a rule of the standard's
table, or the short allow-list of technical attributes. Sequences are walked
to every depth with the same rules.

Allow-listed text is not kept on trust: a value that repeats an identifying
value of the header is removed; dictionary values (code values, the character
set) are otherwise kept; any other technical text is kept as written only when
it looks technical (no date in any spelling, age, long number or year, see
``descriptors.technical``), and is else cleaned like a description. UIDs are
keyed archive-wide only for the donation's own objects (studies, series,
instances), every other UID for the donor only (``uids.archive_wide``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from pydicom import config
from pydicom.charset import python_encoding
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag, Tag
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID

from .. import __version__, keys
from . import icc
from .allowlist import DICTIONARY_VALUES, SAFE_KEYWORDS
from .codes import standard_meaning
from .dates import shift_da, shift_dt, valid_tm
from .descriptors import clean_descriptor, technical, technical_vocabulary
from .identifiers import (
    NUMBER_TEXT_VRS,
    Identifiers,
    numbers_as_read,
    raw_vr,
    text_as_read,
    undecoded,
    values_as_read,
)
from .normalise import plain, text_readings
from .profile import (
    APPLIED_OPTIONS,
    BASIC_PROFILE,
    DESCRIPTORS_CLEANED,
    load_profile,
    resolve_code,
)
from .risk import MODALITIES, PIXEL_TAGS
from .uids import archive_wide, is_well_known
from .verify import BYTE_VRS, binary_identifies, numbers_identify

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
# Patient's Sex has three values (PS3.3 C.7.1.1); anything else in it is text typed by
# someone, published as nothing.
SEXES = frozenset({"M", "F", "O"})
# What the bytes of a number (IS, DS) may hold: digits, sign, decimal point, exponent,
# padding and the value separator. Other text there (a name typed into a Slice
# Location) is kept by no rule: pydicom would not even read it.
_NUMBER_BYTES = re.compile(rb"[0-9+\-.eE \x00\\]*")
SAFE_TAGS = frozenset(t for t in map(tag_for_keyword, SAFE_KEYWORDS) if t is not None)
_DICTIONARY_TAGS = frozenset(t for t in map(tag_for_keyword, DICTIONARY_VALUES) if t is not None)


@dataclass(frozen=True)
class Donor:
    """What the engine needs to know about the donation a file belongs to."""

    key: bytes
    public_id: str
    date_offset_days: int
    patient_age: str  # DICOM AS, e.g. "045Y"; "090Y" for 90 and over
    sex: str = "O"  # from the donation record, used where the header has none


def _canonical_icc(raw: DataElement | RawDataElement) -> bytes | None:
    """An ICC profile in canonical form, or None (removed) when it cannot be read."""
    value = raw.value
    if not isinstance(value, bytes):
        return None
    try:
        return icc.canonical(value)
    except icc.IccError:
        return None


def _new(tag: int, vr: str, value: object) -> DataElement:
    """A new element. pydicom's value validation (a regular expression per value, with
    warnings only) is skipped: these values are the engine's own (dummies, keyed UIDs,
    shifted dates) or values read from the file, and every output is read back in the
    tests."""
    return DataElement(tag, vr, value, validation_mode=config.IGNORE)


def _dummy_value(vr: str) -> object:
    if vr in _BINARY:
        return b""
    if vr == "AT":
        return None
    return _DUMMIES.get(vr, DUMMY_TEXT)


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
    return Sequence(
        Dataset(
            {
                _CODE_VALUE: _new(_CODE_VALUE, "SH", code),
                _CODING_SCHEME: _new(_CODING_SCHEME, "SH", "DCM"),
                _CODE_MEANING: _new(_CODE_MEANING, "LO", meaning),
            }
        )
        for code, meaning in [BASIC_PROFILE, *APPLIED_OPTIONS.values()]
    )


_CODE_VALUE, _CODING_SCHEME, _CODE_MEANING = Tag(0x00080100), Tag(0x00080102), Tag(0x00080104)
_METHOD_CODES = Tag(0x00120064)


def add_method_codes(ds: Dataset, codes: Iterable[tuple[str, str]]) -> None:
    """Record further CID 7050 methods (code, meaning) in Deidentification Method Code
    Sequence: what the pixel stage did to the pixel data."""
    items = ds[_METHOD_CODES].value if _METHOD_CODES in ds else Sequence()
    present = {str(item.get("CodeValue", "")) for item in items}
    for code, meaning in codes:
        if code not in present:
            items.append(
                Dataset(
                    {
                        _CODE_VALUE: _new(_CODE_VALUE, "SH", code),
                        _CODING_SCHEME: _new(_CODING_SCHEME, "SH", "DCM"),
                        _CODE_MEANING: _new(_CODE_MEANING, "LO", meaning),
                    }
                )
            )
    ds[_METHOD_CODES] = _new(_METHOD_CODES, "SQ", items)


_CODE_VALUES = (_CODE_VALUE, Tag(0x00080119), Tag(0x00080120))  # Code, Long Code, URN Code Value
_CHARACTER_SET, _MODALITY = Tag(0x00080005), Tag(0x00080060)


def _in_dictionary(item: Dataset, tag: BaseTag) -> bool:
    """Whether a dictionary value (``allowlist.DICTIONARY_VALUES``) is an entry of a
    dictionary the archive knows: a code of the standard's schemes (``codes``), the
    character sets pydicom reads. Any other (a local code, a name typed as a code or a
    character set) is technical text, kept as written only when it looks technical."""
    if tag == _MODALITY:
        return _decoded_text(item, tag) in MODALITIES
    if tag == _CHARACTER_SET:
        try:
            values = _as_list(item[tag].value)
        except Exception:  # a value pydicom cannot decode: no entry of any dictionary
            return False
        return all(isinstance(v, str) and v.strip() in python_encoding for v in values)
    scheme, code = _decoded_text(item, _CODING_SCHEME), _decoded_text(item, tag)
    return bool(scheme and code) and standard_meaning(scheme, code) is not None


def _decoded_text(item: Dataset, tag: BaseTag) -> str:
    """The text of one element of ``item`` ('' when absent or not readable as text)."""
    try:
        value = item[tag].value if tag in item else None
    except Exception:  # a value pydicom cannot decode: nothing to keep from it
        return ""
    if isinstance(value, MultiValue | list):
        value = value[0] if value else ""
    return value.strip() if isinstance(value, str) else ""


@dataclass(frozen=True)
class _Decision:
    """What the rules say about a tag before its value is read."""

    name: str  # keyword, "private", or "(gggg,eeee)": how the report counts it
    removed: bool  # removed whatever its value: no rule keeps it, or its rule is X
    safe: bool  # on the allow-list (and not in the table)
    action: str  # the rule's action ("K" for the allow-list)


@cache
def _decide(tag: int) -> _Decision:
    rule = load_profile().rule_for(tag)
    safe = tag in SAFE_TAGS
    name = keyword_for_tag(tag) or (
        "private" if tag >> 16 & 1 else f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
    )
    removed = (rule is None and not safe) or (rule is not None and rule.action == "X")
    return _Decision(name, removed, safe and rule is None, rule.action if rule else "K")


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
        self._uids: dict[tuple[str, str], str] = {}
        # whether numbers stored as binary in the file hold an identifying value: they are
        # searched one by one only then (``verify.numbers_identify``)
        self.numbers_identify = False

    def uid(self, value: str, keyword: str) -> str:
        """The keyed UID for ``value`` of attribute ``keyword``: archive-wide for a
        study, series or instance (and references to them), else for this donor only
        (``uids.archive_wide``), so that a UID shared by the files of different
        patients (a site's synchronization frame of reference) links no donations."""
        value = value.strip().rstrip("\x00")
        if not value or is_well_known(value):
            return value
        if self.done_before and value.startswith("2.25."):
            return value
        scope = "" if archive_wide(keyword) else self.donor.public_id
        new = self._uids.get((scope, value))
        if new is None:
            new = self._uids[scope, value] = keys.uid(self.donor.key, value, scope)
        return new

    def dataset(self, source: Dataset, *, item: bool = False) -> Dataset:
        """The de-identified ``source`` (a sequence item when ``item``: pixel data there
        is removed, as the pixel stage reviews only a file's own pixel data, and an
        image inside an item, a thumbnail or a frame in a functional group, would be
        published neither screened nor searched)."""
        elements: dict[BaseTag, DataElement | RawDataElement] = {}
        for tag in sorted(source.keys()):
            if tag == _CODE_MEANING:
                continue  # decided from the whole item, below
            decision = _decide(tag)
            # removed without decoding its value (most of a header)
            if decision.removed or (item and tag in PIXEL_TAGS):
                self.tally["removed", decision.name] += 1
                continue
            # pixel data left unread stays unread: the writer copies it from the file
            raw = source.get_item(tag, keep_deferred=tag in PIXEL_TAGS)
            if _not_a_number(raw, tag) or self._number_identifies(source, raw, tag):
                self.tally["removed", decision.name] += 1
                continue
            if tag not in PIXEL_TAGS and self._bytes_identify(raw, tag):
                # an ICC profile, a LUT or unknown bytes holding a name or an ID
                self.tally["removed", decision.name] += 1
                continue
            if tag == icc.ICC_PROFILE:  # colour data kept, its free text replaced (``icc``)
                profile = _canonical_icc(raw)
                self.tally["cleaned" if profile else "removed", decision.name] += 1
                if profile:
                    elements[tag] = _new(tag, "OB", profile)
                continue
            dictionary = tag in _DICTIONARY_TAGS and _in_dictionary(source, tag)
            if decision.safe and self._kept_as_read(source, raw, tag, dictionary):
                self.tally["kept", decision.name] += 1
                elements[tag] = raw
                continue
            unread = self._unread(source, tag, raw, decision)
            if unread is not None:
                elements[tag] = unread
                continue
            as_read: RawDataElement | None = raw if isinstance(raw, RawDataElement) else None
            elem = source[tag]
            data = as_read.value if as_read is not None else None
            new = self.element(elem, data if isinstance(data, bytes) else None, dictionary)
            if as_read is not None and new is elem and as_read.VR in (None, elem.VR):
                elements[tag] = as_read  # kept unchanged: written back as read, not re-encoded
            elif new is not None:
                elements[tag] = new
        if _CODE_MEANING in source:
            meaning = self._code_meaning(source)
            if meaning is not None:
                elements[_CODE_MEANING] = _new(_CODE_MEANING, "LO", meaning)
        # an item without a character set of its own reads and writes text in its parent's
        out = Dataset(elements, parent_encoding=source.original_character_set)
        _same_encoding(out, source)
        return out

    def _number_identifies(
        self, source: Dataset, raw: DataElement | RawDataElement, tag: int
    ) -> bool:
        """Whether a number attribute (IS, DS) holds an identifying value, as written or as
        its numbers read (``numbers_as_read``: 0055512345 is 55512345 to a reader)."""
        vr = raw_vr(raw, tag) if isinstance(raw, RawDataElement) else raw.VR
        if vr not in NUMBER_TEXT_VRS:
            return False
        text = text_as_read(source, raw, tag)
        if text is not None:
            values = values_as_read(text, vr)
        else:
            values = [str(v) for v in _as_list(raw.value)]
        shown = "\n".join([*values, *numbers_as_read(values)])
        return bool(self.identifiers.find(shown, strict=True))

    def _bytes_identify(self, raw: DataElement | RawDataElement, tag: int) -> bool:
        """Whether a binary value (OB, OW, UN...) holds an identifying value in any of the
        ways bytes are read as text (``verify.binary_identifies``); numbers stored as
        binary (US, FD...) only when the file's numbers hold one."""
        vr = raw_vr(raw, tag) or raw.VR
        if not self.numbers_identify and not set(str(vr).split(" or ")) & BYTE_VRS:
            return False
        return binary_identifies(self.identifiers, raw, tag)

    def _code_meaning(self, item: Dataset) -> str | None:
        """A coded entry's meaning: the standard's own for a code of a scheme pydicom's
        dictionaries know, else the meaning as written, cleaned like a description;
        None (removed) when nothing safe is left."""
        scheme = _decoded_text(item, _CODING_SCHEME)
        code = next(
            filter(None, (_decoded_text(item, tag) for tag in _CODE_VALUES)),
            "",
        )
        meaning = standard_meaning(scheme, code) if scheme and code else None
        if meaning and not self.identifiers.find(meaning):
            self.tally["replaced", "CodeMeaning"] += 1
            return meaning
        written = _decoded_text(item, _CODE_MEANING)
        cleaned = clean_descriptor(written, self.identifiers) if written else ""
        self.tally["cleaned" if cleaned else "removed", "CodeMeaning"] += 1
        return cleaned or None

    def _kept_as_read(
        self, source: Dataset, raw: DataElement | RawDataElement, tag: int, dictionary: bool
    ) -> bool:
        """Whether an allow-listed element is kept as read, decided from its bytes: numbers
        and binary data (pixel data above all), and text holding no identifying value.
        Anything else (UIDs, sequences, text that needs decoding or holds an identifying
        value) is decided on its decoded value."""
        if undecoded(raw, tag):
            return True
        vr = raw_vr(raw, tag)
        if vr is None or vr in ("UI", "SQ", "UN"):
            return False
        text = text_as_read(source, raw, tag)
        if text is None:
            return False
        if vr not in TEXT_VRS:
            return True
        if any(self.identifiers.find(r) for r in _readings(text)):
            return False
        return dictionary or all(technical(v) for v in values_as_read(text, vr))

    def _unread(
        self,
        source: Dataset,
        tag: BaseTag,
        raw: DataElement | RawDataElement,
        decision: _Decision,
    ) -> DataElement | RawDataElement | None:
        """The element a rule makes of ``raw`` without pydicom decoding its value: kept
        as read, emptied, a dummy, or a new value made from the text as read (keyed UIDs,
        shifted dates, cleaned descriptions). None when pydicom must decode it first
        (sequences, text in other character sets, an element whose VR only decoding
        tells, allow-listed text that may hold an identifying value)."""
        vr = raw.VR if isinstance(raw, RawDataElement) else None
        if not vr or len(vr) != 2 or vr in ("UN", "SQ") or (decision.safe and vr != "UI"):
            return None
        action, name = decision.action, decision.name
        if vr == "UI":
            return self._uids_as_read(tag, raw, decision)
        if action == "C" and vr == "TM":
            text = text_as_read(source, raw, tag)
            return None if text is None else self._time(raw, values_as_read(text, vr), name)
        if action == "K":
            self.tally["kept", name] += 1
            return raw
        if action == "Z":
            self.tally["emptied", name] += 1
            return _new(tag, vr, None)
        if action == "D" and name not in ("PatientName", "PatientID"):
            self.tally["dummy", name] += 1
            return _new(tag, vr, _dummy_value(vr))
        if action != "C":
            return None
        if name == "PatientAge":
            self.tally["replaced", name] += 1
            return _new(tag, vr, self.donor.patient_age)
        text = text_as_read(source, raw, tag)
        if text is None:
            return None
        if vr in ("DA", "DT"):
            shift = shift_da if vr == "DA" else shift_dt
            self.tally["shifted", name] += 1
            dates = values_as_read(text, vr)
            if len(dates) > 1:
                return _new(tag, vr, [shift(v, self.offset) for v in dates])
            return _new(tag, vr, shift(dates[0], self.offset) if dates[0] else dates[0])
        if name in DESCRIPTORS_CLEANED and vr in _CLEANED_VRS:
            return self._cleaned(tag, vr, name, values_as_read(text, vr))
        return None

    def _uids_as_read(
        self, tag: BaseTag, raw: DataElement | RawDataElement, decision: _Decision
    ) -> DataElement | None:
        """A UI element with every UID that is not well known replaced, from its text as
        read (UIDs are ASCII whatever the character set)."""
        if not isinstance(raw, RawDataElement) or raw.value is None:
            return None
        action, name = decision.action, decision.name
        if action == "Z":
            self.tally["emptied", name] += 1
            return _new(tag, "UI", None)
        if action not in ("U", "K", "U*", "D"):
            return None
        self.tally[{"U": "replaced", "D": "dummy"}.get(action, "kept"), name] += 1
        uids = [self.uid(v, name) for v in values_as_read(raw.value.decode("latin-1"), "UI")]
        return _new(tag, "UI", uids if len(uids) > 1 else uids[0])

    def _time(self, elem: DataElement | RawDataElement, times: list[str], name: str) -> DataElement:
        """A time of day is kept (dates move by whole days); a TM holding anything else (a
        date, free text) is emptied."""
        if all(valid_tm(t) for t in times):
            self.tally["kept", name] += 1
            return elem  # type: ignore[return-value]
        self.tally["emptied", name] += 1
        return _new(elem.tag, "TM", None)

    def _cleaned(self, tag: BaseTag, vr: str, name: str, texts: list[str]) -> DataElement:
        """Clean Descriptors: each value with only its safe words left; empty values go."""
        cleaned = [clean_descriptor(t, self.identifiers) for t in texts if t]
        cleaned = [c for c in cleaned if c]
        self.tally["cleaned", name] += 1
        return _new(tag, vr, cleaned[0] if len(cleaned) == 1 else cleaned or None)

    def element(
        self, elem: DataElement, data: bytes | None = None, dictionary: bool = False
    ) -> DataElement | None:
        """The element the rules make of ``elem``; ``data``, its bytes as read, is read in
        every plausible character set too before allow-listed text is kept; ``dictionary``
        when its value is an entry of a dictionary (``_in_dictionary``)."""
        tag, vr = elem.tag, elem.VR
        name = elem.keyword or (
            "private" if tag.is_private else f"({tag.group:04X},{tag.element:04X})"
        )
        rule = self.profile.rule_for(tag)
        if rule is None:
            if elem.keyword not in SAFE_KEYWORDS or (vr == "UN" and name != "PixelData"):
                self.tally["removed", name] += 1
                return None
            if vr in TEXT_VRS and self._identifying(elem, data):
                # technical text that repeats a name, ID or place of the header: when in
                # doubt, remove
                self.tally["removed", name] += 1
                return None
            if vr in TEXT_VRS and not dictionary:
                return self._technical(elem, name)
            action = "K"
        else:
            action = rule.action
        return self._apply(elem, name, action, rule.basic if rule else "X")

    def _technical(self, elem: DataElement, name: str) -> DataElement | None:
        """Allow-listed technical text: kept as written when every value looks technical
        (``descriptors.technical``), else each value cleaned like a description; removed
        when nothing is left (``allowlist`` gives the rule)."""
        texts = [str(t) for t in _as_list(elem.value)]
        if all(technical(t) for t in texts):
            self.tally["kept", name] += 1
            return elem
        words = technical_vocabulary()
        # values that look technical stay as written (ORIGINAL, PRIMARY...), others cleaned
        cleaned = [
            c
            for c in (
                t if technical(t) else clean_descriptor(t, self.identifiers, words) for t in texts
            )
            if c
        ]
        if not cleaned:
            self.tally["removed", name] += 1
            return None
        self.tally["cleaned", name] += 1
        return _new(elem.tag, elem.VR, cleaned[0] if len(cleaned) == 1 else cleaned)

    def _identifying(self, elem: DataElement, data: bytes | None) -> bool:
        value = elem.value
        if value is None:
            return False
        texts = value if isinstance(value, MultiValue | list | tuple) else [value]
        if len(texts) > 1:  # and the values together: a name may be cut over two of them
            texts = [*texts, "\\".join(map(str, texts))]
        readings = [r for t in texts for r in _readings(str(t))]
        if data is not None and not plain(data):  # undecodable, or decoded as declared
            readings += text_readings(data)
        return any(self.identifiers.find(r) for r in readings)

    def _apply(self, elem: DataElement, name: str, action: str, basic: str) -> DataElement | None:
        tag, vr = elem.tag, elem.VR
        if action == "X":
            self.tally["removed", name] += 1
            return None
        if action == "Z":
            self.tally["emptied", name] += 1
            return _new(tag, vr, Sequence() if vr == "SQ" else None)
        if action == "D":
            self.tally["dummy", name] += 1
            return self._dummy(elem)
        if action == "U":
            self.tally["replaced", name] += 1
            return _new(tag, vr, self._map_uids(elem.value, name))
        if action == "C":
            return self._clean(elem, name, basic)
        # K and U*: keep, walking into sequences, replacing any UID that is not well known
        self.tally["kept", name] += 1
        return self._keep(elem)

    def _keep(self, elem: DataElement) -> DataElement:
        if elem.VR == "SQ":
            return _new(elem.tag, "SQ", Sequence([self.dataset(i, item=True) for i in elem.value]))
        if elem.VR == "UI":
            return _new(elem.tag, "UI", self._map_uids(elem.value, elem.keyword))
        return elem

    def _map_uids(self, value: object, keyword: str) -> object:
        if value is None:
            return None
        if isinstance(value, MultiValue | list | tuple):
            return [self.uid(str(v), keyword) for v in value]
        return self.uid(str(value), keyword)

    def _dummy(self, elem: DataElement) -> DataElement:
        tag, vr = elem.tag, elem.VR
        if elem.keyword in ("PatientName", "PatientID"):
            return _new(tag, vr, self.donor.public_id)
        if vr == "SQ":
            return _new(tag, vr, Sequence([self.dataset(i, item=True) for i in elem.value]))
        if vr == "UI":
            return _new(tag, vr, self._map_uids(elem.value, elem.keyword))
        return _new(tag, vr, _dummy_value(vr))

    def _clean(self, elem: DataElement, name: str, basic: str) -> DataElement | None:
        tag, vr, value = elem.tag, elem.VR, elem.value
        offset = self.offset
        if vr == "SQ":
            self.tally["cleaned", name] += 1
            return _new(tag, vr, Sequence([self.dataset(i, item=True) for i in value]))
        if vr in ("DA", "DT"):
            shift = shift_da if vr == "DA" else shift_dt
            self.tally["shifted", name] += 1
            if isinstance(value, MultiValue | list):
                return _new(tag, vr, [shift(str(v), offset) for v in value])
            return _new(tag, vr, shift(str(value), offset) if value else value)
        if vr == "TM":
            texts = value if isinstance(value, MultiValue | list) else [value]
            return self._time(elem, ["" if t is None else str(t) for t in texts], name)
        if elem.keyword == "PatientAge":
            self.tally["replaced", name] += 1
            return _new(tag, vr, self.donor.patient_age)
        if elem.keyword in DESCRIPTORS_CLEANED and vr in _CLEANED_VRS:
            texts = value if isinstance(value, MultiValue | list) else [value]
            return self._cleaned(tag, vr, name, [str(t) for t in texts if t])
        # An option says C for something this archive does not clean: Basic Profile action.
        return self._apply(elem, name, resolve_code(basic), basic)


_CLEANED_VRS = frozenset({"LO", "SH", "ST", "LT", "UT", "UC"})


def _not_a_number(raw: DataElement | RawDataElement, tag: int) -> bool:
    """Whether a number attribute (IS, DS) holds other text than numbers in its bytes."""
    if not isinstance(raw, RawDataElement):
        # decoded by pydicom, which keeps a value it cannot read as a number as text
        values = _as_list(raw.value)
        return raw.VR in NUMBER_TEXT_VRS and any(isinstance(v, str) and v.strip() for v in values)
    if not isinstance(raw.value, bytes):
        return False
    return raw_vr(raw, tag) in NUMBER_TEXT_VRS and not _NUMBER_BYTES.fullmatch(raw.value)


def _readings(text: str) -> list[str]:
    """``text``, and for non-ASCII text also its bytes read in every plausible character
    set: pydicom decodes CS, IS and other VRs as ISO 8859-1 whatever the character set,
    so a UTF-8 name there reads as mojibake, and a wrong character set hides a name the
    same way."""
    if text.isascii() and plain(text.encode("ascii")):
        return [text]
    try:
        return [text, *text_readings(text.encode("latin-1"))]
    except UnicodeEncodeError:  # not read as ISO 8859-1: decoded with its character set
        return [text]


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
    cleaner.numbers_identify = bool(numbers_identify(identifiers, original))
    out = cleaner.dataset(original)
    values: list[tuple[str, object]] = [
        ("PatientName", donor.public_id),
        ("PatientID", donor.public_id),
        ("PatientAge", donor.patient_age),
        ("PatientIdentityRemoved", "YES"),
        ("LongitudinalTemporalInformationModified", "MODIFIED"),
        ("DeidentificationMethod", method_description()),
        ("DeidentificationMethodCodeSequence", _method_codes()),
    ]
    # The donor's sex (the donation record's, at ingest) is published, as the catalogs
    # publish it; the header's own is kept only when the donor gives none.
    # A value other than M, F or O (text typed into it) is published as nothing.
    header_sex = str(out.get("PatientSex", "") or "").strip().upper()
    sex = donor.sex or header_sex
    if sex != header_sex or header_sex not in SEXES:
        values.append(("PatientSex", sex if sex in SEXES else ""))
    for keyword, value in values:
        tag = Tag(keyword)
        out[tag] = _new(tag, dictionary_VR(tag), value)

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = out.SOPClassUID
    meta.MediaStorageSOPInstanceUID = out.SOPInstanceUID
    meta.TransferSyntaxUID = original.file_meta.TransferSyntaxUID
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = f"ARCHIVEBUILDER{__version__.replace('.', '')}"[:16]
    result = FileDataset("", out, file_meta=meta, preamble=b"\0" * 128)
    _same_encoding(result, original)
    return result
