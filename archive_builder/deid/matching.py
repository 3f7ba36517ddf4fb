"""Where identifying values occur in a text: the matching rules, in one place.

Both sides are folded first (see ``normalise``). Then each kind of value
matches by its own rule:

- **Name parts** of three letters or more (a part holding a digit is a code, and
  matches like an ID) match where they are not part of a
  longer word: the letters glued to them must be other parts of the same name
  (``JOHNSMITH``), or for parts of five letters or more at most two letters in
  all (initials: ``JSMITHG``, ``DRSMITH``); digits may touch them (``SMITH1970``).
- **Two-letter name parts** (``LI``, ``NA``) match only as whole tokens, touching
  no letter or digit; in concatenations (``LINA``, ``NALI``) they are found as
  the concatenated forms collected with them.
- **CJK name parts** (Han, kana, Hangul) match anywhere, at any length: these
  scripts write names without spaces.
- **IDs, other identifying values and dates** of six characters or more match
  anywhere (``MRN55512345``), and those holding a digit also once separators are
  removed from the text (``314_159_265``, ``1980 01 01``); shorter ones (IDs of
  three to five characters, values of four or five) and words of addresses and
  institutions match as whole words. The digits of an ID with letters, six or
  more, are searched for on their own too (834422154 of PX834422154).
- **UIDs** match where they are not part of a longer UID or number.

``binary`` matching is for binary values (an ICC profile, a LUT) read as text:
strict matching, and also IDs, values and dates of six characters or more
anywhere (``DOB19610303``, ``PX55512345X``) and name parts of five letters or
more by the glue rule (``QuibbletonAnna1961``). Shorter terms stay whole
words there: random bytes read as text are full of short runs of letters.

``strict`` matching is for text that is not free text: numbers and dates in
the header (DS, IS, DA, TM, UI...) and the encoded header bytes read as text,
where binary values and keyed UIDs stand next to each other. There every
value matches only as a whole word, touching no ASCII letter or digit, and
only values of three characters or more (four for IDs and other values, two
for CJK names) are searched: a short ID would meet instance numbers, and a
two-letter part would meet binary values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from .normalise import forms, is_cjk, mapped_forms, squeeze, squeeze_mapped

SUBSTRING_LENGTH = 6  # IDs, values and dates at least this long match anywhere
_GLUE_LETTERS = 2  # letters that may stick to a name part of five letters or more
_GLUE_LENGTH = 5
_ASCII_WORD = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_DIGITS = frozenset("0123456789")
_UID_BEFORE = _DIGITS | {"."}
_DECIMAL = frozenset(".,")
Rule = Callable[[str, int, int], bool]
_DIGIT_RUNS = re.compile(rf"\d{{{SUBSTRING_LENGTH},}}")
_UID_RUNS = re.compile(r"[0-9.]+")
_UID_TEXT = re.compile(r"[0-9][0-9.]*")


# Letters written one (or a few) at a time, apart: Q U I B B L E T O N, Q.U.I.B.B, QUI BBL
# ETON, a name split over the values of an attribute (QUIBB\\LETON). Runs of at least two
# short pieces of letters, each kept apart by one to three separators.
_SPELLED = re.compile(
    r"(?<![^\W\d_])[^\W\d_]{1,4}(?:[\s.,_/\\-]{1,3}[^\W\d_]{1,4}){1,}(?![^\W\d_])"
)
_SPELLED_GAPS = re.compile(r"[\s.,_/\\-]+")
# and single letters apart, after a word of a few letters too (FFE Q U I B B L E T O N)
_SINGLE_LETTERS = re.compile(r"(?<![^\W\d_])[^\W\d_](?:[\s.,_/\\-]{1,3}[^\W\d_]){2,}(?![^\W\d_])")


def spelled_out(folded: str) -> str:
    """The runs of letters spelled apart in ``folded`` (``_SPELLED``), each written again
    without its separators, one a line ('' when there are none): searched like any text,
    so that a name spelled letter by letter, or cut in pieces, is found."""
    found = _SPELLED.findall(folded) + _SINGLE_LETTERS.findall(folded)
    runs = [_SPELLED_GAPS.sub("", run) for run in found]
    return "\n".join(run for run in runs if len(run) >= 3)


def _has_digit(text: str) -> bool:
    return not _DIGITS.isdisjoint(text)


@dataclass
class Matcher:
    """Folded terms grouped by the rule they match by."""

    anywhere: set[str] = field(default_factory=set)  # substrings
    words: set[str] = field(default_factory=set)  # whole words
    glued: set[str] = field(default_factory=set)  # name parts: the glue rule
    tokens: set[str] = field(default_factory=set)  # two-letter name parts: whole tokens
    squeezed: set[str] = field(default_factory=set)  # in the text without separators
    strict: set[str] = field(default_factory=set)  # whole words, strict texts
    strict_anywhere: set[str] = field(default_factory=set)  # CJK names in strict texts
    uids: set[str] = field(default_factory=set)
    parts: frozenset[str] = frozenset()  # name parts that may be glued to each other
    binary_anywhere: frozenset[str] = frozenset()  # long values, binary texts (set by finish)
    binary_glued: frozenset[str] = frozenset()  # long name parts, binary texts (set by finish)
    odd_uids: list[str] | None = None  # UIDs that are not digits and dots (set by finish)

    def add_name(self, term: str) -> None:
        if _has_digit(term):  # a code used as a name (CT1, CQ500-310): matched like an ID
            self.add_value(term, strict_min=3)
            return
        for folded in forms(term):
            if any(is_cjk(c) for c in folded):
                self.anywhere.add(folded)
                if len(folded) >= 2:
                    self.strict_anywhere.add(folded)
            elif len(folded) == 2 and folded.isalpha():
                self.tokens.add(folded)
            elif len(folded) >= 3:
                self.glued.add(folded)
                self.strict.add(folded)

    def add_value(self, term: str, *, strict_min: int = 4) -> None:
        for digits in _DIGIT_RUNS.findall(term):
            if digits != term:  # the number of an ID with letters (PX834422154)
                self.add_value(digits, strict_min=strict_min)
        for folded in forms(term):
            (self.anywhere if len(folded) >= SUBSTRING_LENGTH else self.words).add(folded)
            if len(folded) >= strict_min:
                self.strict.add(folded)
            squeezed = squeeze(folded)
            if len(squeezed) >= SUBSTRING_LENGTH and _has_digit(squeezed):
                self.squeezed.add(squeezed)

    def add_word(self, term: str) -> None:
        for folded in forms(term):
            self.words.add(folded)
            self.strict.add(folded)

    def finish(self) -> Matcher:
        self.parts = frozenset(t for t in self.glued | self.tokens if " " not in t)
        self.odd_uids = [term for term in self.uids if not _UID_TEXT.fullmatch(term)]
        self.binary_anywhere = frozenset(
            t for t in self.anywhere if len(t) >= SUBSTRING_LENGTH and not any(map(is_cjk, t))
        )
        self.binary_glued = frozenset(t for t in self.glued if len(t) >= _GLUE_LENGTH)
        return self

    # -- searching ------------------------------------------------------------

    def spans(
        self, folded: str, *, strict: bool = False, text: bool = True, uids: bool = True
    ) -> Iterator[tuple[int, int]]:
        """Where terms (text terms, UIDs or both) occur in the folded text ``folded``."""
        if text and strict:
            yield from _occurrences(folded, self.strict_anywhere, None)
            yield from _occurrences(folded, self.strict, self._strict_word)
        elif text:
            yield from _occurrences(folded, self.anywhere, None)
            yield from _occurrences(folded, self.words, self._word)
            yield from _occurrences(folded, self.glued, self._glued)
            yield from _occurrences(folded, self.tokens, self._token)
        if uids and self.uids:
            if self.odd_uids is None:
                self.finish()
            yield from _uid_occurrences(folded, self.uids)
            yield from _occurrences(folded, self.odd_uids or (), _uid_alone)

    def squeezed_spans(self, squeezed_text: str) -> Iterator[tuple[int, int]]:
        yield from _occurrences(squeezed_text, self.squeezed, None)

    def binary_spans(self, folded: str) -> Iterator[tuple[int, int]]:
        """Where terms occur in a binary value read as text (``binary`` matching)."""
        yield from self.spans(folded, strict=True)
        yield from _occurrences(folded, self.binary_anywhere, None)
        yield from _occurrences(folded, self.binary_glued, self._glued)

    def find(self, text: str, *, strict: bool = False, binary: bool = False) -> list[str]:
        found: list[str] = []
        for folded in forms(text):
            if binary:
                if self.odd_uids is None:
                    self.finish()
                found.extend(folded[s:e] for s, e in self.binary_spans(folded))
                continue
            found.extend(folded[s:e] for s, e in self.spans(folded, strict=strict))
            if not strict and self.squeezed and _has_digit(folded):
                squeezed_text = squeeze(folded)
                found.extend(squeezed_text[s:e] for s, e in self.squeezed_spans(squeezed_text))
            if not strict:
                spelled = spelled_out(folded)
                if spelled:
                    found.extend(spelled[s:e] for s, e in self.spans(spelled, uids=False))
        return found

    def cut_spans(self, text: str, *, uids: bool) -> tuple[str, list[tuple[int, int]]]:
        """``text`` composed (NFC), and the spans of it that hold a term (UIDs only, or
        everything else): found in every folded form, mapped back to the composed text."""
        readings: list[tuple[str, str, list[int] | None]]
        readings = [(text, text.lower(), None)] if text.isascii() else list(mapped_forms(text))
        composed = readings[0][0]
        found: list[tuple[int, int]] = []
        for _, folded, origin in readings:
            local = list(self.spans(folded, text=not uids, uids=uids))
            if not uids and self.squeezed and _has_digit(folded):
                squeezed_text, back = squeeze_mapped(folded)
                local += [(back[s], back[e - 1] + 1) for s, e in self.squeezed_spans(squeezed_text)]
            found += [_back(span, origin) for span in local]
        return composed, found

    # -- the rules --------------------------------------------------------------

    def _word(self, text: str, start: int, end: int) -> bool:
        return _alone(text, start, end, str.isalnum)

    def _strict_word(self, text: str, start: int, end: int) -> bool:
        return _alone(text, start, end, lambda c: c in _ASCII_WORD)

    def _token(self, text: str, start: int, end: int) -> bool:
        return _alone(text, start, end, str.isalnum)

    def _glued(self, text: str, start: int, end: int) -> bool:
        left = start
        while left > 0 and text[left - 1].isalpha():
            left -= 1
        right = end
        while right < len(text) and text[right].isalpha():
            right += 1
        if left == start and right == end:
            return True
        extra = _unpeeled(text[left:start], self.parts, from_end=True) + _unpeeled(
            text[end:right], self.parts, from_end=False
        )
        allowed = _GLUE_LETTERS if end - start >= _GLUE_LENGTH else 0
        return extra <= allowed


def _back(span: tuple[int, int], origin: list[int] | None) -> tuple[int, int]:
    if origin is None:
        return span
    start, end = span
    return origin[start], origin[end - 1] + 1


def _unpeeled(run: str, parts: frozenset[str], *, from_end: bool) -> int:
    """How many letters of ``run`` remain once name parts are peeled off the side that
    touches the match."""
    while run:
        for part in parts:
            if from_end and run.endswith(part):
                run = run[: -len(part)]
                break
            if not from_end and run.startswith(part):
                run = run[len(part) :]
                break
        else:
            return len(run)
    return 0


def _alone(text: str, start: int, end: int, is_word: Callable[[str], bool]) -> bool:
    """Whether text[start:end] touches no letter or digit (``is_word`` says which
    characters count); a number also touches no decimal point or comma of a number."""
    test = is_word
    before = text[start - 1] if start else ""
    after = text[end] if end < len(text) else ""
    if (before and test(before)) or (after and test(after)):
        return False
    if text[start].isdigit() and before in _DECIMAL and start >= 2 and text[start - 2].isdigit():
        return False
    number_after = after in _DECIMAL and end + 1 < len(text) and text[end + 1].isdigit()
    return not (text[end - 1].isdigit() and number_after)


def _uid_alone(text: str, start: int, end: int) -> bool:
    return (start == 0 or text[start - 1] not in _UID_BEFORE) and (
        end == len(text) or text[end] not in _DIGITS
    )


def _uid_occurrences(text: str, uids: set[str]) -> Iterator[tuple[int, int]]:
    """Where the UIDs of ``uids`` occur alone (``_uid_alone``), in one pass over the text.

    A UID that is alone begins a run of digits and dots and ends where the next
    character is not a digit: at the end of the run or before one of its dots. So
    each run is looked up at those few places: a study's thousands of UIDs cost a
    few set lookups per run, not one search of the text each. (A term that is not
    digits and dots is never found here: ``Matcher.odd_uids`` searches those.)"""
    for run in _UID_RUNS.finditer(text):
        start, value = run.start(), run.group()
        ends = [i for i, c in enumerate(value) if c == "."]
        for end in [*ends, len(value)]:
            if end and value[:end] in uids:
                yield start, start + end


def _occurrences(text: str, terms: Iterable[str], rule: Rule | None) -> Iterator[tuple[int, int]]:
    """Plain substring search, term by term: most texts hold no term, and a header's
    terms change with every study, so a compiled pattern would cost more than it saves."""
    check = rule
    for term in terms:
        start = text.find(term)
        while start != -1:
            end = start + len(term)
            if check is None or check(text, start, end):
                yield start, end
            start = text.find(term, start + 1)
