"""The identifying values of an original header, and searching for them.

The same set serves twice: Clean Descriptors removes these values from the
text it keeps, and the verifier refuses any output in which one survives.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache

from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID
from pydicom.valuerep import CUSTOMIZABLE_CHARSET_VR, PersonName

from .errors import DeidError
from .profile import load_profile
from .uids import is_well_known

# Values too generic to mean anything about a person (and that the archive
# itself writes); they are not searched for.
GENERIC = frozenset(
    {
        "anonymous",
        "anonymized",
        "anonymised",
        "unknown",
        "none",
        "n/a",
        "null",
        "test",
        "patient",
        "other",
        "removed",
        "deidentified",
        "yes",
        "no",
    }
)
_MIN_VALUE = 4
_MIN_NAME_PART = 3
_MIN_UID = 6
_DIGITS = frozenset("0123456789")
_WORD = frozenset("abcdefghijklmnopqrstuvwxyz") | _DIGITS  # what a whole word must not touch
_UID_CHARS = _DIGITS | {"."}
_TEXT_VRS = frozenset({"LO", "SH", "LT", "ST", "UT", "UC", "AE", "CS", "UR"})
_COLLECTED_VRS = _TEXT_VRS | {"PN", "DA", "DT", "UI"}
_SINGLE_VALUED = frozenset({"LT", "ST", "UT", "UR"})  # not split at backslashes
_PADDING = " \x00"
_SEARCHED_ACTIONS = frozenset({"X", "Z", "D", "U", "U*"})
# Text attributes whose values identify someone or somewhere (IDs, numbers,
# addresses, institutions, stations, device names), as opposed to descriptive
# text that the profile also removes but that may share words with safe terms.
_IDENTIFYING_KEYWORD = re.compile(
    r"(ID|IDs|Number|Numbers|Address|Institution\w*|Station\w*|Telephone\w*|Name|Residence|"
    r"Location|Issuer\w*|Locator|Rank|BranchOfService|Owner|Manufacturer\w*)$"
)


def walk(ds: Dataset) -> Iterator[DataElement]:
    """Every element of a dataset, at every depth of every sequence."""
    for elem in ds:
        yield elem
        if elem.VR == "SQ" and elem.value:
            for item in elem.value:
                yield from walk(item)


# Values that cannot hold text: numbers stored as binary, and binary data. (IS and DS are
# text in the file; the verifier searches the encoded header bytes for those.)
UNDECODED_VRS = frozenset(
    {
        "AT",
        "DS",
        "FD",
        "FL",
        "IS",
        "OB",
        "OD",
        "OF",
        "OL",
        "OV",
        "OW",
        "SL",
        "SS",
        "SV",
        "UL",
        "US",
        "UV",
    }
)


def raw_vr(raw: object, tag: int) -> str | None:
    """The VR of a raw (undecoded) element; None when it is already decoded or unknown."""
    if not isinstance(raw, RawDataElement):
        return None
    if raw.VR:
        return str(raw.VR)
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return None


def undecoded(raw: object, tag: int) -> bool:
    """Whether a raw element holds numbers or binary data only (it can stay undecoded)."""
    vr = raw_vr(raw, tag)
    return vr is not None and all(v in UNDECODED_VRS for v in vr.split(" or "))


# Text that pydicom decodes with the character set of the dataset (CUSTOMIZABLE_CHARSET_VR),
# and text it decodes as ISO 8859-1 whatever the character set.
_READABLE_VRS = frozenset(
    {*CUSTOMIZABLE_CHARSET_VR, "AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UR"}
)


@cache
def _is_latin_1(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name == "iso8859-1"
    except LookupError:
        return False


def text_as_read(ds: Dataset, raw: DataElement | RawDataElement, tag: int) -> str | None:
    """The text of a raw text element, read straight from its bytes; None when it is decoded
    already, or only pydicom can decode it (another character set, code extensions).

    pydicom decodes an ISO 8859-1 value with ``bytes.decode``, then splits it
    at backslashes and strips the padding: neither is a letter or a digit, so
    the identifying values found in this text are those found in the decoded
    values.
    """
    vr = raw_vr(raw, tag)
    if vr not in _READABLE_VRS or not isinstance(raw, RawDataElement) or raw.value is None:
        return None
    if vr in CUSTOMIZABLE_CHARSET_VR:
        charset = ds.original_character_set
        first = charset if isinstance(charset, str) else next(iter(charset), "")
        if not (first and _is_latin_1(first)) or b"\x1b" in raw.value:
            return None
    return raw.value.decode("latin-1")


def _walk_text(ds: Dataset) -> Iterator[tuple[int, str, Iterable[str]]]:
    """(tag, VR, values) of the public elements that can hold an identifying value, at
    every depth.

    Numbers, binary values and private elements are never decoded, and text in
    ISO 8859-1 (or ASCII) is read straight from its bytes, split and stripped
    as pydicom does: reading a header this way costs a fraction of decoding it.
    """
    for tag in sorted(ds.keys()):
        if tag >> 16 & 1:
            continue
        raw = ds.get_item(tag, keep_deferred=True)
        vr = raw_vr(raw, tag) or getattr(raw, "VR", None) or "UN"
        if vr == "UN":  # pydicom decodes an explicit UN of a known attribute with its VR
            try:
                vr = dictionary_VR(tag)
            except KeyError:
                continue
        if vr == "SQ":
            try:
                items = ds[tag].value
            except Exception:
                items = None
            if not isinstance(items, Sequence):  # a sequence stored as UN that pydicom can't read
                raise DeidError(
                    f"a sequence {tag:08X} stored without its VR cannot be read, so its "
                    "identifying values cannot be collected; the file is refused"
                )
            for item in items:
                yield from _walk_text(item)
        elif vr in _COLLECTED_VRS:
            text = _uids_as_read(raw) if vr == "UI" else text_as_read(ds, raw, tag)
            if text is None or raw_vr(raw, tag) == "UN":
                elem = ds[tag]
                yield tag, elem.VR, _values(elem)
            else:
                yield tag, vr, values_as_read(text, vr)


def values_as_read(text: str, vr: str) -> list[str]:
    """The values of a text read straight from its bytes, as pydicom reads them: split at
    backslashes (except single-valued VRs) and stripped of padding."""
    if vr in _SINGLE_VALUED:
        return [text.strip(_PADDING)]
    return [value.strip(_PADDING) for value in text.split("\\")]


def _uids_as_read(raw: DataElement | RawDataElement) -> str | None:
    if not isinstance(raw, RawDataElement) or raw.value is None:
        return None
    return raw.value.decode("latin-1")


def _values(elem: DataElement) -> Iterable[str]:
    value = elem.value
    if value is None:
        return ()
    if isinstance(value, str | PersonName):
        return (str(value),)
    if isinstance(value, bytes):
        return ()
    try:
        return tuple(str(v) for v in value)
    except TypeError:
        return (str(value),)


@cache
def _identifying_text(tag: int) -> bool:
    """Whether a text attribute names someone or somewhere, so its values are searched for."""
    rule = load_profile().rule_for(tag)
    keyword = keyword_for_tag(tag)
    return (
        rule is not None
        and rule.action in _SEARCHED_ACTIONS
        and bool(_IDENTIFYING_KEYWORD.search(keyword))
    )


def date_variants(yyyymmdd: str) -> set[str]:
    y, m, d = yyyymmdd[:4], yyyymmdd[4:6], yyyymmdd[6:8]
    return {
        yyyymmdd,
        f"{y}-{m}-{d}",
        f"{y}.{m}.{d}",
        f"{y}/{m}/{d}",
        f"{d}.{m}.{y}",
        f"{d}/{m}/{y}",
        f"{m}/{d}/{y}",
        f"{d}-{m}-{y}",
    }


@dataclass
class Identifiers:
    """What must not appear anywhere in what the archive publishes."""

    names: set[str] = field(default_factory=set)
    values: set[str] = field(default_factory=set)
    dates: set[str] = field(default_factory=set)
    uids: set[str] = field(default_factory=set)
    _text_terms: frozenset[str] | None = None

    def _text_changed(self) -> None:
        self._text_terms = None

    @classmethod
    def union(cls, parts: Iterable[Identifiers]) -> Identifiers:
        """All values of ``parts`` (the files of one study) in one set."""
        merged = cls()
        for part in parts:
            merged.names |= part.names
            merged.values |= part.values
            merged.dates |= part.dates
            merged.uids |= part.uids
        return merged

    def __len__(self) -> int:
        return len(self.names) + len(self.values) + len(self.dates) + len(self.uids)

    def add_name(self, text: str) -> None:
        full = " ".join(p for p in re.split(r"[\^=\s]+", text) if p).strip()
        if len(full) >= _MIN_NAME_PART and full.lower() not in GENERIC:
            self.names.add(full.lower())
        for part in re.split(r"[\^=\s,.]+", text):
            if len(part) >= _MIN_NAME_PART and part.lower() not in GENERIC:
                self.names.add(part.lower())
        self._text_changed()

    def add_value(self, text: str) -> None:
        text = text.strip()
        if len(text) >= _MIN_VALUE and text.lower() not in GENERIC:
            self.values.add(text.lower())
            self._text_changed()

    def add_date(self, text: str) -> None:
        digits = text.strip()[:8]
        if len(digits) == 8 and digits.isdigit():
            self.dates.add(digits)
            self._text_changed()

    def add_uid(self, text: str) -> None:
        text = text.strip().rstrip("\x00")
        # Too short to single anything out ("0", "1.2"), the standard's own, or the
        # implementation UID the engine itself writes into every file meta.
        if len(text) < _MIN_UID or "." not in text or text == PYDICOM_IMPLEMENTATION_UID:
            return
        if not is_well_known(text):
            self.uids.add(text)

    def add_dataset(self, ds: Dataset, *, own_output_for: str | None = None) -> None:
        """Collect the identifying values of an original header, file meta included.

        ``own_output_for`` is the donor's public id when ``ds`` is already this
        engine's output for that donor: its pseudonym, shifted dates and keyed
        UIDs are what the engine writes, not identifiers of the original.
        """
        meta = getattr(ds, "file_meta", None)
        elements = list(_walk_text(meta)) if meta is not None else []
        own = own_output_for is not None
        for tag, vr, values in [*elements, *_walk_text(ds)]:
            if vr in ("SQ", "OB", "OW", "UN"):
                continue
            for value in values:
                if not value or (own and value.strip() == own_output_for):
                    continue
                if vr == "PN":
                    self.add_name(value)
                elif vr in ("DA", "DT") and own:
                    continue
                elif vr == "DA":
                    for part in value.split("-"):
                        self.add_date(part)
                elif vr == "DT":
                    self.add_date(value)
                elif vr == "UI":
                    if not (own and value.startswith("2.25.")):
                        self.add_uid(value)
                elif vr in _TEXT_VRS and _identifying_text(tag):
                    self.add_value(value)

    def _terms(self) -> frozenset[str]:
        if self._text_terms is None:
            terms = set(self.names) | set(self.values)
            for date in self.dates:
                terms |= date_variants(date)
            self._text_terms = frozenset(terms)
        return self._text_terms

    def _spans(
        self, lowered: str, *, text: bool = True, uids: bool = True
    ) -> Iterator[tuple[int, int]]:
        """Where identifying values occur in ``lowered`` as whole words: a text value
        not touching another ASCII letter or digit, a UID not inside a longer number.

        Plain substring search, term by term: most texts hold no term, and a
        header's terms change with every study, so a compiled pattern would
        cost more than it saves.
        """
        kinds: list[tuple[Iterable[str], frozenset[str], frozenset[str]]] = []
        kinds += [(self._terms(), _WORD, _WORD)] if text else []
        kinds += [(self.uids, _UID_CHARS, _DIGITS)] if uids else []
        for terms, before, after in kinds:
            for term in terms:
                start = lowered.find(term)
                while start != -1:
                    end = start + len(term)
                    if (start == 0 or lowered[start - 1] not in before) and (
                        end == len(lowered) or lowered[end] not in after
                    ):
                        yield start, end
                    start = lowered.find(term, start + 1)

    def find(self, text: str) -> list[str]:
        """Identifying values found in ``text`` (case-insensitive, whole words)."""
        lowered = text.lower()
        return [lowered[start:end] for start, end in self._spans(lowered)]

    def remove_from(self, text: str) -> str:
        """``text`` with every identifying value cut out (used by Clean Descriptors): UIDs
        first, so that a name glued to a UID is a whole word once the UID is gone."""
        text = self._cut(text, text_terms=False, uids=True)
        return self._cut(text, text_terms=True, uids=False)

    def _cut(self, text: str, *, text_terms: bool = True, uids: bool = True) -> str:
        lowered = text.lower()
        if len(lowered) != len(text):  # lowering changed the length: cut from the lowered text
            text = lowered
        cut = sorted(self._spans(lowered, text=text_terms, uids=uids))
        if not cut:
            return text
        pieces, position = [], 0
        for start, end in cut:
            if start >= position:
                pieces.append(text[position:start] + " ")
            position = max(position, end)
        pieces.append(text[position:])
        return "".join(pieces)
