"""What the rest of the pipeline knows about releases and withdrawals."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ReleaseInfo:
    """One published release of the archive."""

    version: str
    date: str  # ISO 8601 day
    notes: str = ""  # Markdown, written by the maintainer
    doi: str | None = None
    added: tuple[str, ...] = ()  # public ids
    withdrawn: tuple[str, ...] = ()
    revised: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Withdrawal:
    """A donation its donor withdrew: only its opaque id and the day remain."""

    public_id: str
    date: str  # ISO 8601 day
