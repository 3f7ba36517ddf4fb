"""One normalisation for both sides of every search: the identifiers and the text searched.

A name typed MÜLLER in the header may come back as Müller, MULLER, MUELLER
or in decomposed Unicode (NFD) in a description or in the donation record.
Every text and every identifier is therefore compared in its *folded* forms:

- ``fold``: Unicode case folding, compatibility decomposition (NFKD: full-width
  letters and ligatures become plain ones), combining marks stripped, and the
  letters that have no decomposition mapped (ø o, æ ae, œ oe, ł l, đ d, þ th,
  Turkish dotless ı i; dotted İ folds to i with a mark that is stripped);
- the same after the German and Scandinavian transliterations (ä ae, ö oe,
  ü ue, å aa, ø oe), so MUELLER in a text meets MÜLLER in the header and the
  other way round;
- ``squeeze``: a folded text with every character that is not a letter or a
  digit removed, for identifiers split by separators (``314_159_265``).
- for text holding Cyrillic or Greek letters, its Latin spellings (Иванов
  ivanov, Παπαδόπουλος papadopoulos), and for text holding letters that look
  like Latin ones, the Latin letters they show (a Cyrillic е inside Quibbleton):
  see ``scripts``.

Format characters (Unicode category Cf: the soft hyphen, the zero-width space,
direction marks), which a reader does not see, are dropped by every form.

ASCII text folds to its lower case, at the cost of ``str.lower``.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from functools import cache

from .scripts import CYRILLIC, has_script, latin_pieces, look_alikes

# Letters that NFKD does not decompose, mapped to what a reader would type instead.
_LETTERS = {
    "ø": "o",
    "æ": "ae",
    "œ": "oe",
    "ł": "l",
    "đ": "d",
    "ð": "d",
    "þ": "th",
    "ı": "i",
    "ħ": "h",
    "ŧ": "t",
    "ŋ": "n",
    "ſ": "s",
}
# Transliterations (applied to the case-folded, composed text before folding).
_TRANSLIT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "å": "aa", "ø": "oe", "æ": "ae"})
_TRANSLITERATED = frozenset("äöüåøæ")


class _FoldTable(dict[int, "str | None"]):
    """``str.translate`` table built as characters are met: marks go, special letters are
    mapped, everything else stays (and is remembered)."""

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        value: str | None = _LETTERS.get(char, char)
        category = unicodedata.category(char)
        if category.startswith("M") or category == "Cf":
            value = None  # combining marks (accents, the dot of İ, ...), invisible characters
        self[code] = value
        return value


_FOLD_TABLE = _FoldTable()


def fold(text: str) -> str:
    """``text`` case-folded, decomposed, with marks stripped and special letters mapped."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKD", text.casefold()).translate(_FOLD_TABLE)


def transliterated(text: str) -> str | None:
    """The folded form of ``text`` after the German and Scandinavian transliterations;
    None when they change nothing."""
    if text.isascii():
        return None
    composed = unicodedata.normalize("NFC", text.casefold())
    if _TRANSLITERATED.isdisjoint(composed):
        return None
    return fold(composed.translate(_TRANSLIT))


# The folded forms: as written, after the German and Scandinavian transliterations,
# look-alike letters as the Latin ones they show, and the two Latin spellings of
# Cyrillic and Greek.
_PLAIN, _GERMAN, _LOOK, _LATIN, _LATIN_OTHER = range(5)


def forms(text: str) -> tuple[str, ...]:
    """Every folded form of ``text`` (one for ASCII text), without repeats."""
    first = fold(text)
    if text.isascii():
        return (first,)
    found = [first]
    second = transliterated(text)
    if second is not None and second != first:
        found.append(second)
    for form in _other_forms(text, first):
        folded = fold_mapped(text, form=form)[1]
        if folded not in found:
            found.append(folded)
    return tuple(found)


def _other_forms(text: str, folded: str) -> list[int]:
    """The look-alike and Latin forms that can differ from the plain one for ``text``."""
    table = look_alikes()
    other = [_LOOK] if any(c in table for c in text) else []
    if has_script(folded):
        other += [_LATIN, _LATIN_OTHER]
    return other


@cache
def _fold_char(char: str, form: int) -> str:
    if form == _LOOK:
        char = look_alikes().get(char, char)
    char = char.casefold()
    if form == _GERMAN:
        char = char.translate(_TRANSLIT)
    if form in (_LATIN, _LATIN_OTHER) and char in CYRILLIC:
        return char  # й, ё, ї keep their marks: they have spellings of their own
    return fold(char)


def fold_mapped(text: str, *, form: int = _PLAIN) -> tuple[str, str, list[int]]:
    """(``text`` composed (NFC), its folded form, and for each character of the folded
    form the index of the composed character it comes from): spans found in the folded
    form are cut from the composed text. ``form`` says which folded form."""
    composed = unicodedata.normalize("NFC", text)
    pieces: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(composed):
        folded = _fold_char(char, form) if not char.isascii() else char.lower()
        pieces.append(folded)
        origin.extend([index] * len(folded))
    if form in (_LATIN, _LATIN_OTHER):
        latin = latin_pieces("".join(pieces), other=form == _LATIN_OTHER)
        origin = [origin[i] for i, piece in enumerate(latin) for _ in piece]
        pieces = latin
    return composed, "".join(pieces), origin


def mapped_forms(text: str) -> list[tuple[str, str, list[int]]]:
    """``fold_mapped`` in every form of non-ASCII ``text`` (all share the composed text)."""
    readings = [fold_mapped(text), fold_mapped(text, form=_GERMAN)]
    return readings + [fold_mapped(text, form=f) for f in _other_forms(text, readings[0][1])]


_SEPARATORS = re.compile(r"[\W_]+")
_RUNS = re.compile(r"[^\W_]+")


def squeeze(folded: str) -> str:
    """A folded text with everything but letters and digits removed."""
    return _SEPARATORS.sub("", folded)


def squeeze_mapped(folded: str) -> tuple[str, list[int]]:
    """The squeezed text and, for each of its characters, its index in ``folded``."""
    pieces: list[str] = []
    origin: list[int] = []
    for run in _RUNS.finditer(folded):
        pieces.append(run.group())
        origin.extend(range(run.start(), run.end()))
    return "".join(pieces), origin


def is_cjk(char: str) -> bool:
    """Han, kana and Hangul: scripts whose names are written without spaces, in parts of
    one or two characters."""
    code = ord(char)
    return (
        0x2E80 <= code <= 0x2FDF  # radicals
        or 0x3040 <= code <= 0x30FF  # hiragana, katakana
        or 0x3100 <= code <= 0x31FF  # bopomofo, Hangul compatibility jamo, kana ext.
        or 0x3400 <= code <= 0x4DBF  # Han extension A
        or 0x4E00 <= code <= 0x9FFF  # Han
        or 0xA960 <= code <= 0xA97F  # Hangul jamo extended A
        or 0xAC00 <= code <= 0xD7FF  # Hangul syllables, jamo extended B
        or 0x1100 <= code <= 0x11FF  # Hangul jamo
        or 0xF900 <= code <= 0xFAFF  # Han compatibility
        or 0xFF66 <= code <= 0xFFDC  # half-width kana and Hangul
        or 0x20000 <= code <= 0x3FFFF  # Han extensions B-H
    )


# The encodings a text of unknown or broken character set may be in: what DICOM's
# Specific Character Set names (and what exporters write without naming it).
PLAUSIBLE_ENCODINGS = (
    "utf-8",
    "iso8859-1",
    "cp1252",
    "iso8859-2",
    "iso8859-5",
    "iso8859-7",
    "iso8859-9",
    "cp1251",
    "gb18030",
    "big5",
    "shift_jis",
    "euc_jp",
    "iso2022_jp_2",
    "euc_kr",
    "iso2022_kr",
    "tis-620",
)


def decodings(raw: bytes) -> list[str]:
    """``raw`` decoded every plausible way (each encoding that decodes it without error;
    ISO 8859-1 always does), without repeats. ASCII bytes holding an escape (ISO 2022
    code extensions: a name in JIS X 0208 reads as #Q#U#I... in ASCII) are read so too."""
    if raw.isascii() and b"\x1b" not in raw:
        return [raw.decode("ascii")]
    seen: list[str] = []
    for encoding in PLAUSIBLE_ENCODINGS:
        try:
            text = codecs.decode(raw, encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        if text not in seen:
            seen.append(text)
    return seen


def plain(raw: bytes) -> bool:
    """Whether text bytes read one way only: ASCII with no NUL byte but its padding and no
    escape. A NUL inside text is the mark of UTF-16 or UTF-32 (Q\\0u\\0i\\0...), which
    every reading as a single-byte character set shows as letters kept apart by NULs; an
    escape, of ISO 2022 code extensions that the character set may not declare."""
    return raw.isascii() and b"\x00" not in raw.rstrip(b"\x00 ") and b"\x1b" not in raw


def text_readings(raw: bytes) -> list[str]:
    """Text bytes read every way a search must read them: ``decodings``, and for bytes
    holding a NUL inside (not ``plain``) also with their NULs left out and as UTF-16 and
    UTF-32 in both byte orders from every start. Not for collecting identifiers: these
    readings of ordinary text are noise."""
    found = decodings(raw)
    if b"\x00" not in raw.rstrip(b"\x00 "):
        return found
    found.append(raw.replace(b"\x00", b"").decode("latin-1"))
    for width, names in ((2, ("utf-16-le", "utf-16-be")), (4, ("utf-32-le", "utf-32-be"))):
        for start in range(width):
            part = raw[start : len(raw) - (len(raw) - start) % width]
            found.extend(part.decode(name, errors="replace") for name in names)
    return found


_C1_CONTROLS = re.compile("[\x80-\x9f\ufffd]")


def other_readings(raw: bytes, declared: str | None) -> list[str]:
    """Further readings of non-ASCII text whose declared reading is ``declared`` (None
    when it could not be decoded), for collecting identifiers: UTF-8 when the bytes are
    UTF-8 (a common wrong declaration); every plausible reading when the declared one
    failed or shows control characters (a character set that is not the one declared).
    A clean declared reading adds nothing else: each further reading of a name is a
    term, and mis-readings are noise that would match binary data."""
    try:
        return [raw.decode("utf-8")]
    except UnicodeDecodeError:
        pass
    if declared is None or _C1_CONTROLS.search(declared):
        return decodings(raw)
    return []
