"""Text that the archive publishes: checked at the door, cleaned as a last resort.

Every value that reaches a page, a descriptor or a git commit comes from
``archive.toml``, a donation record or release notes. Those values are
checked when they enter (``problem``): no control characters (XML 1.0 and git
refuse most of them, terminals obey them), no bidirectional overrides (they
make text read differently from what it is), no unassigned or private-use
code points, no lone surrogates. ``clean`` is the build's last resort for a
value that entered before these checks existed: it drops what ``problem``
refuses, so that a build warns instead of crashing.
"""

from __future__ import annotations

import unicodedata

# Embeddings, overrides and isolates (Unicode's "Trojan Source" characters).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_MULTILINE_WHITESPACE = frozenset("\n\t")


def _bad(char: str, multiline: bool) -> str | None:
    """What is wrong with one character, or None."""
    if char in BIDI_CONTROLS:
        return "a bidirectional override"
    category = unicodedata.category(char)
    if category == "Cc":
        if multiline and char in _MULTILINE_WHITESPACE:
            return None
        return "a line break" if char in "\n\r\v\f\x85" else "a control character"
    if category == "Cs":
        return "a lone surrogate"
    if category in ("Co", "Cn"):
        return "an unassigned or private-use character"
    if char in "\u2028\u2029":
        return "a line break"
    return None


def problem(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` cannot be published as it is (never quoting it), or None."""
    for position, char in enumerate(value.replace("\r\n", "\n"), start=1):
        reason = _bad(char, multiline)
        if reason:
            return f"holds {reason} (U+{ord(char):04X}) at character {position}"
    return None


def normalise(value: str) -> str:
    """NFC, the one form in which the archive stores and compares text."""
    return unicodedata.normalize("NFC", value)


def clean(value: str, *, multiline: bool = False) -> str:
    """``value`` without the characters ``problem`` refuses (the build's last resort)."""
    value = value.replace("\r\n", "\n")
    return "".join(c for c in value if _bad(c, multiline) is None)
