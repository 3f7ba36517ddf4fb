"""Every value the archive derives from its secret key, in one place.

All derivations are HMAC-SHA256 with the archive's key and a purpose label,
so the same input gives the same output on every run (ingest is idempotent,
UIDs stay consistent across files) and nobody without the key can go back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

PUBLIC_ID_PREFIX = "don-"
_MIN_SHIFT_DAYS = 365
_SHIFT_SPAN_DAYS = 3650


def _digest(key: bytes, purpose: str, value: str) -> bytes:
    return hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()


def public_id(key: bytes, donation_id: str) -> str:
    """The donation's public identifier: opaque, stable, and unlinkable to the portal."""
    text = base64.b32encode(_digest(key, "public-id", donation_id)[:10]).decode("ascii")
    return PUBLIC_ID_PREFIX + text.lower()[:12]


def date_offset_days(key: bytes, donation_id: str) -> int:
    """Days every date of a donation moves back: between 1 and 11 years, never 0."""
    number = int.from_bytes(_digest(key, "date-offset", donation_id)[:4], "big")
    return -(_MIN_SHIFT_DAYS + number % _SHIFT_SPAN_DAYS)


def uid(key: bytes, original: str, scope: str = "") -> str:
    """A replacement UID under the ``2.25.`` root (a 128-bit number, as for UUID-derived UIDs).

    ``scope`` (a donor's public id) keys the UID for that donor only: the same
    original UID in two donors' files then gives two UIDs. '' keys it archive-wide.
    """
    value = f"{scope}\x00{original}" if scope else original
    number = int.from_bytes(_digest(key, "uid", value)[:16], "big")
    return f"2.25.{number}"


def log_token(key: bytes, donation_id: str) -> str:
    """What private logs record instead of a donation id."""
    return _digest(key, "log", donation_id).hex()[:16]
