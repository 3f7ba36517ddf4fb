"""Ingest on a real Dask LocalCluster (two worker processes): the same archive as serial
ingest, and a worker killed mid-task loses nothing. Real DataLad, real DICOM."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import record, run_cli, sample

from archive_builder import pipeline
from archive_builder.archive import open_archive
from archive_builder.catalog import write_catalogs
from archive_builder.demo import study_files
from archive_builder.sitefiles import SiteWriter

pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, object]]:
    """A LocalCluster of two single-threaded worker processes, and a client to watch it."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as local,
        distributed.Client(local) as client,
    ):
        yield local.scheduler_address, client


def _archive(root: Path, key_from: Path | None = None) -> Path:
    result = run_cli("init", root, "--base-url", "https://data.example.org/")
    assert result.exit_code == 0, result.output
    if key_from is not None:  # the same secret key: the same public ids, UIDs and dates
        shutil.copy(key_from / "private" / "secret.key", root / "private" / "secret.key")
    return root


def _packages(base: Path, make_package) -> list[Path]:
    mr = study_files(sample("dicomdirtests/98892003/MR700/4467"))
    return [
        make_package([sample("CT_small.dcm")], donation_id="scale-0001"),
        make_package(mr, donation_id="scale-0002", as_zip=True),
        make_package([sample("MR_small.dcm")], donation_id="scale-0001"),  # the same donation
        make_package([sample("CT_small.dcm")], rec=record(donation_id="scale-0003", extra=1)),
        make_package([sample("rtplan.dcm")], donation_id="scale-0004"),  # nothing publishable
    ]


def _lines(archive: Path, packages: list[Path], **options: object) -> list[str]:
    results = pipeline.ingest(open_archive(archive), packages, **options)  # type: ignore[arg-type]
    return [f"{r.status} {r.path}: {r.message}" for r in results]


def _contents(archive: Path) -> dict[str, dict[str, str]]:
    """Each dataset's files: path -> annex key (DICOM) or text."""
    datasets = archive / "datasets"
    found = {}
    for dataset in sorted(p for p in datasets.iterdir() if p.name.startswith("don-")):
        files = {}
        for path in sorted(dataset.rglob("*")):
            rel = path.relative_to(dataset).as_posix()
            if rel.startswith((".git/", ".datalad/")) or rel == ".git" or path.is_dir():
                continue
            files[rel] = (
                os.readlink(path).rsplit("/", 1)[-1]
                if path.is_symlink()
                else (path.read_text(encoding="utf-8"))
            )
        found[dataset.name] = files
    return found


def _catalogs(archive: Path, out: Path) -> dict[str, list[dict[str, object]]]:
    opened = open_archive(archive)
    site = SiteWriter(out)
    write_catalogs(opened.config, pipeline.stored_donations(opened.layout), site)
    tables = {
        name: pq.read_table(out / "catalog" / f"{name}.parquet").to_pylist()
        for name in ("donations", "series", "instances")
    }
    for row in tables["instances"]:
        # a store URL names the dataset's DataLad id (random per archive) and then the
        # annex key: the key is what two archives of the same donations share
        store, key = str(row["url"]).split("/annex/objects/")
        assert store.startswith("https://data.example.org/store/")
        row["url"] = key
    return tables


def test_a_local_cluster_builds_the_same_archive_as_serial_ingest(
    tmp_path: Path, make_package, cluster
) -> None:
    address, _client = cluster
    packages = _packages(tmp_path, make_package)
    serial = _archive(tmp_path / "serial")
    parallel = _archive(tmp_path / "parallel", key_from=serial)

    serial_lines = _lines(serial, packages, jobs=1)
    parallel_lines = _lines(parallel, packages, scheduler=address)

    assert [line.split(" ", 1)[0] for line in serial_lines] == [
        # serial_lines
        "ok",
        "ok",
        "notneeded",
        "refused",
        "refused",
    ]
    assert parallel_lines == serial_lines  # one line per package, in order, same words
    contents = _contents(serial)
    assert len(contents) == 2
    assert _contents(parallel) == contents
    assert _catalogs(parallel, tmp_path / "c2") == _catalogs(serial, tmp_path / "c1")
    # both accepted donations joined the superdataset in one commit
    log = run_git(parallel / "datasets", "log", "--format=%s")
    assert log[0] == "Add 2 donations"
    assert not any((parallel / "private" / "staging").iterdir())


def run_git(repo: Path, *args: str) -> list[str]:
    import subprocess

    out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    return out.stdout.splitlines()


def test_a_worker_killed_mid_task_loses_nothing(tmp_path: Path, make_package, cluster) -> None:
    address, client = cluster
    archive = _archive(tmp_path / "archive")
    ct = study_files(sample("dicomdirtests/77654033/CT2/17106"))
    packages = [make_package(ct, donation_id=f"killed-{n:04d}") for n in range(3)]
    staging = archive / "private" / "staging"
    pids = client.run(os.getpid)  # type: ignore[attr-defined]
    killed: list[str] = []

    def kill_a_busy_worker() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            busy = [w for w, keys in client.processing().items() if keys]  # type: ignore[attr-defined]
            if busy and any(p.name.startswith("don-") for p in staging.glob("*")):
                os.kill(pids[busy[0]], signal.SIGKILL)  # a dataset is being written
                killed.append(busy[0])
            time.sleep(0.05)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    lines = _lines(archive, packages, scheduler=address)
    killer.join()

    assert killed, "no worker was busy writing a dataset"
    assert [line.split(" ", 1)[0] for line in lines] == ["ok", "ok", "ok"], lines
    assert len(_contents(archive)) == 3
    for files in _contents(archive).values():
        assert len([f for f in files if f.endswith(".dcm")]) == len(ct)
    assert run_git(archive / "datasets", "status", "--porcelain") == []
    assert not any(staging.iterdir())  # the killed attempt's half-written dataset is gone


def test_deid_on_the_cluster_writes_the_same_bytes_as_in_one_process(
    tmp_path: Path, cluster
) -> None:
    address, _client = cluster
    source = tmp_path / "in"
    for n, path in enumerate(study_files(sample("dicomdirtests/77654033/CT2/17106"))):
        (source / f"p{n % 2}").mkdir(parents=True, exist_ok=True)
        shutil.copy(path, source / f"p{n % 2}" / f"{n}.dcm")
    shutil.copy(sample("MR_small.dcm"), source / "mr.dcm")
    key = tmp_path / "deid.key"
    here = run_cli("deid", source, tmp_path / "here", "--key-file", key, "--jobs", "1")
    there = run_cli("deid", source, tmp_path / "there", "--key-file", key, "--scheduler", address)
    assert here.exit_code == there.exit_code == 0, here.output + there.output
    assert here.output.replace("here", "there") == there.output
    outputs = {
        folder: {
            p.relative_to(tmp_path / folder).as_posix(): p.read_bytes()
            for p in sorted((tmp_path / folder).rglob("*"))
            if p.is_file()
        }
        for folder in ("here", "there")
    }
    # the four CTs and MR_small (Image Type DERIVED, SECONDARY: published once its pixels
    # pass the text screening)
    assert len([name for name in outputs["here"] if name.endswith(".dcm")]) == 5
    assert outputs["there"] == outputs["here"]


def test_a_scheduler_that_does_not_answer_is_one_clear_message(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "archive")
    package = tmp_path / "pkg"
    package.mkdir()
    before = run_git(archive / "datasets", "log", "--format=%H")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_cli("ingest", archive, package, "--scheduler", f"tcp://127.0.0.1:{port}")
    assert result.exit_code == 2
    assert result.output.startswith(f"error: no Dask scheduler answers at tcp://127.0.0.1:{port}")
    assert "Traceback" not in result.output
    assert run_git(archive / "datasets", "log", "--format=%H") == before
