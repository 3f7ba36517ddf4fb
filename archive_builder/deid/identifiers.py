"""The identifying values of an original header, and searching for them.

The same set serves twice: Clean Descriptors removes these values from the
text it keeps, and the verifier refuses any output in which one survives.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID
from pydicom.valuerep import PersonName

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
_TEXT_VRS = frozenset({"LO", "SH", "LT", "ST", "UT", "UC", "AE", "CS", "UR"})
_COLLECTED_VRS = _TEXT_VRS | {"PN", "DA", "DT", "UI"}
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


def _walk_text(ds: Dataset) -> Iterator[DataElement]:
    """The public elements that can hold an identifying value, at every depth.

    Numbers, binary values and private elements are never decoded: reading a
    header this way costs a fraction of decoding all of it.
    """
    for tag in sorted(ds.keys()):
        if tag >> 16 & 1:
            continue
        raw = ds.get_item(tag, keep_deferred=True)
        vr = getattr(raw, "VR", None)
        if vr is None:
            try:
                vr = dictionary_VR(tag)
            except KeyError:
                vr = "UN"
        if vr == "SQ":
            elem = ds[tag]
            for item in elem.value or ():
                yield from _walk_text(item)
        elif vr in _COLLECTED_VRS:
            yield ds[tag]


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
    _text_re: re.Pattern[str] | None = None
    _uid_re: re.Pattern[str] | None = None
    _text_terms: frozenset[str] | None = None

    def _text_changed(self) -> None:
        self._text_re = None
        self._text_terms = None

    def _uid_changed(self) -> None:
        self._uid_re = None

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
            self._uid_changed()

    def add_dataset(self, ds: Dataset, *, own_output_for: str | None = None) -> None:
        """Collect the identifying values of an original header, file meta included.

        ``own_output_for`` is the donor's public id when ``ds`` is already this
        engine's output for that donor: its pseudonym, shifted dates and keyed
        UIDs are what the engine writes, not identifiers of the original.
        """
        profile = load_profile()
        meta = getattr(ds, "file_meta", None)
        elements = list(_walk_text(meta)) if meta is not None else []
        own = own_output_for is not None
        for elem in [*elements, *_walk_text(ds)]:
            if elem.tag.is_private or elem.VR in ("SQ", "OB", "OW", "UN"):
                continue
            vr = elem.VR
            for value in _values(elem):
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
                elif vr in _TEXT_VRS:
                    rule = profile.rule_for(elem.tag)
                    if (
                        rule is not None
                        and rule.action in _SEARCHED_ACTIONS
                        and _IDENTIFYING_KEYWORD.search(elem.keyword)
                    ):
                        self.add_value(value)

    def _terms(self) -> frozenset[str]:
        if self._text_terms is None:
            terms = set(self.names) | set(self.values)
            for date in self.dates:
                terms |= date_variants(date)
            self._text_terms = frozenset(terms)
        return self._text_terms

    def _maybe(self, lowered: str) -> tuple[bool, bool]:
        """Whether any text term, any UID occurs in ``lowered`` at all (a cheap first pass:
        most values hold none, and then no pattern needs compiling)."""
        text = any(term in lowered for term in self._terms())
        uid = any(uid in lowered for uid in self.uids)
        return text, uid

    def _text_pattern(self) -> re.Pattern[str]:
        if self._text_re is None:
            terms = self._terms()
            alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
            self._text_re = re.compile(rf"(?<![a-z0-9])(?:{alternatives or '(?!)'})(?![a-z0-9])")
        return self._text_re

    def _uid_pattern(self) -> re.Pattern[str]:
        if self._uid_re is None:
            alternatives = "|".join(re.escape(u) for u in sorted(self.uids, key=len, reverse=True))
            self._uid_re = re.compile(rf"(?<![0-9.])(?:{alternatives or '(?!)'})(?![0-9])")
        return self._uid_re

    def find(self, text: str) -> list[str]:
        """Identifying values found in ``text`` (case-insensitive, whole words)."""
        lowered = text.lower()
        text_maybe, uid_maybe = self._maybe(lowered)
        hits = [m.group(0) for m in self._text_pattern().finditer(lowered)] if text_maybe else []
        if uid_maybe:
            hits += [m.group(0) for m in self._uid_pattern().finditer(lowered)]
        return hits

    def remove_from(self, text: str) -> str:
        """``text`` with every identifying value cut out (used by Clean Descriptors)."""
        text_maybe, uid_maybe = self._maybe(text.lower())
        if uid_maybe:
            text = self._uid_pattern().sub(" ", text)
        if not text_maybe:
            return text
        pattern = self._text_pattern()
        lowered = text.lower()
        spans = [m.span() for m in pattern.finditer(lowered)]
        for start, end in reversed(spans):
            text = text[:start] + " " + text[end:]
        return text
