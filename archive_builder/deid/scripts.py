"""Other scripts' letters as the Latin letters a reader would type or see.

Two ways a name in the header and its copy elsewhere can differ in script:

- **Transliteration.** Иванов in the header, IVANOV in a description (or the
  other way round); Παπαδόπουλος and PAPADOPOULOS. Cyrillic follows the table of
  ICAO Doc 9303 (Part 3, the machine-readable passport: what a registration desk
  copies from an identity document), with a second spelling for the letters
  that English practice writes otherwise (й y, ю yu, я ya: Sergey beside
  Sergei). Greek follows ELOT 743 / ISO 843 (the Greek passport's), with its
  digraphs: ου ou, αυ/ευ/ηυ av or af, γ before γ κ ξ χ n; the second spelling
  writes χ h.
- **Look-alikes.** A Cyrillic е inside a Latin name reads exactly as the name:
  each character that Unicode's confusables data (UTS #39) gives as
  confusable with one ASCII letter maps to it (``look_alikes.txt``, made by
  ``tools/make_look_alikes.py``).

Transliteration works on folded text (``normalise``: case folded, marks
stripped, except on the Cyrillic letters that carry their own: й, ё, ї...),
look-alikes on the text as written (a capital В looks like B, a small в does
not); both give one piece of text per character, so a span found in a Latin
form maps back to the characters it comes from.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

# ICAO Doc 9303 Part 3, 6.B (Cyrillic), lower case.
_CYRILLIC = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "ґ": "g",
    "д": "d",
    "ђ": "d",
    "ѓ": "g",
    "е": "e",
    "ё": "e",
    "є": "ie",
    "ж": "zh",
    "з": "z",
    "ѕ": "dz",
    "и": "i",
    "і": "i",
    "ї": "i",
    "й": "i",
    "ј": "j",
    "к": "k",
    "л": "l",
    "љ": "lj",
    "м": "m",
    "н": "n",
    "њ": "nj",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "ћ": "c",
    "ќ": "k",
    "у": "u",
    "ў": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "џ": "dz",
    "ш": "sh",
    "щ": "shch",
    "ъ": "ie",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "iu",
    "я": "ia",
}
# The common English spellings where they differ (BGN/PCGN).
_CYRILLIC_OTHER = {"й": "y", "ю": "yu", "я": "ya", "є": "ye", "ї": "yi", "ъ": "", "ё": "yo"}
# ELOT 743 / ISO 843 (type 2, transcription), lower case, marks already stripped.
_GREEK = {
    "α": "a",
    "β": "v",
    "γ": "g",
    "δ": "d",
    "ε": "e",
    "ζ": "z",
    "η": "i",
    "θ": "th",
    "ι": "i",
    "κ": "k",
    "λ": "l",
    "μ": "m",
    "ν": "n",
    "ξ": "x",
    "ο": "o",
    "π": "p",
    "ρ": "r",
    "σ": "s",
    "ς": "s",
    "τ": "t",
    "υ": "y",
    "φ": "f",
    "χ": "ch",
    "ψ": "ps",
    "ω": "o",
}
_GREEK_OTHER = {"χ": "h"}
_VOICELESS = frozenset("θκξπστφχψ")  # αυ/ευ before these (and at the end) is af/ef
_BEFORE_NASAL_G = frozenset("γκξχ")  # γ before these is n (αγγελος angelos)


CYRILLIC = frozenset(_CYRILLIC)


def has_script(folded: str) -> bool:
    """Whether ``folded`` holds a Cyrillic or Greek letter."""
    return any("\u0370" <= c <= "\u052f" for c in folded)


def latin_pieces(folded: str, *, other: bool = False) -> list[str]:
    """For each character of ``folded``, its Latin spelling (itself outside Cyrillic and
    Greek); ``other`` for the second spelling."""
    pieces: list[str] = []
    last = len(folded) - 1
    for index, char in enumerate(folded):
        before = folded[index - 1] if index else ""
        after = folded[index + 1] if index < last else ""
        if char in _CYRILLIC:
            pieces.append(_CYRILLIC_OTHER.get(char, _CYRILLIC[char]) if other else _CYRILLIC[char])
        elif char == "υ" and before == "ο":
            pieces.append("u")
        elif char == "υ" and before in ("α", "ε", "η"):
            pieces.append("f" if not after.isalpha() or after in _VOICELESS else "v")
        elif char == "γ" and after in _BEFORE_NASAL_G:
            pieces.append("n")
        elif char in _GREEK:
            pieces.append(_GREEK_OTHER.get(char, _GREEK[char]) if other else _GREEK[char])
        else:
            pieces.append(char)
    return pieces


@cache
def look_alikes() -> dict[str, str]:
    """Each character confusable with one ASCII letter, and that letter (lower case)."""
    text = resources.files(__package__).joinpath("look_alikes.txt").read_text("utf-8")
    table: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            code, letter = line.split("\t")[:2]
            table[chr(int(code, 16))] = letter
    return table
