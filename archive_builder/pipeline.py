"""The pipeline, one function per command: each reads like the architecture.

``ingest``: open the package, derive its public id, de-identify and verify,
save as a dataset. ``build``: catalog, describe, render, publish.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from . import keys
from .archive import Archive, Layout, create_layout, locked, open_archive
from .catalog import import_offers, ledger_path, load_ledger, write_catalogs
from .config import Limits
from .deid import DeidError, Donor, LeakError, age_string, deidentify_study, imaging_term
from .errors import ArchiveError, ConfigError
from .fair import write_archive_files
from .faults import fault_point
from .intake import IntakeError, Package, open_package
from .intake.agreement import disagreements
from .release import withdrawal
from .release.freeze import retire_offers
from .release.model import ReleaseInfo
from .release.registry import (
    load_releases,
    load_withdrawals,
)
from .site import render_site, templates_dir
from .site.pilot import intake_counts
from .site.previews import draw_previews
from .sitefiles import SUMS, SiteWriter, read_sums, sha256, stage, staging_folder, swap
from .store import (
    Committer,
    create_superdataset,
    discard_staging,
    donation_dir,
    recover,
    register_donations,
    registered,
    stage_donation,
)
from .store.content import (
    INSTANCE_KEYWORDS,
    INSTANCES,
    README,
    RECORD,
    REPORT,
    StoredDonation,
    instance_entry,
    read_donation,
)
from .store.datasets import subdataset_commits
from .store.publish import changed_paths, publish
from .store.withdraw import sweep_store
from .workers import Lost, workers

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Result:
    """What happened to one item of a batch (as datalad-next reports it)."""

    action: str
    status: str  # ok | notneeded | refused | error
    path: str
    message: str
    public_id: str | None = None
    notes: tuple[str, ...] = ()  # for the maintainer and the private log only

    @property
    def failed(self) -> bool:
        return self.status in ("refused", "error")


def committer_for(archive: Archive) -> Committer:
    name, email = archive.config.identity
    return Committer(name, email)


def init(
    root: Path,
    *,
    name: str,
    publisher: str,
    contact: str,
    base_url: str,
    license: str = "CC-BY-4.0",
) -> Archive:
    """Create an archive: configuration, secret key, and the empty superdataset."""
    layout = create_layout(
        root, name=name, publisher=publisher, contact=contact, base_url=base_url, license=license
    )
    archive = open_archive(layout.root)
    with locked(layout, "init"):
        readme = layout.datasets / README
        layout.datasets.mkdir(parents=True, exist_ok=True)
        if not readme.exists():
            readme.write_text(superdataset_readme(), encoding="utf-8")
        create_superdataset(layout.datasets, committer_for(archive), layout.staging)
    return archive


def superdataset_readme() -> str:
    """What people who clone the superdataset read (templates/superdataset-README.md).

    The repository's datasets/README.md is the same text: the demo keeps it when run
    in a clone of this project.
    """
    return (templates_dir() / "superdataset-README.md").read_text(encoding="utf-8")


def _readme(public_id: str, record: dict[str, object], base_url: str) -> str:
    return _README.format(public_id=public_id, license=record["license"], base_url=base_url)


_README = """\
# Donation {public_id}

An imaging study that its patient chose to donate for research, de-identified
following DICOM PS3.15 Annex E (see `deid-report.json`).

- Licence: {license}
- Description and citation: {base_url}datasets/{public_id}/

Files:
- `donation.json`: age, sex, examined region, diagnoses, licence
- `instances.json`: every DICOM file with its size, SHA-256 and main attributes
- `deid-report.json`: what de-identification did
- `series-NNN/instance-NNNN.dcm`: the DICOM files (fetch with `datalad get`)
"""
# The README's own words (a donor called Main is not refused for its "main attributes").
_README_FIXED = tuple(
    line
    for part in re.split(r"\{\w+\}", _README)
    for line in part.splitlines()
    if len(line.strip()) >= 5
)


def _quarantine(layout: Layout, package: Path, token: str, reason: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = layout.quarantine / f"{stamp}-{token}"
    target.mkdir(parents=True, exist_ok=False)
    if package.is_dir():
        shutil.copytree(package, target / "package", symlinks=True)
    else:
        shutil.copy2(package, target / package.name)
    (target / "reason.txt").write_text(reason + "\n", encoding="utf-8")
    return target


def _log(layout: Layout, result: Result, token: str | None) -> None:
    layout.logs.mkdir(parents=True, exist_ok=True)
    entry: dict[str, object] = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "action": result.action,
        "status": result.status,
        "donation": token,
        "public_id": result.public_id,
        "message": result.message,
    }
    if result.notes:
        entry["disagreements"] = list(result.notes)
    with (layout.logs / "ingest.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


@dataclass(frozen=True)
class IngestContext:
    """What every ingest task needs, sent once to each worker (the secret key included:
    a cluster must be trusted, see docs/scaling.md)."""

    layout: Layout
    key: bytes
    limits: Limits
    base_url: str
    committer: Committer
    withdrawn: frozenset[str] = frozenset()  # public ids its donors withdrew


@dataclass(frozen=True)
class Prepared:
    """A package after its task: staged as a complete dataset, or why not."""

    status: str  # staged | notneeded | refused | leak
    message: str
    public_id: str | None = None
    token: str | None = None  # the keyed log token of its donation id
    staged: Path | None = None
    notes: tuple[str, ...] = ()  # where the DICOM headers contradict the record


def prepare_donation(context: IngestContext, source: Path) -> Prepared:
    """One donation's own work, on any worker: open and check the package, derive its
    public id, de-identify and verify, write and save its dataset under staging, with
    its catalog rows (instances.json) and its series previews."""
    layout, key = context.layout, context.key
    try:
        with open_package(source, context.limits, layout.staging) as package:
            record = package.record
            token = keys.log_token(key, record.donation_id)
            public_id = keys.public_id(key, record.donation_id)
            if public_id in context.withdrawn:
                message = (
                    f"its donor withdrew this donation ({public_id}); a withdrawn donation is "
                    "never published again. Nothing changed."
                )
                return Prepared("refused", message, public_id, token)
            if donation_dir(layout, public_id).exists():
                message = f"already in the archive as {public_id}; nothing changed"
                return Prepared("notneeded", message, public_id, token)
            try:
                staged = stage_donation(
                    layout.staging / f"{public_id}-{secrets.token_hex(4)}",  # one per attempt
                    context.committer,
                    lambda dataset: _fill(dataset, package, public_id, context),
                    f"Add donation {public_id}",
                )
            except LeakError as exc:
                return Prepared("leak", str(exc), public_id, token)
            except DeidError as exc:
                return Prepared("refused", str(exc), public_id, token)
            instances = json.loads((staged / INSTANCES).read_text(encoding="utf-8"))
            draw_previews(staged, instances, layout.root / ".cache" / "previews")
            notes = tuple(disagreements(record, (i.header for i in package.instances)))
            message = f"added as {public_id}"
            if notes:
                message += " (note: the DICOM header disagrees with the donation record: "
                message += "; ".join(notes) + "; the record's values are published)"
            return Prepared("staged", message, public_id, token, staged, notes)
    except IntakeError as exc:
        return Prepared("refused", str(exc).removeprefix(f"{source}: "))


def _fill(dataset: Path, package: Package, public_id: str, context: IngestContext) -> None:
    """De-identify and verify the study into ``dataset``, with its descriptive files."""
    key, record = context.key, package.record
    donor = Donor(
        key=key,
        public_id=public_id,
        date_offset_days=keys.date_offset_days(key, record.donation_id),
        patient_age=age_string(record.age_years),
        sex=record.sex,
    )
    study = deidentify_study(
        package.instances, donor, dataset, secrets=[record.donation_id], keep=INSTANCE_KEYWORDS
    )
    study.skipped.extend(package.skipped)
    public_record = record.public(public_id)
    instances = [
        instance_entry(o.relpath, dataset / o.relpath, o.attributes, o.transfer_syntax)
        for o in study.outputs
    ]
    # every text that leaves private/ passes it; the region is the donor's own text
    # unless it is an imaging term (a donor called Head may donate a study of the head)
    region = str(public_record["study"]["anatomical_region"])
    gate = study.gate(also=(*_README_FIXED, *([region] if imaging_term(region) else [])))
    gate.write_json(dataset / RECORD, public_record)
    gate.write_json(dataset / REPORT, study.report())
    gate.write_json(dataset / INSTANCES, instances)
    gate.write_text(dataset / README, _readme(public_id, public_record, context.base_url))
    gate.check_folder(dataset, [o.relpath for o in study.outputs])


class _Registration:
    """Accepted donations wait here, in order with the other packages' results, until
    one commit registers them all; then their results are given out."""

    def __init__(self, layout: Layout, committer: Committer):
        self.layout = layout
        self.committer = committer
        self.staged: dict[str, Path] = {}
        self.results: list[tuple[Result, str | None]] = []
        self.since = time.monotonic()

    def add(self, result: Result, token: str | None, staged: Path | None = None) -> None:
        if not self.results:
            self.since = time.monotonic()
        if staged is not None and result.public_id is not None:
            self.staged[result.public_id] = staged
        self.results.append((result, token))

    def due(self) -> bool:
        waited = time.monotonic() - self.since
        return len(self.staged) >= REGISTER_BATCH or (bool(self.results) and waited > FLUSH_SECONDS)

    def keep_accepted(self) -> None:
        """After a failure: register what was accepted and is still staged (whatever was
        moved already is registered by the next run's recovery)."""
        staged = {pid: path for pid, path in self.staged.items() if path.exists()}
        try:
            register_donations(self.layout, self.committer, staged)
        except ArchiveError as exc:
            log.warning("accepted donations left for the next run to register: %s", exc)

    def flush(self) -> Iterator[Result]:
        register_donations(self.layout, self.committer, self.staged)
        results, self.results, self.staged = self.results, [], {}
        for result, token in results:
            _log(self.layout, result, token)
            yield result


REGISTER_BATCH = 200  # donations per commit of the superdataset
FLUSH_SECONDS = 10.0  # and at least this often, so that results keep coming


def complete_pending(archive: Archive, progress: Progress | None = None) -> list[str]:
    """Finish what interrupted commands left, before anything else (the caller holds the lock).

    A pending withdrawal is completed and the site rebuilt; returns what was done.
    """
    waiting = withdrawal.pending(archive.layout)
    if not waiting:
        return []
    build_site(archive, progress)
    return [f"completed the withdrawal of {w.public_id}" for w in waiting]


def ingest(
    archive: Archive,
    packages: Sequence[Path],
    progress: Progress | None = None,
    *,
    scheduler: str | None = None,
    jobs: int | None = None,
) -> Iterator[Result]:
    """Ingest each package; yield one result per package, in order (and per recovery step).

    Each package is one task on the workers (:func:`prepare_donation`); the
    superdataset registers the staged datasets here, many per commit.
    ``scheduler`` is a Dask scheduler's address: the archive folder and the
    packages must then be on storage that every worker mounts at the same path.
    """
    layout = archive.layout
    committer = committer_for(archive)
    with locked(layout, "ingest"):
        for note in complete_pending(archive, progress):
            yield Result("recover", "ok", str(layout.datasets), note)
        for note in recover(layout, committer):
            yield Result("recover", "ok", str(layout.datasets), note)
        withdrawn = frozenset(w.public_id for w in load_withdrawals(layout.datasets))
        context = IngestContext(
            layout,
            archive.key,
            archive.config.limits,
            archive.config.base_url,
            committer,
            withdrawn,
        )
        batch = _Registration(layout, committer)

        def tasks_done(done: int, total: int) -> None:
            if progress:
                progress("ingest", done, total)

        try:
            with workers(
                scheduler=scheduler,
                jobs=jobs,
                items=len(packages),
                seconds=len(packages) * SECONDS_PER_PACKAGE,
            ) as pool:
                outcomes = pool.run(
                    functools.partial(prepare_donation, context), packages, tasks_done
                )
                for source, prepared in zip(packages, outcomes, strict=True):
                    _accept(batch, layout, source, prepared)
                    if batch.due():
                        yield from batch.flush()
            yield from batch.flush()
        finally:
            batch.keep_accepted()
            discard_staging(layout)


SECONDS_PER_PACKAGE = 1.5  # one small donation, on one core (README, Store benchmark)


def _accept(batch: _Registration, layout: Layout, source: Path, prepared: Prepared | Lost) -> None:
    """Queue one package's result; an accepted donation waits for the batch's commit."""
    label = str(source)
    if isinstance(prepared, Lost):
        batch.add(Result("ingest", "error", label, prepared.message), None)
        return
    public_id = prepared.public_id
    if public_id is not None and (
        public_id in batch.staged or donation_dir(layout, public_id).exists()
    ):  # accepted earlier in this run: as if it had been registered before this package
        message = f"already in the archive as {public_id}; nothing changed"
        batch.add(Result("ingest", "notneeded", label, message, public_id), prepared.token)
    elif prepared.status == "staged":
        result = Result("ingest", "ok", label, prepared.message, public_id, prepared.notes)
        batch.add(result, prepared.token, prepared.staged)
    elif prepared.status == "leak":
        where = _quarantine(layout, source, prepared.token or "unknown", prepared.message)
        message = (
            f"{prepared.message}. Nothing was published; the package is quarantined in "
            f"{where.relative_to(layout.root)}."
        )
        batch.add(Result("ingest", "refused", label, message), prepared.token)
    else:
        batch.add(Result("ingest", prepared.status, label, prepared.message), prepared.token)


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _check_links(layout: Layout) -> None:
    """Nothing outside the archive is published through a link in releases/ or templates/."""
    if layout.releases.is_dir():
        for path in sorted(layout.releases.rglob("*")):
            if path.is_symlink():
                raise ConfigError(
                    f"{path} is a symlink; releases/ holds the files archive-builder froze, "
                    "never links (a link could publish a file from elsewhere, private/ "
                    "included). Remove it and build again."
                )
    folder = layout.templates
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            if path.is_symlink() and not _inside(path, folder):
                raise ConfigError(
                    f"{path} is a symlink to a file outside templates/; copy the template "
                    "into templates/ instead, so that nothing outside it can be published."
                )


def _copy_frozen_releases(layout: Layout, site: SiteWriter) -> None:
    """Copy ``releases/`` into the site: regular files only, no link followed, no leftover."""
    if not layout.releases.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(layout.releases):
        dirnames[:] = sorted(d for d in dirnames if not (Path(dirpath) / d).is_symlink())
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_symlink() or name.startswith(".tmp-") or name.endswith(".tmp"):
                continue  # links are refused before the build; temporary files are not part
            relpath = path.relative_to(layout.releases).as_posix()
            site.bytes(f"releases/{relpath}", path.read_bytes())


def offers(archive: Archive, source: Path) -> tuple[int, int]:
    """Merge an offers ledger (JSON Lines) into the archive's; return (added, replaced).

    The exact counts stay under ``private/``; ``build`` publishes them with small
    counts suppressed. A bad line anywhere leaves the archive unchanged.
    """
    with locked(archive.layout, "offers"):
        return import_offers(ledger_path(archive.layout.private), source)


def _write_sums(site: SiteWriter, previous: dict[str, str]) -> None:
    """SHA256SUMS of every site file (the store aside), rehashing only what is not proven.

    ``previous`` holds the digests of the last build that finished: a file this
    build did not change is the very file they describe. Anything else is hashed
    from disk.
    """
    lines = []
    for relpath in sorted(site.written - {SUMS}):
        digest = previous.get(relpath)
        if digest is None or relpath in site.changed:
            digest = sha256(site.root / relpath)
        lines.append(f"{digest}  {relpath}\n")
    site.text(SUMS, "".join(lines))


UNFINISHED = "unfinished"  # in .cache/site/ while a build stages the site, until its swap
SITE_CACHES = ("pages.json", "signposts.json")  # keys of what a build left in its staging folder


def _state_file(layout: Layout) -> Path:
    return layout.root / ".cache" / "site-state.json"


def _proven_sums(layout: Layout) -> dict[str, str]:
    """The live site's digests, if the last build is known to have finished; else nothing.

    A build records the SHA-256 of the ``SHA256SUMS`` it swapped in; a site
    whose sums file does not match that record (an older build, an edited
    site, a deleted cache) is hashed again from disk.
    """
    try:
        state = json.loads(_state_file(layout).read_text(encoding="utf-8"))
        data = (layout.site / SUMS).read_bytes()
    except (OSError, ValueError):
        return {}
    if not isinstance(state, dict) or state.get("sums") != hashlib.sha256(data).hexdigest():
        return {}
    return read_sums(layout.site)


def _folders(layout: Layout) -> list[int] | None:
    """The inodes of ``site/`` and its twin ``site.next/`` (None without a twin)."""
    try:
        return [layout.site.stat().st_ino, staging_folder(layout.site).stat().st_ino]
    except OSError:
        return None


def _claim_twin(layout: Layout) -> bool:
    """True if ``site/`` and ``site.next/`` are the folders the last finished build left.

    The record of them is struck out of the state file before this build changes
    the store, and written again only after its swap: a build killed or failed
    in between, whatever else was deleted since (``.cache/`` may be deleted at
    will, ``.cache/site/`` alone too), leaves no proof, and the next build
    compares all of the store.
    """
    path = _state_file(layout)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(state, dict) or "folders" not in state:
        return False
    recorded, folders = state.pop("folders"), _folders(layout)
    _write_state(path, state)
    return folders is not None and recorded == folders


def _write_state(path: Path, state: Mapping[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    tmp.replace(path)


def _record_state(layout: Layout) -> None:
    data = (layout.site / SUMS).read_bytes()
    state = {"sums": hashlib.sha256(data).hexdigest(), "folders": _folders(layout)}
    _write_state(_state_file(layout), state)


def stored_donations(layout: Layout) -> list[StoredDonation]:
    return [read_donation(layout.datasets / pid) for pid in registered(layout.datasets)]


@dataclass(frozen=True)
class BuildSummary:
    donations: int
    instances: int
    files: int
    changed: int
    removed: int
    site: Path


def _current_release(
    layout: Layout, history: list[tuple[ReleaseInfo, dict[str, str]]]
) -> str | None:
    """The latest release when the datasets are exactly as it recorded them, else None."""
    if not history:
        return None
    info, recorded = history[-1]
    return info.version if subdataset_commits(layout.datasets) == recorded else None


def build(archive: Archive, progress: Progress | None = None) -> BuildSummary:
    """Publish the DataLad store, then write the site: catalogs, descriptors, pages.

    The site is written into ``site.next/`` and swapped in whole; pending
    withdrawals are completed first (see :func:`build_site`).
    """
    layout = archive.layout
    with locked(layout, "build"):
        return build_site(archive, progress)


BUILD_STEPS = (
    "reading the datasets",
    "publishing the store",
    "catalogs",
    "descriptors",
    "pages and search index",
    "checksums and the swap",
)


def build_site(archive: Archive, progress: Progress | None = None) -> BuildSummary:
    """``build`` for callers that already hold the archive's lock (release, withdraw).

    Pending withdrawals are completed first, and the store is published (git
    and git-annex write objects before refs, so readers of the store never see
    a commit it lacks); the pages are then built in ``site.next/`` and swapped
    in whole. Intents of withdrawals are cleared only after the swap.
    """
    layout = archive.layout
    committer = committer_for(archive)

    def step(number: int) -> None:
        if progress:
            progress(f"build: {BUILD_STEPS[number]}", number, len(BUILD_STEPS))

    step(0)
    _check_links(layout)
    caches = layout.root / ".cache" / "site"
    caches.mkdir(parents=True, exist_ok=True)
    # Whether the twin is as the last finished build left it; from here to the swap the
    # state file no longer says so (a build killed or failed in between changed the store
    # in ways the next cannot know, and the next compares all of the store when it stages).
    twin_proven = _claim_twin(layout)
    done = withdrawal.apply(archive, committer)
    donations = stored_donations(layout)
    history = load_releases(layout.datasets)
    releases = [info for info, _ in history]
    withdrawals = load_withdrawals(layout.datasets)
    offers = load_ledger(ledger_path(layout.private))
    step(1)
    sweep_store(layout.store, layout.datasets)
    pushed = publish(
        layout.datasets,
        [d.public_id for d in donations],
        layout.store,
        archive.config.base_url,
        committer,
        progress,
    )
    fault_point("build.published")
    previous = _proven_sums(layout)
    unfinished = caches / UNFINISHED
    # The twin matches the live site as the last build left both, unless that build was
    # killed or the twin was replaced: then only what this build's publication changed
    # in the store needs staging (the site's own files change only through builds).
    changed: list[str] | None = None
    if previous and not unfinished.exists() and twin_proven:
        twin_store = staging_folder(layout.site) / "store"
        published = [layout.datasets, *(layout.datasets / name for name in pushed)]
        changed = [f"store/{p}" for p in changed_paths(layout.store, twin_store, published)]
    if not previous or unfinished.exists():
        # The page and link caches describe the folder a build staged. Without proof that
        # the live site is that build, swapped in (a build killed before its swap leaves
        # caches of pages the live site does not have), no page of it is kept as it is:
        # every page is rendered and compared again.
        for name in SITE_CACHES:
            (caches / name).unlink(missing_ok=True)
    unfinished.touch()
    site = SiteWriter(stage(layout.site, changed))
    step(2)
    write_catalogs(
        archive.config,
        donations,
        site,
        release=_current_release(layout, history),
        releases=releases,
        withdrawals=withdrawals,
        offers=offers,
    )
    step(3)
    write_archive_files(archive.config, donations, site, releases=releases)
    retire_offers(archive.config, layout.releases, history, donations)
    _copy_frozen_releases(layout, site)
    step(4)
    render_site(
        archive.config,
        donations,
        site,
        overrides=layout.templates,
        releases=releases,
        withdrawals=withdrawals,
        offers=offers,
        cache=layout.root / ".cache",
        intake=intake_counts(layout.logs / "ingest.jsonl"),
    )
    step(5)
    _write_sums(site, previous)
    removed = site.finish()
    fault_point("build.staged")
    swap(site.root, layout.site, touched=[*site.changed, *removed])
    fault_point("build.swapped")
    _record_state(layout)
    unfinished.unlink()
    withdrawal.clear(layout, done)
    return BuildSummary(
        donations=len(donations),
        instances=sum(len(d.instances) for d in donations),
        files=len(site.written),
        changed=len(site.changed),
        removed=len(removed),
        site=layout.site,
    )
