"""Registering DOIs with the DataCite REST API, or writing the metadata ready to register.

Credentials come from the environment (``DATACITE_USERNAME``, ``DATACITE_PASSWORD``,
optionally ``DATACITE_API_URL``, e.g. https://api.test.datacite.org for the test
system); they are never written to the archive.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ..config import ArchiveConfig
from ..errors import ArchiveError
from ..release.model import ReleaseInfo
from ..store.content import StoredDonation
from .datacite import archive_datacite, donation_datacite, release_datacite

log = logging.getLogger(__name__)
DEFAULT_API = "https://api.datacite.org"


class DoiError(ArchiveError, RuntimeError):
    """DataCite refused a registration, or could not be reached."""


@dataclass(frozen=True)
class DataCiteCredentials:
    username: str  # the repository id, e.g. ORG.REPO
    password: str = field(repr=False)
    api_url: str = DEFAULT_API


def credentials_from_env(env: Mapping[str, str] = os.environ) -> DataCiteCredentials | None:
    username, password = env.get("DATACITE_USERNAME"), env.get("DATACITE_PASSWORD")
    if not username or not password:
        return None
    return DataCiteCredentials(username, password, env.get("DATACITE_API_URL", DEFAULT_API))


@dataclass(frozen=True)
class Registration:
    """What a release did about DOIs: registered them, or left them ready to register."""

    status: str  # "registered" | "ready"
    message: str
    submitted: dict[str, dict[str, Any]]  # DOI -> attributes sent (or to send)
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)  # DOI -> DataCite's reply

    def record(self) -> dict[str, Any]:
        """A JSON-ready record of what was registered, to store with the release."""
        return {
            "status": self.status,
            "message": self.message,
            "dois": {
                doi: {
                    "attributes": attrs,
                    "state": self.responses.get(doi, {})
                    .get("data", {})
                    .get("attributes", {})
                    .get("state"),
                }
                for doi, attrs in self.submitted.items()
            },
        }


def put_doi(
    attributes: dict[str, Any],
    credentials: DataCiteCredentials,
    event: str = "publish",
    timeout: float = 30,
) -> dict[str, Any]:
    """Create or update one DOI (``PUT /dois/{doi}``) and make it findable; return the reply."""
    doi = attributes["doi"]
    body = {"data": {"id": doi, "type": "dois", "attributes": {**attributes, "event": event}}}
    token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 (the URL is the configured DataCite API)
        f"{credentials.api_url.rstrip('/')}/dois/{quote(doi, safe='/')}",
        data=json.dumps(body).encode(),
        method="PUT",
        headers={
            "Content-Type": "application/vnd.api+json",
            "Accept": "application/vnd.api+json",
            "Authorization": f"Basic {token}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            reply: dict[str, Any] = json.loads(response.read() or b"{}")
            return reply
    except urllib.error.HTTPError as exc:
        detail = _errors(exc.read())
        raise DoiError(
            f"DataCite refused {doi} (HTTP {exc.code}{': ' + detail if detail else ''}). "
            "Nothing else was registered; fix the metadata or credentials and run the "
            "release again."
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DoiError(
            f"cannot reach DataCite at {credentials.api_url} ({exc}); the metadata is "
            "written and ready, run the release again when the API is reachable."
        ) from None


def _errors(raw: bytes) -> str:
    try:
        errors = json.loads(raw).get("errors", [])
    except (ValueError, AttributeError):
        return raw.decode("utf-8", "replace")[:300]
    return "; ".join(f"{e.get('source', '')}: {e.get('title', '')}".strip(": ") for e in errors)


def register_release_dois(
    config: ArchiveConfig,
    release: ReleaseInfo,
    previous: ReleaseInfo | None,
    donations: Sequence[StoredDonation],
    releases: Sequence[ReleaseInfo],
    credentials: DataCiteCredentials | None,
) -> Registration:
    """Register the release's DOI (and, with ``doi_per_donation``, the DOI of each donation
    it adds or revises), then update the concept DOI to list every release.

    ``releases`` is every release, oldest first, this one included. Without a DOI
    prefix or without credentials nothing is sent and the result says what to set.
    """
    release_attrs = release_datacite(config, release, previous, donations)
    concept_attrs = archive_datacite(config, releases, release.date[:4])
    changed = {*release.added, *release.revised}
    donation_attrs = [
        donation_datacite(config, d, d.record["consent"]["month"][:4], release.version)
        for d in donations
        if config.doi_per_donation and d.public_id in changed
    ]
    if not config.doi_prefix:
        return Registration(
            "ready",
            "no doi_prefix in archive.toml: DataCite metadata is written with URL identifiers; "
            "add doi_prefix and DataCite credentials to register DOIs.",
            {},
        )
    submitted = {release_attrs["doi"]: release_attrs}
    submitted.update((attrs["doi"], attrs) for attrs in donation_attrs)
    submitted[concept_attrs["doi"]] = concept_attrs
    if credentials is None:
        return Registration(
            "ready",
            "DOI metadata is ready to register (see doi.json of the release); to register "
            "DOIs when releasing, set DATACITE_USERNAME and DATACITE_PASSWORD (and "
            "DATACITE_API_URL for DataCite's test system).",
            submitted,
        )
    responses = {}
    for doi, attrs in submitted.items():
        log.info("registering %s with DataCite", doi)
        responses[doi] = put_doi(attrs, credentials)
    return Registration(
        "registered", f"registered {', '.join(submitted)} with DataCite", submitted, responses
    )
