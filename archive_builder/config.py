"""``archive.toml``: loaded once into one typed, immutable :class:`ArchiveConfig`.

Problems are collected, then reported together (as mkdocs does), each with the
line to fix, so a maintainer fixes the file in one pass.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import text as published_text
from .errors import ConfigError
from .licenses import LICENSES

CONFIG_FILE = "archive.toml"

_DOI_PREFIX = re.compile(r"10\.\d{4,9}")


@dataclass(frozen=True)
class Limits:
    """Sizes past which a donation package is refused before it is read.

    A DICOM object of a single study is rarely above a few hundred MB; the
    defaults leave ample room and still stop a zip bomb or a disk-filling file.
    """

    max_file_bytes: int = 4 * 1024**3
    max_package_bytes: int = 64 * 1024**3
    max_package_files: int = 100_000
    max_compression_ratio: int = 200


@dataclass(frozen=True)
class ArchiveConfig:
    """Everything the archive says about itself. All of it is public."""

    name: str
    description: str
    publisher: str
    contact: str
    base_url: str
    license: str
    doi_prefix: str | None = None
    doi_per_donation: bool = False  # register a DOI for each donation too (needs doi_prefix)
    limits: Limits = field(default_factory=Limits)

    @property
    def identity(self) -> tuple[str, str]:
        """The git author and committer of every commit the archive makes."""
        return self.name, self.contact


_FIELDS: dict[str, str] = {
    "name": "the archive's title, shown on every page",
    "description": "what the archive holds, in Markdown",
    "publisher": "the organisation that publishes the archive",
    "contact": "an e-mail address for questions and withdrawals",
    "base_url": "the public URL the site is served from, e.g. https://data.example.org/",
    "license": f"the default licence, one of {', '.join(LICENSES)}",
}
_OPTIONAL = {"doi_prefix", "doi_per_donation"}
_LIMIT_FIELDS = {f for f in Limits.__dataclass_fields__}


def _line_of(text: str, key: str, table: str | None = None) -> int | None:
    """The 1-based line where ``key`` is assigned (inside ``[table]`` if given)."""
    current: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        header = re.match(r"^\[([^\]]+)\]", stripped)
        if header:
            current = header.group(1).strip()
            continue
        if current == table and re.match(rf"^{re.escape(key)}\s*=", stripped):
            return number
    return None


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
# RFC 3986 path characters: unreserved, sub-delims, ':', '@', '/', and %XX escapes.
_URL_PATH = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*")


def url_problem(value: str) -> str | None:
    """Why ``value`` is not a plain http(s) URL to serve a site from, or None."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        return f"is not a URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "is not an http(s) URL such as https://data.example.org/"
    if parts.query or parts.fragment or "?" in value or "#" in value:
        return "must not carry a query or fragment"
    if parts.username is not None or parts.password is not None:
        return "must not carry a user name or password"
    host = parts.hostname or ""
    if not host.isascii():
        return "has a host name with non-ASCII letters; write it in its ASCII (xn--) form"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.split(".")
        if not all(_HOST_LABEL.fullmatch(label) for label in labels):
            return f"has no valid host name ({host or 'none'})"
    if port == 0:
        return "has port 0"
    if not _URL_PATH.fullmatch(parts.path):
        return "has characters that a URL path cannot hold (spaces, quotes, <, >...); escape them"
    return None


def email_problem(value: str) -> str | None:
    # imported here: email_validator takes longer to import than the command line to start
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        return f"is not an e-mail address ({exc})"
    return None


def _one_line_problem(key: str, value: str) -> str | None:
    found = published_text.problem(value)
    if found:
        return found
    if not any(c.isalnum() for c in value):
        return "has no letter or digit"
    if key == "name" and ("<" in value or ">" in value):
        # The name is the author of every commit; git drops angle brackets from names.
        return "must not hold '<' or '>' (it is the author name of every commit)"
    return None


def load_config(root: Path) -> ArchiveConfig:
    """Read and check ``root/archive.toml``; raise one ConfigError listing every problem."""
    path = root / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(
            f"{root} is not an archive: it has no {CONFIG_FILE}. "
            f"Create one with `archive-builder init {root}`."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save it as UTF-8.") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}. Fix that line and try again.") from None
    return parse_config(data, text, path)


def parse_config(data: dict[str, Any], text: str, path: Path) -> ArchiveConfig:
    problems: list[str] = []

    def problem(key: str, message: str, table: str | None = None) -> None:
        line = _line_of(text, key, table)
        where = f"{path}:{line}" if line else str(path)
        problems.append(f"{where}: {key}: {message}")

    values: dict[str, Any] = {}
    for key, meaning in _FIELDS.items():
        value = data.get(key)
        if value is None:
            problem(key, f'missing; add `{key} = "..."` ({meaning})')
        elif not isinstance(value, str) or not value.strip():
            problem(key, f"must be a non-empty string ({meaning})")
        else:
            value = published_text.normalise(value.strip())
            found = (
                published_text.problem(value, multiline=True)
                if key == "description"
                else _one_line_problem(key, value)
            )
            if found:
                problem(key, found)
            else:
                values[key] = value

    if "contact" in values:
        found = email_problem(values["contact"])
        if found:
            problem("contact", f"{values['contact']!r} {found}")
            del values["contact"]
    if "base_url" in values:
        found = url_problem(values["base_url"])
        if found:
            problem("base_url", f"{values['base_url']!r} {found}")
            del values["base_url"]
        else:
            values["base_url"] = values["base_url"].rstrip("/") + "/"
    if "license" in values and values["license"] not in LICENSES:
        problem("license", f"{values['license']!r} is not one of {', '.join(LICENSES)}")

    doi_prefix = data.get("doi_prefix")
    if doi_prefix is not None and (
        not isinstance(doi_prefix, str) or not _DOI_PREFIX.fullmatch(doi_prefix)
    ):
        problem("doi_prefix", f"{doi_prefix!r} is not a DOI prefix such as 10.12345")
    per_donation = data.get("doi_per_donation", False)
    if not isinstance(per_donation, bool):
        problem("doi_per_donation", "must be true or false")
        per_donation = False
    elif per_donation and doi_prefix is None:
        problem(
            "doi_per_donation",
            "needs doi_prefix: set doi_prefix to your DataCite prefix, or remove this line",
        )

    limits = Limits()
    raw_limits = data.get("limits", {})
    if not isinstance(raw_limits, dict):
        problem("limits", "must be a table: [limits]")
        raw_limits = {}
    limit_values: dict[str, int] = {}
    for key, value in raw_limits.items():
        if key not in _LIMIT_FIELDS:
            problem(key, f"unknown setting; known: {', '.join(sorted(_LIMIT_FIELDS))}", "limits")
        elif isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            problem(key, "must be a positive whole number", "limits")
        else:
            limit_values[key] = value
    if limit_values:
        limits = Limits(**limit_values)

    for key in data:
        if key not in _FIELDS and key not in _OPTIONAL and key != "limits":
            known = ", ".join([*_FIELDS, *sorted(_OPTIONAL), "[limits]"])
            shown = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else repr(key)
            problem(shown, f"unknown setting (a typo?); known settings: {known}")

    if problems:
        count = len(problems)
        raise ConfigError(
            f"{path} has {count} problem{'s' if count > 1 else ''}:\n  " + "\n  ".join(problems)
        )
    return ArchiveConfig(
        doi_prefix=doi_prefix, doi_per_donation=per_donation, limits=limits, **values
    )


def render_config(
    name: str,
    publisher: str,
    contact: str,
    base_url: str,
    license: str = "CC-BY-4.0",
    description: str | None = None,
) -> str:
    """The text of a fresh ``archive.toml``, commented for the maintainer who edits it."""
    description = description or (
        f"{name} publishes imaging studies that patients chose to donate for research, "
        "de-identified following DICOM PS3.15 Annex E."
    )

    safe_description = description.replace('"' * 3, "'" * 3)

    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return f"""\
# archive-builder configuration. Everything in this file is published.
# Edit it, then run `archive-builder build`.

# The archive's title, shown on every page and in every citation.
name = {quoted(name)}

# What the archive holds, in Markdown.
description = \"\"\"
{safe_description}
\"\"\"

# Who publishes the archive, and where to write (questions, withdrawals).
publisher = {quoted(publisher)}
contact = {quoted(contact)}

# Where the site in site/ is served from; used in clone commands and descriptors.
base_url = {quoted(base_url)}

# The default licence of donations: CC-BY-4.0 or CC0-1.0.
license = {quoted(license)}

# With a DataCite prefix, releases get DOIs under it.
# doi_prefix = "10.12345"
# If your DataCite membership allows it, each donation gets a DOI too (registered at release).
# doi_per_donation = true

# Sizes past which a package is refused before it is read.
[limits]
max_file_bytes = {Limits.max_file_bytes}
max_package_bytes = {Limits.max_package_bytes}
max_package_files = {Limits.max_package_files}
"""
