"""Clean Descriptors: keep the useful words of a description, drop everything else.

A token survives only if it is not an identifying value of the same header
and is either a known imaging word (``descriptor_words.txt``) or a short
technical token: letters then digits (T1, B1000), a number with a known
unit (5MM, 3D, 120KV), or a bare number below 90. Names, places, IDs, dates
(in digits or with a month name: 03/03/61, 3 March 1961, 15JAN2020), phone
numbers and ages (95Y, 95YO, AGE 95: the age is published apart, and 90 and
over only as 90+) are none of these, so they go; so does a letters-then-digits
token whose digits read as a year (B1961: a birth year, which with the
published age gives the true study year away; round hundreds such as B1000,
B2000 stay, as b-values). When in doubt, a word goes.

Allow-listed technical text (``technical``): attributes outside Table E.1-1
that the archive keeps (``allowlist.py``: a reconstruction or correction
method, a kernel, a coil or sequence name, a coding scheme's version, a stack
ID) hold what a device or a technologist wrote, and nothing but the header's
identifying values is searched for in them. Such a value is kept as written
only when it holds no date in any spelling, time, phone number, e-mail
address, URL or age token, no run of more than four digits and no four-digit
run that reads as a year; any other value is cleaned like a description (and
removed when nothing is left). Codes proper (Code Value, Long Code Value, URN
Code Value) and Specific Character Set are values of dictionaries, numbers
included, and are exempt; they are still removed when they repeat an
identifying value of the header.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from .dates import month_name_pattern
from .identifiers import Identifiers

_SPLIT = re.compile(r"([^A-Za-z0-9+]+)")
_LETTER_LED = re.compile(r"^[a-z]{1,2}\d{1,4}[a-z]{0,3}$")
# units that may follow a number in a description (3D only for 2D, 3D, 4D)
_UNITS = frozenset(
    [
        "mm",
        "cm",
        "ml",
        "cc",
        "mg",
        "kg",
        "s",
        "sec",
        "ms",
        "t",
        "kv",
        "kvp",
        "ma",
        "mas",
        "hz",
        "khz",
        "mhz",
        "deg",
        "ch",
        "x",
        "min",
        "h",
        "mev",
        "kev",
        "mbq",
        "mci",
        "mcg",
        "p",
    ]
)
_NUMBER_LED = re.compile(r"^(\d{1,4})([a-z]*)$")
_MAX_BARE_NUMBER = 89  # a bare number of 90 or more may be an age
# Ages, whatever the spelling: 95Y, 95 YO, 95yrs, 95 years old, 95J, 95 Jahre, AGE 95...
_AGE = re.compile(
    r"(?i)\b(?:age[sd]?|alter|edad|y|yo)\W{0,2}\d{1,3}\b"
    r"|\b\d{1,3}\W{0,2}(?:y|yo|yr|yrs|years?(?:\W?old)?|j|jahre|ans|anos|años|mo|mos|months?"
    r"|wks?|weeks?|days?)\b"
)
# Dates in any common spelling, times, phone numbers, e-mail addresses, URLs.
_LOOKS_IDENTIFYING = re.compile(
    r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}"
    r"|\d{1,2}:\d{2}(?::\d{2})?"
    r"|\+?\d[\d ().-]{6,}\d"
    r"|(?<!\S)\S*@\S+"  # each from a word's start: linear in the text's length
    r"|(?<!\w)\w+://\S+"
)
_MONTH_DATE = re.compile(month_name_pattern(), re.IGNORECASE)
_MAX_DIGITS = 4
_DIGIT_RUN = re.compile(r"\d+")
_FIRST_YEAR, _LAST_YEAR = 1900, 2099


def _year(digits: str) -> bool:
    """Whether a run of digits reads as a year (1961; not a round hundred: 1000, 2000)."""
    return len(digits) == 4 and _FIRST_YEAR <= int(digits) <= _LAST_YEAR and digits[2:] != "00"


def technical(text: str) -> bool:
    """Whether allow-listed technical text may be kept as written (see the module's
    docstring): no date, time, phone number, address, URL or age, no long number and
    no year, no person's name written as a name (``^``, Dr) and no word of four letters
    or more that no list of technical words holds."""
    if _LOOKS_IDENTIFYING.search(text) or _MONTH_DATE.search(text) or _AGE.search(text):
        return False
    if "^" in text or _TITLE.search(text):
        return False
    if any(len(run) > _MAX_DIGITS or _year(run) for run in _DIGIT_RUN.findall(text)):
        return False
    return all(_known(word) for word in _WORDS.findall(text) if len(word) >= _MIN_JUDGED)


# A person's title before a name; mixed case only (DR is digital radiography).
_TITLE = re.compile(r"\b(?:Dr|Drs|Prof|Mrs|Mme|Herr|Frau)\b\.?")
_WORDS = re.compile(r"[^\W\d_]+")
_CAMEL = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
_MIN_JUDGED = 4  # shorter words (acronyms, kernels, units) are not judged
_MIN_PART = 3  # the shortest word a compound is read as made of
_MAX_COMPOUND = 40  # a longer run of letters is no compound of technical words


def imaging_term(text: str) -> bool:
    """Whether ``text`` is made of imaging and anatomy words only (HEAD, ABDOMENPELVIS,
    LOWER_LIMB): a term of the standard's dictionaries, not a person's text."""
    words = _WORDS.findall(text)
    return bool(words) and all(_known(word) for word in words)


def _known(word: str) -> bool:
    """Whether a word is a technical word, or made of technical words (HeadNeck,
    ABDOMENPELVIS): a name no attribute of the header holds is not."""
    words = technical_vocabulary()
    if word.lower() in words:
        return True
    parts = _CAMEL.findall(word) if word.isascii() else [word]
    if len(parts) > 1:
        return all(len(part) < _MIN_JUDGED or _known(part) for part in parts)
    return _compound(word.lower(), words)


def _compound(word: str, words: frozenset[str]) -> bool:
    """Whether ``word`` is written as listed words glued together (parts of three
    letters or more)."""
    if not word.isascii() or len(word) > _MAX_COMPOUND:
        return False
    ends = {0}
    for end in range(_MIN_PART, len(word) + 1):
        if any(word[start:end] in words for start in ends if end - start >= _MIN_PART):
            ends.add(end)
    return len(word) in ends


@cache
def _words_of(name: str) -> frozenset[str]:
    text = resources.files(__package__).joinpath(name).read_text("utf-8")
    words: set[str] = set()
    for line in text.splitlines():
        if not line.startswith("#"):
            words.update(line.lower().split())
    return frozenset(words)


def vocabulary() -> frozenset[str]:
    """The words a cleaned description keeps (``descriptor_words.txt``)."""
    return _words_of("descriptor_words.txt")


@cache
def technical_vocabulary() -> frozenset[str]:
    """The words technical text keeps: a description's and ``technical_words.txt``."""
    return vocabulary() | _words_of("technical_words.txt")


def _safe(token: str, words: frozenset[str] | None = None) -> bool:
    lowered = token.lower()
    if lowered in (words or vocabulary()):
        return True
    number = _NUMBER_LED.match(lowered)
    if number:
        value, unit = number.groups()
        if not unit:
            return len(value) <= 2 and int(value) <= _MAX_BARE_NUMBER
        return unit in _UNITS or (unit == "d" and len(value) == 1)
    digits = _DIGIT_RUN.findall(lowered)
    if sum(map(len, digits)) > _MAX_DIGITS or any(map(_year, digits)):
        return False
    return bool(_LETTER_LED.match(lowered))


def clean_descriptor(
    text: str, identifiers: Identifiers, words: frozenset[str] | None = None
) -> str:
    """The cleaned text; empty when nothing safe is left. ``words`` are the words kept
    (a description's vocabulary by default; ``technical_vocabulary`` for technical
    text)."""
    cleaned = _clean(text, identifiers, words)
    # dropping words may bring two kept pieces of a value together ("12 X 3456"): once more
    return _clean(cleaned, identifiers, words) if cleaned else cleaned


def _clean(text: str, identifiers: Identifiers, words: frozenset[str] | None = None) -> str:
    text = _MONTH_DATE.sub(" ", identifiers.remove_from(text))
    text = _AGE.sub(" ", _LOOKS_IDENTIFYING.sub(" ", text))
    out: list[str] = []
    after_word = False
    for index, piece in enumerate(_SPLIT.split(text)):
        if index % 2:  # a separator: keep one, and only between two kept words
            if after_word:
                mark = piece.strip()
                out.append(mark[0] if mark and " " not in piece else " ")
                after_word = False
        elif piece and _safe(piece, words):
            out.append(piece)
            after_word = True
    cleaned = "".join(out).strip(" -_/,;:.")
    return re.sub(r"\s{2,}", " ", cleaned) if any(c.isalnum() for c in cleaned) else ""
