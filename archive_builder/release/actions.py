"""``release`` and ``withdraw``: the two commands that change what the archive has published."""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import keys
from .. import text as published_text
from ..archive import Archive, Layout, locked
from ..fair import (
    credentials_from_env,
    register_release_dois,
    release_doi,
    write_release_files,
)
from ..faults import fault_point
from ..pipeline import Progress, Result, build_site, committer_for, stored_donations
from ..sitefiles import SiteWriter
from ..store import is_registered
from ..store.cleanup import clear_git_locks, force_rmtree
from ..store.content import StoredDonation
from ..store.datasets import Committer, git, save, subdataset_commits, tag, tag_exists
from . import withdrawal
from .errors import ReleaseError
from .freeze import changes
from .model import ReleaseInfo, Withdrawal
from .registry import (
    CHANGELOG,
    RELEASES,
    load_releases,
    load_withdrawals,
    save_releases,
)

log = logging.getLogger(__name__)
CHANGES = "changes.json"
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")
_DONATION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _intent_path(layout: Layout) -> Path:
    return layout.private / "release-pending.json"


def pending_release(layout: Layout) -> dict[str, Any] | None:
    """The release started and not finished (its build and publication), if any."""
    path = _intent_path(layout)
    if not path.is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        str(data["info"]["version"])
    except (OSError, ValueError, KeyError, TypeError):
        raise ReleaseError(
            f"{path} is damaged; delete it and run the release again (nothing was published)."
        ) from None
    return data


def _write_intent(layout: Layout, data: dict[str, Any]) -> None:
    path = _intent_path(layout)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, ensure_ascii=False)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def half_made(layout: Layout) -> list[str]:
    """Releases recorded but not finished: a pending intent, or no frozen change list."""
    found = []
    intent = pending_release(layout)
    if intent:
        found.append(str(intent["info"]["version"]))
    for info, _ in load_releases(layout.datasets):
        if info.version not in found and not (layout.releases / info.version / CHANGES).is_file():
            found.append(info.version)
    return found


def _info(data: dict[str, Any]) -> ReleaseInfo:
    fields = dict(data)
    for key in ("added", "withdrawn", "revised"):
        fields[key] = tuple(fields.get(key, ()))
    return ReleaseInfo(**fields)


def _start(archive: Archive, version: str, notes: str, strict: bool) -> dict[str, Any]:
    """Check, register the DOI, and record the intent: nothing is committed yet."""
    layout, config = archive.layout, archive.config
    history = load_releases(layout.datasets)
    if any(info.version == version for info, _ in history) or tag_exists(layout.datasets, version):
        raise ReleaseError(
            f"release {version} exists; releases are immutable. Choose a new version."
        )
    problem = published_text.problem(notes, multiline=True)
    if problem:
        raise ReleaseError(f"the release notes {problem}; remove it and release again")
    notes = published_text.normalise(notes)
    current = subdataset_commits(layout.datasets)
    before = history[-1][1] if history else {}
    added = tuple(sorted(set(current) - set(before)))
    withdrawn = tuple(sorted(set(before) - set(current)))
    revised = tuple(sorted(p for p in set(current) & set(before) if current[p] != before[p]))
    credentials = credentials_from_env()
    warnings = []
    if not notes.strip():
        warnings.append("no release notes (write them in Markdown and pass --notes FILE)")
    if history and not (added or withdrawn or revised):
        warnings.append(f"nothing changed since release {history[-1][0].version}")
    if config.doi_prefix and credentials is None:
        warnings.append(
            "doi_prefix is set but DATACITE_USERNAME and DATACITE_PASSWORD are not, "
            "so the DOI would not be registered"
        )
    if warnings and strict:
        raise ReleaseError(
            "release refused in strict mode: "
            + "; ".join(warnings)
            + ". Fix this, or pass --no-strict to release anyway."
        )
    info = ReleaseInfo(version, _today(), notes, None, added, withdrawn, revised)
    previous = history[-1][0] if history else None
    donations = stored_donations(layout)
    all_releases = [*(i for i, _ in history), info]
    registration = register_release_dois(
        config, info, previous, donations, all_releases, credentials
    )
    if registration.status == "registered":
        info = ReleaseInfo(
            version, info.date, notes, release_doi(config, info), added, withdrawn, revised
        )
    intent = {
        "info": asdict(info),
        "datasets": current,
        "registration": registration.record(),
        "message": registration.message,
    }
    _write_intent(layout, intent)
    return intent


def _resume_legacy(layout: Layout, version: str) -> dict[str, Any] | None:
    """A release recorded by a run that died before freezing it (no intent was kept then)."""
    for info, datasets in load_releases(layout.datasets):
        if info.version == version and not (layout.releases / version / CHANGES).is_file():
            return {
                "info": asdict(info),
                "datasets": datasets,
                "registration": {"status": "ready", "message": "", "dois": {}},
                "message": "resumed a release whose DOI registration was not recorded",
            }
    return None


def release(
    archive: Archive,
    version: str,
    notes: str = "",
    *,
    strict: bool = True,
    progress: Progress | None = None,
) -> tuple[ReleaseInfo, str]:
    """Publish an immutable release; return it and what happened about its DOI.

    A release is a transaction recorded in ``private/release-pending.json``:
    checks and the DOI registration come first (nothing is committed if they
    refuse); then the superdataset records the release, tags are set, files
    are frozen, the site is rebuilt and published, and only then is the
    release complete. ``release VERSION`` again finishes an interrupted or
    failed one from where it stopped.
    """
    if not _VERSION.fullmatch(version) or version.endswith((".", ".lock")):
        raise ReleaseError(f"{version!r} is not a usable version; use e.g. 1.0.0 or 2026.11")
    layout = archive.layout
    committer = committer_for(archive)
    with locked(layout, "release"):
        withdrawal.apply(archive, committer)
        intent = pending_release(layout)
        if intent is not None and intent["info"]["version"] != version:
            other = intent["info"]["version"]
            raise ReleaseError(
                f"release {other} is half-made; finish it first with "
                f"`archive-builder release {layout.root} {other}`."
            )
        if intent is None:
            intent = _resume_legacy(layout, version)
            if intent is not None:
                _write_intent(layout, intent)
        if intent is None:
            intent = _start(archive, version, notes, strict)
        else:
            log.warning("resuming release %s from where it stopped", version)
        info = _finish(archive, intent, committer, progress)
    return info, str(intent["message"])


def _finish(
    archive: Archive, intent: dict[str, Any], committer: Committer, progress: Progress | None
) -> ReleaseInfo:
    """Every step after the intent, each idempotent; the intent goes once all succeeded."""
    layout = archive.layout
    info, recorded = _info(intent["info"]), dict(intent["datasets"])
    version = info.version
    history = load_releases(layout.datasets)
    if not any(i.version == version for i, _ in history):
        history.append((info, recorded))
        save_releases(layout.datasets, history)
    clear_git_locks(layout.datasets)
    if git(layout.datasets, "status", "--porcelain", "--", RELEASES, CHANGELOG).strip():
        save(
            layout.datasets,
            f"Release {version}",
            committer,
            layout.datasets / RELEASES,
            layout.datasets / CHANGELOG,
        )
    fault_point("release.committed")
    if progress:
        progress(f"release {version}: tags and frozen catalogs", 0, 1)
    for public_id in (*info.added, *info.revised):
        dataset = layout.datasets / public_id
        if dataset.is_dir() and not tag_exists(dataset, version):
            clear_git_locks(dataset)
            tag(dataset, version, committer)
    if not tag_exists(layout.datasets, version):
        tag(layout.datasets, version, committer)
    fault_point("release.tagged")
    index = next(n for n, (i, _) in enumerate(history) if i.version == version)
    previous = history[index - 1][0] if index else None
    releases = [i for i, _ in history[: index + 1]]
    donations = [d for d in stored_donations(layout) if d.public_id in recorded]
    _freeze(archive, info, previous, releases, donations, intent["registration"])
    fault_point("release.frozen")
    build_site(archive, progress)
    _intent_path(layout).unlink(missing_ok=True)
    return info


def _freeze(
    archive: Archive,
    info: ReleaseInfo,
    previous: ReleaseInfo | None,
    releases: list[ReleaseInfo],
    donations: list[StoredDonation],
    registration: dict[str, Any],
) -> None:
    """Write ``releases/VERSION/``, without the donation rate; ``changes.json`` last.

    The donation rate is the pilot's running outcome, published in one current
    version only: two versions of the same counts, suppressed differently,
    could be subtracted from each other. ``changes.json`` is written last, as
    the mark of a finished freeze.
    """
    layout = archive.layout
    folder = layout.releases / info.version
    if folder.exists():
        force_rmtree(folder)  # left by an attempt that did not finish
    frozen = SiteWriter(layout.releases, keep_prefixes=())
    write_release_files(
        archive.config,
        donations,
        info,
        previous,
        frozen,
        releases=releases,
        withdrawals=load_withdrawals(layout.datasets),
        folder=f"{info.version}/",
    )
    frozen.text(f"{info.version}/doi.json", json.dumps(registration, indent=1) + "\n")
    changed = changes(info, previous.version if previous else None)
    frozen.text(f"{info.version}/{CHANGES}", json.dumps(changed, indent=1) + "\n")


def withdraw(archive: Archive, donation_id: str, progress: Progress | None = None) -> Result:
    """Withdraw a donation: out of the datasets, the store, the site and every frozen release.

    The portal's donation id finds the donation again through the keyed hash;
    nothing that links the two is kept. The intent (public id and day) is
    recorded first, so that an interrupted withdrawal is completed by the next
    command; the private log records the public id and the time, not the
    donation id.
    """
    if not _DONATION_ID.fullmatch(donation_id):
        raise ReleaseError(
            "that is not a portal donation id (8 to 64 letters, digits, '-' or '_'); "
            "nothing was changed"
        )
    layout = archive.layout
    public_id = keys.public_id(archive.key, donation_id)
    with locked(layout, "withdraw"):
        recorded = {w.public_id: w for w in load_withdrawals(layout.datasets)}
        waiting = {w.public_id: w for w in withdrawal.pending(layout)}
        present = is_registered(layout, public_id)
        if public_id not in recorded and public_id not in waiting and not present:
            raise ReleaseError(
                "no donation with that donation id is in the archive; check the id "
                "(nothing was changed)"
            )
        earlier = recorded.get(public_id) or waiting.get(public_id)
        if earlier is None or present:
            day = earlier.date if earlier else _today()
            withdrawal.request(layout, Withdrawal(public_id, day))
            _log_withdrawal(layout, public_id)
            fault_point("withdraw.requested")
        elif not waiting and not present:
            if withdrawal.pending(layout):
                build_site(archive, progress)
            return Result(
                "withdraw",
                "notneeded",
                public_id,
                f"{public_id} was already withdrawn on {earlier.date}; nothing changed",
                public_id,
            )
        build_site(archive, progress)
    return Result(
        "withdraw",
        "ok",
        public_id,
        f"{public_id} withdrawn: removed from the datasets, the store and the site",
        public_id,
    )


def _log_withdrawal(layout: Layout, public_id: str) -> None:
    layout.logs.mkdir(parents=True, exist_ok=True)
    entry = {"time": datetime.now(UTC).isoformat(timespec="seconds"), "public_id": public_id}
    with (layout.logs / "withdrawals.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")
