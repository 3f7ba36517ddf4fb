"""Clean Descriptors: keep the useful words of a description, drop everything else.

A token survives only if it is not an identifying value of the same header
and is either a known imaging word (``descriptor_words.txt``) or a short
technical token such as T1, 3D, B1000 or 5MM. Names, places, IDs, dates and
phone numbers are none of these, so they go; when in doubt, a word goes.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from .identifiers import Identifiers

_SPLIT = re.compile(r"([^A-Za-z0-9+]+)")
_TECHNICAL = re.compile(r"^(?:[a-z]{1,2}\d{1,4}[a-z]{0,3}|\d{1,3}[a-z]{0,3})$")
# Dates in any common spelling, times, phone numbers, e-mail addresses, URLs.
_LOOKS_IDENTIFYING = re.compile(
    r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}"
    r"|\d{1,2}:\d{2}(?::\d{2})?"
    r"|\+?\d[\d ().-]{6,}\d"
    r"|\S+@\S+"
    r"|\w+://\S+"
)
_MAX_DIGITS = 4


@cache
def vocabulary() -> frozenset[str]:
    text = resources.files(__package__).joinpath("descriptor_words.txt").read_text("utf-8")
    words: set[str] = set()
    for line in text.splitlines():
        if not line.startswith("#"):
            words.update(line.lower().split())
    return frozenset(words)


def _safe(token: str) -> bool:
    lowered = token.lower()
    if lowered in vocabulary():
        return True
    digits = sum(c.isdigit() for c in lowered)
    return digits <= _MAX_DIGITS and bool(_TECHNICAL.match(lowered))


def clean_descriptor(text: str, identifiers: Identifiers) -> str:
    """The cleaned text; empty when nothing safe is left."""
    text = _LOOKS_IDENTIFYING.sub(" ", identifiers.remove_from(text))
    out: list[str] = []
    after_word = False
    for index, piece in enumerate(_SPLIT.split(text)):
        if index % 2:  # a separator: keep one, and only between two kept words
            if after_word:
                mark = piece.strip()
                out.append(mark[0] if mark and " " not in piece else " ")
                after_word = False
        elif piece and _safe(piece):
            out.append(piece)
            after_word = True
    cleaned = "".join(out).strip(" -_/,;:.")
    return re.sub(r"\s{2,}", " ", cleaned) if any(c.isalnum() for c in cleaned) else ""
