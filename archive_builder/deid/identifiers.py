"""The identifying values of an original header, and searching for them.

The same set serves three times: Clean Descriptors removes these values from
the text it keeps, the engine removes allow-listed technical text that
repeats one, and the verifier refuses any output (and any donation record) in
which one survives. How values are compared is in ``normalise`` (folding)
and ``matching`` (the rule of each kind of value).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, PYDICOM_ROOT_UID
from pydicom.valuerep import CUSTOMIZABLE_CHARSET_VR, PersonName

from ..intake.copies import HIDDEN
from .dates import date_spellings, english_dates
from .errors import DeidError
from .matching import SUBSTRING_LENGTH, Matcher
from .normalise import decodings, fold, is_cjk, other_readings
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
# The dummy date the engine writes (DA 19000101): a placeholder, no one's date.
_PLACEHOLDER_DATES = frozenset({"19000101", "00000000"})
_MIN_VALUE = 4
_MIN_ID = 3  # a short Patient ID (``A12``) is still searched for, as a whole word
_MIN_UID = 6
_MIN_WORD = 4
_DIGITS = frozenset("0123456789")
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
_ID_KEYWORD = re.compile(r"(ID|IDs|Number|Numbers)$")
# ... and those whose words are also searched for one by one: places, and organisations
# (the issuer of an ID names the hospital or trust as well as its institution name does).
_PLACE_KEYWORD = re.compile(
    r"(Address|Institution\w*|Residence|Location|StationName|BranchOfService|"
    r"Organization|^IssuerOf\w*)$"
)
# Where a name component splits into parts: spaces, and the punctuation of compound
# names (Smith-Jones, O'Brien, J.R.).
_NAME_PARTS = re.compile(r"[\s,.\-'\u2019\u2018`]+")
_LETTER_RUNS = re.compile(r"[^\W\d_]+")
_NUMBERS = re.compile(r"\d+")
# The UIDs a site makes for each study; what they share before the per-study part is the
# site's registered root (or a device's), which names the hospital in the UID registries.
_SITE_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")
# Roots shared by everyone, neither collected nor anything under them: the standard's,
# pydicom's, and UUID-derived UIDs'.
_SHARED_ROOTS = ("1.2.840.10008", PYDICOM_ROOT_UID.rstrip("."), "2.25")
# Arcs under which roots are given out (to individuals and to pydicom; to every
# registered enterprise): a root under them is collected, they themselves are not.
_ROOT_SERVICES = ("1.2.826.0.1.3680043.10", "1.3.6.1.4.1")
_MIN_ROOT_ARCS = 4  # 1.2.840.113619 (a vendor's) is the shortest root in use


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


def _dictionary_vr(tag: int) -> str | None:
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return None


def _walk_text(ds: Dataset) -> Iterator[tuple[int, str, Iterable[str]]]:
    """(tag, VR, values) of the public elements that can hold an identifying value, at
    every depth; a value is yielded once for each way it can be read.

    Numbers, binary values and private elements are never decoded (except a
    private element holding a person's name: a vendor's copy of Patient's Name
    names the patient when the public one was blanked), and text in
    ISO 8859-1 (or ASCII) is read straight from its bytes, split and stripped
    as pydicom does: reading a header this way costs a fraction of decoding it.
    Text holding other bytes than ASCII is also read in every plausible
    character set (a wrong or missing Specific Character Set hides nothing),
    and a text attribute stored with a binary VR (a name as OB) is read so too.
    """
    for tag in sorted(ds.keys()):
        if tag >> 16 & 1:
            names = _private_names(ds, tag)
            if names:
                yield tag, "PN", names
            continue
        raw = ds.get_item(tag, keep_deferred=True)
        stored = raw_vr(raw, tag) or getattr(raw, "VR", None) or "UN"
        known = _dictionary_vr(tag)
        vr = known if stored == "UN" else stored
        if vr is None:
            continue  # an unknown attribute stored without its VR: removed, never read
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
            continue
        data = raw.value if isinstance(raw, RawDataElement) else getattr(raw, "value", None)
        if known in _COLLECTED_VRS and vr not in _COLLECTED_VRS:
            # a text attribute stored as bytes (a name as OB): every reading of it
            if isinstance(data, bytes):
                for reading in decodings(data):
                    yield tag, known, values_as_read(reading, known)
            continue
        if vr not in _COLLECTED_VRS:
            continue
        text = _uids_as_read(raw) if vr == "UI" else text_as_read(ds, raw, tag)
        declared = text
        if text is None or raw_vr(raw, tag) == "UN":
            # decoded by pydicom, without replacing the element as read in ``ds``: the
            # engine reads its bytes again, in every plausible character set
            elem = (
                convert_raw_data_element(raw, encoding=ds.original_character_set, ds=ds)
                if isinstance(raw, RawDataElement)
                else ds[tag]
            )
            values = _values(elem)
            declared = "\\".join(values)
            yield tag, elem.VR, values
        else:
            yield tag, vr, values_as_read(text, vr)
        if isinstance(data, bytes) and not data.isascii() and vr != "UI":
            for reading in other_readings(data, declared):
                yield tag, vr, values_as_read(reading, vr)


def _private_names(ds: Dataset, tag: int) -> list[str]:
    """The values of a private element stored as a person's name (VR PN, or UN and PN in
    pydicom's private dictionaries), in every reading; empty for any other."""
    raw = ds.get_item(tag, keep_deferred=True)
    stored = raw_vr(raw, tag) if isinstance(raw, RawDataElement) else getattr(raw, "VR", None)
    if stored not in ("PN", "UN", None):
        return []
    try:
        elem = (
            convert_raw_data_element(raw, encoding=ds.original_character_set, ds=ds)
            if isinstance(raw, RawDataElement)
            else ds[tag]
        )
    except Exception:  # a private value pydicom cannot read: removed, like every private one
        return []
    if elem.VR != "PN":
        return []
    values = list(_values(elem))
    data: object = raw.value if isinstance(raw, RawDataElement) else None
    if isinstance(data, bytes) and not data.isascii():
        for reading in other_readings(data, "\\".join(values)):
            values += values_as_read(reading, "PN")
    return values


def values_as_read(text: str, vr: str) -> list[str]:
    """The values of a text read straight from its bytes, as pydicom reads them: split at
    backslashes (except single-valued VRs) and stripped of padding."""
    if vr in _SINGLE_VALUED:
        return [text.strip(_PADDING)]
    return [value.strip(_PADDING) for value in text.split("\\")]


NUMBER_TEXT_VRS = frozenset({"IS", "DS"})
_LARGEST_WHOLE = 10**18  # beyond this a whole float is not an ID a person wrote


def numbers_as_read(values: Iterable[object]) -> list[str]:
    """The values of an IS or DS attribute as a reader of the numbers shows them, where
    that differs from how they are written: 0055512345 and +55512345 as 55512345, a
    whole number written 5.5512345E7 or 55512345.0 as 55512345. instances.json, the
    catalogs and the pages publish these numbers so, and so does any viewer: an ID
    written as another spelling of its number is still the ID."""
    shown: list[str] = []
    for value in values:
        text = str(value).strip(_PADDING)
        try:
            number = float(text)
        except (TypeError, ValueError, OverflowError):
            continue
        if not number.is_integer() or abs(number) >= _LARGEST_WHOLE:
            continue
        whole = str(int(text) if text.lstrip("+-").isdigit() else int(number))
        if whole != text:
            shown.append(whole)
    return shown


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
def _text_kind(tag: int) -> str | None:
    """How a text attribute's values are searched for: 'id', 'place' (the value and each of
    its words), 'value', or None (not searched for: descriptive text)."""
    rule = load_profile().rule_for(tag)
    keyword = keyword_for_tag(tag)
    if rule is None or rule.action not in _SEARCHED_ACTIONS:
        return None
    if _PLACE_KEYWORD.search(keyword):
        return "place"
    if _ID_KEYWORD.search(keyword):
        return "id"
    return "value" if _IDENTIFYING_KEYWORD.search(keyword) else None


@cache
def _common_words() -> frozenset[str]:
    """Words that name no place in particular: words of institution names and addresses
    (``place_words.txt``), imaging words (``descriptor_words.txt``), and GENERIC."""
    from .descriptors import vocabulary  # descriptors imports this module

    text = resources.files(__package__).joinpath("place_words.txt").read_text("utf-8")
    place_words = {
        w for line in text.splitlines() if not line.startswith("#") for w in line.split()
    }
    return GENERIC | frozenset(place_words) | vocabulary()


def date_variants(yyyymmdd: str) -> set[str]:
    """Every spelling of a date of the header (``dates.date_spellings``)."""
    return date_spellings(yyyymmdd)


def _short_number(spelling: str) -> bool:
    """A spelling of a date that is matched as a whole word only: in digits, fewer than
    eight (030361, 3.3.61), which as a substring would meet any long number (a keyed
    UID, a file size); with a month name, a two-digit year (15JAN20 is not 15JAN2019)."""
    if any(c.isalpha() for c in spelling):
        return not re.search(r"\d{4}", spelling)
    return sum(c.isdigit() for c in spelling) < 8


def _nested(uid: str, root: str) -> bool:
    """Whether ``uid`` is ``root`` or under it."""
    return uid == root or uid.startswith(root + ".")


def uid_roots(uids: Iterable[str]) -> set[str]:
    """The roots of the sites or devices that made ``uids``: for each two of them, the arcs
    they share (a study's UIDs may come from the RIS and the scanner, each with its own
    root), unless that is too short to single anything out or is (part of) a root everyone
    shares."""
    split = sorted({tuple(u.strip().rstrip("\x00").split(".")) for u in uids if u})
    roots: set[str] = set()
    for index, first in enumerate(split):
        for second in split[index + 1 :]:
            common = []
            for a, b in zip(first, second, strict=False):
                if a != b:
                    break
                common.append(a)
            root = ".".join(common)
            if len(common) < _MIN_ROOT_ARCS or not root.replace(".", "").isdigit():
                continue
            shared = any(_nested(root, r) or _nested(r, root) for r in _SHARED_ROOTS)
            if not shared and not any(_nested(r, root) for r in _ROOT_SERVICES):
                roots.add(root)
    return roots


def _cjk_parts(part: str, *, family: bool) -> Iterator[str]:
    """A name written in a CJK script: itself, every run of two characters or more, and
    for a family name its first character (a family name is mostly one character)."""
    for chunk in part.split():
        yield chunk
        if family:
            yield chunk[0]
        for start in range(len(chunk)):
            for end in range(start + 2, len(chunk) + 1):
                yield chunk[start:end]


@dataclass
class Identifiers:
    """What must not appear anywhere in what the archive publishes."""

    names: set[str] = field(default_factory=set)
    values: set[str] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)
    dates: set[str] = field(default_factory=set)
    uids: set[str] = field(default_factory=set)
    # texts the engine writes itself (the donor's public id), blanked before searching:
    # a pseudonym that happens to start with a name part ("don-...") leaks nothing
    own: set[str] = field(default_factory=set)
    # why the values of a file could not all be collected ('' when they were): its study
    # is refused, since what was not collected cannot be searched for
    problem: str = ""
    _matcher: Matcher | None = None

    def _text_changed(self) -> None:
        self._matcher = None

    @classmethod
    def union(cls, parts: Iterable[Identifiers]) -> Identifiers:
        """All values of ``parts`` (the files of one study) in one set."""
        merged = cls()
        for part in parts:
            merged.names |= part.names
            merged.values |= part.values
            merged.ids |= part.ids
            merged.words |= part.words
            merged.dates |= part.dates
            merged.uids |= part.uids
            merged.own |= part.own
            merged.problem = merged.problem or part.problem
        return merged

    def __len__(self) -> int:
        return sum(
            len(s) for s in (self.names, self.values, self.ids, self.words, self.dates, self.uids)
        )

    # -- collecting -------------------------------------------------------------

    def _add_name_part(self, part: str, *, family: bool = False) -> None:
        part = part.strip()
        folded = fold(part)
        if folded in GENERIC or not folded:
            return
        if any(is_cjk(c) for c in part):
            self.names.update(_cjk_parts(part, family=family))
        elif len(folded) >= 2:
            self.names.add(part)

    def add_name(self, text: str) -> None:
        """A person's name (DICOM PN or plain text): every part of every component and
        group, each hyphenated or apostrophe name whole and split, the whole name, and
        family and given names in both orders, with and without a space."""
        for group in text.split("="):
            components = [c.strip() for c in group.split("^")[:3]]  # family, given, middle
            parts = [p for c in components for p in _NAME_PARTS.split(c) if p]
            for part in parts:
                # the two-letter parts of a code used as a name (CQ500-CT-310) are no names
                if len(part) > 2 or _DIGITS.isdisjoint(group):
                    self._add_name_part(part)
            if components[0]:
                self._add_name_part(components[0], family=True)
            for component in components:
                if len(_NAME_PARTS.split(component)) > 1:  # Smith-Jones, O'Brien
                    self._add_name_part(component)
                    self._add_name_part(_NAME_PARTS.sub("", component))
            if len(parts) > 1:
                self._add_name_part(" ".join(parts))
            family, given = [*components, "", ""][:2]
            family, given = _NAME_PARTS.sub("", family), _NAME_PARTS.sub("", given)
            if family and given:
                for first, second in ((family, given), (given, family)):
                    self._add_name_part(first + second)
                    self._add_name_part(f"{first} {second}")
        self._text_changed()

    def add_value(self, text: str) -> None:
        text = text.strip()
        if len(text) >= _MIN_VALUE and fold(text) not in GENERIC:
            self.values.add(text)
            self._text_changed()

    def add_id(self, text: str) -> None:
        """An ID, and each of its numbers of six digits or more without its leading
        zeros (000482913 is written 482913 as often as not)."""
        text = text.strip()
        if len(text) >= _MIN_ID and fold(text) not in GENERIC:
            self.ids.add(text)
            for number in _NUMBERS.findall(text):
                short = number.lstrip("0")
                if short != number and len(short) >= SUBSTRING_LENGTH:
                    self.ids.add(short)
            self._text_changed()

    def add_words(self, text: str) -> None:
        """The words of an address or an institution's name, one by one."""
        common = _common_words()
        for word in _LETTER_RUNS.findall(text):
            if len(word) >= _MIN_WORD and fold(word) not in common:
                self.words.add(word)
        self._text_changed()

    def add_date(self, text: str) -> None:
        digits = text.strip()[:8]
        if len(digits) == 8 and digits.isdigit() and digits not in _PLACEHOLDER_DATES:
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
            self._text_changed()

    def add_dataset(self, ds: Dataset, *, own_output_for: str | None = None) -> None:
        """Collect the identifying values of an original header, file meta included, and
        the roots of its study's UIDs (``uid_roots``).

        ``own_output_for`` is the donor's public id when ``ds`` is already this
        engine's output for that donor: its pseudonym, shifted dates and keyed
        UIDs are what the engine writes, not identifiers of the original.
        """
        meta = getattr(ds, "file_meta", None)
        elements = list(_walk_text(meta)) if meta is not None else []
        for hidden in getattr(ds, HIDDEN, ()):  # copies of an attribute pydicom dropped
            elements += list(_walk_text(hidden))
        own = own_output_for is not None
        for tag, vr, values in [*elements, *_walk_text(ds)]:
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
                elif vr in _TEXT_VRS:
                    kind = _text_kind(tag)
                    if kind == "id":
                        self.add_id(value)
                    elif kind is not None:
                        self.add_value(value)
                        if kind == "place":
                            self.add_words(value)
        for root in uid_roots(str(ds.get(keyword, "") or "") for keyword in _SITE_UIDS):
            self.add_uid(root)

    # -- searching --------------------------------------------------------------

    def matcher(self) -> Matcher:
        """The folded terms, by the rule each matches by (built once per change)."""
        if self._matcher is None:
            matcher = Matcher()
            for name in self.names:
                matcher.add_name(name)
            for value in self.values:
                matcher.add_value(value)
            for value in self.ids:
                matcher.add_value(value)
            for word in self.words:
                matcher.add_word(word)
            for date in self.dates:
                for variant in date_variants(date):
                    if _short_number(variant):
                        matcher.add_word(variant)  # 030361, 3.3.61: whole words only
                    else:
                        matcher.add_value(variant)
            matcher.uids = set(self.uids)
            self._matcher = matcher.finish()
        return self._matcher

    def _blank_own(self, text: str) -> str:
        for own in self.own:
            if own in text:
                text = text.replace(own, " " * len(own))
        return text

    def find(self, text: str, *, strict: bool = False, binary: bool = False) -> list[str]:
        """Identifying values found in ``text`` (folded, as ``matching`` describes; the
        values are returned folded). ``strict`` for numbers, dates, UIDs and the encoded
        header: whole words only; ``binary`` for a binary value read as text. A date
        written with a month name in another language (3 März 61) is found as its
        English spelling (``dates.english_dates``)."""
        text = self._blank_own(text)
        found = self.matcher().find(text, strict=strict, binary=binary)
        if self.dates and not binary:
            other = english_dates(fold(text))
            if other:
                found += self.matcher().find(other, strict=strict)
        return found

    def remove_from(self, text: str) -> str:
        """``text`` with every identifying value cut out (used by Clean Descriptors): UIDs
        first, so that a name glued to a UID is found once the UID is gone. Non-ASCII text
        comes back composed (NFC)."""
        text = self._cut(self._blank_own(text), uids=True)
        return self._cut(text, uids=False)

    def _cut(self, text: str, *, uids: bool) -> str:
        composed, spans = self.matcher().cut_spans(text, uids=uids)
        if not spans:
            return composed
        pieces, position = [], 0
        for start, end in sorted(spans):
            if start >= position:
                pieces.append(composed[position:start] + " ")
            position = max(position, end)
        pieces.append(composed[position:])
        return "".join(pieces)
