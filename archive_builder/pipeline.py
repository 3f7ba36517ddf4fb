"""The pipeline, one function per command: each reads like the architecture.

``ingest``: open the package, derive its public id, de-identify and verify,
save as a dataset. ``build``: catalog, describe, render, publish.
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from . import keys
from .archive import Archive, Layout, create_layout, locked, open_archive
from .catalog import import_offers, ledger_path, load_ledger, write_catalogs
from .config import Limits
from .deid import DeidError, Donor, LeakError, age_string, deidentify_study
from .errors import ArchiveError
from .fair import write_archive_files
from .intake import IntakeError, Package, open_package
from .intake.agreement import disagreements
from .release.freeze import retire_offers
from .release.model import ReleaseInfo
from .release.registry import (
    load_releases,
    load_withdrawals,
)
from .site import render_site, templates_dir
from .site.pilot import intake_counts
from .site.previews import draw_previews
from .sitefiles import SiteWriter
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
    INSTANCES,
    README,
    RECORD,
    REPORT,
    StoredDonation,
    instance_entry,
    read_donation,
)
from .store.datasets import subdataset_commits
from .store.publish import publish
from .store.withdraw import purge_from_store
from .verify import SUMS, read_sums, sha256
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
    with locked(layout):
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
    return f"""\
# Donation {public_id}

An imaging study that its patient chose to donate for research, de-identified
following DICOM PS3.15 Annex E (see `deid-report.json`).

- Licence: {record["license"]}
- Description and citation: {base_url}datasets/{public_id}/

Files:
- `donation.json`: age, sex, examined region, diagnoses, licence
- `instances.json`: every DICOM file with its size, SHA-256 and main attributes
- `deid-report.json`: what de-identification did
- `series-NNN/instance-NNNN.dcm`: the DICOM files (fetch with `datalad get`)
"""


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
    study = deidentify_study(package.instances, donor, dataset, secrets=[record.donation_id])
    study.skipped.extend(package.skipped)
    public_record = record.public(public_id)
    instances = [
        instance_entry(o.relpath, dataset / o.relpath, o.header, o.transfer_syntax)
        for o in study.outputs
    ]
    gate = study.gate()  # every text that leaves private/ passes it
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
    context = IngestContext(
        layout, archive.key, archive.config.limits, archive.config.base_url, committer
    )
    with locked(layout):
        for note in recover(layout, committer):
            yield Result("recover", "ok", str(layout.datasets), note)
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


def _copy_frozen_releases(layout: Layout, site: SiteWriter) -> None:
    if not layout.releases.is_dir():
        return
    for path in sorted(layout.releases.rglob("*")):
        if path.is_file():
            relpath = path.relative_to(layout.releases).as_posix()
            site.bytes(f"releases/{relpath}", path.read_bytes())


def offers(archive: Archive, source: Path) -> tuple[int, int]:
    """Merge an offers ledger (JSON Lines) into the archive's; return (added, replaced).

    The exact counts stay under ``private/``; ``build`` publishes them with small
    counts suppressed. A bad line anywhere leaves the archive unchanged.
    """
    with locked(archive.layout):
        return import_offers(ledger_path(archive.layout.private), source)


def _write_sums(site: SiteWriter) -> None:
    """SHA256SUMS of every site file (the store aside), rehashing only what this build changed."""
    previous = read_sums(site.root)
    lines = []
    for relpath in sorted(site.written - {SUMS}):
        digest = previous.get(relpath)
        if digest is None or relpath in site.changed:
            digest = sha256(site.root / relpath)
        lines.append(f"{digest}  {relpath}\n")
    site.text(SUMS, "".join(lines))


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
    """Write the site: catalogs, descriptors, pages, then publish the DataLad store.

    Every file is replaced atomically and only when its bytes change; files
    a build no longer produces are removed at the end. Withdrawn donations
    are purged from the store on every build, so an interrupted withdrawal
    is completed by the next one.
    """
    layout = archive.layout
    with locked(layout):
        return build_site(archive, progress)


BUILD_STEPS = (
    "reading the datasets",
    "catalogs",
    "descriptors",
    "pages and search index",
    "checksums",
    "publishing the store",
)


def build_site(archive: Archive, progress: Progress | None = None) -> BuildSummary:
    """``build`` for callers that already hold the archive's lock (release, withdraw)."""
    layout = archive.layout

    def step(number: int) -> None:
        if progress:
            progress(f"build: {BUILD_STEPS[number]}", number, len(BUILD_STEPS))

    step(0)
    donations = stored_donations(layout)
    history = load_releases(layout.datasets)
    releases = [info for info, _ in history]
    withdrawals = load_withdrawals(layout.datasets)
    site = SiteWriter(layout.site)
    offers = load_ledger(ledger_path(layout.private))
    step(1)
    write_catalogs(
        archive.config,
        donations,
        site,
        release=_current_release(layout, history),
        releases=releases,
        withdrawals=withdrawals,
        offers=offers,
    )
    step(2)
    write_archive_files(archive.config, donations, site, releases=releases)
    retire_offers(archive.config, layout.releases, history, donations)
    _copy_frozen_releases(layout, site)
    step(3)
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
    step(4)
    _write_sums(site)
    removed = site.finish()
    step(5)
    for withdrawal in withdrawals:
        purge_from_store(layout.store, withdrawal.public_id)
    publish(
        layout.datasets,
        [d.public_id for d in donations],
        layout.store,
        archive.config.base_url,
        committer_for(archive),
        progress,
    )
    return BuildSummary(
        donations=len(donations),
        instances=sum(len(d.instances) for d in donations),
        files=len(site.written),
        changed=len(site.changed),
        removed=len(removed),
        site=layout.site,
    )
