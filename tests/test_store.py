"""The published store: clone and partial download over plain HTTP, releases, withdrawal, verify.

Real DataLad and git-annex, a real HTTP server on 127.0.0.1 (Python's http.server),
real `datalad clone` and `datalad get`, as a researcher would run them.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sysconfig
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import git_log, record, run_cli, sample

from archive_builder.demo import study_files

SCRIPTS = Path(sysconfig.get_path("scripts"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def researcher_env(home: Path) -> dict[str, str]:
    """A researcher's machine: their own git identity, this virtualenv's datalad and git-annex."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": f"{SCRIPTS}:/usr/bin:/bin",
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_AUTHOR_NAME": "A Researcher",
        "GIT_AUTHOR_EMAIL": "researcher@university.example",
        "GIT_COMMITTER_NAME": "A Researcher",
        "GIT_COMMITTER_EMAIL": "researcher@university.example",
    }


def datalad(env: dict[str, str], *args: str, cwd: Path, check: bool = True):
    result = subprocess.run(
        [str(SCRIPTS / "datalad"), *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def registered(archive: Path) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(archive / "datasets"), "ls-tree", "HEAD"], capture_output=True, text=True
    ).stdout
    return [line.split("\t")[1] for line in out.splitlines() if line.startswith("160000")]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """An archive of two donations, released as 1.0, served over HTTP on 127.0.0.1."""
    base = tmp_path_factory.mktemp("store")
    port = free_port()
    root = base / "archive"
    result = run_cli(
        "init", root, "--name", "Store Test", "--base-url", f"http://127.0.0.1:{port}/"
    )
    assert result.exit_code == 0, result.output
    packages = []
    studies = [[sample("CT_small.dcm")], study_files(sample("dicomdirtests/77654033/CT2/17106"))]
    for n, files in enumerate(studies):
        folder = base / f"pkg{n}"
        folder.mkdir()
        (folder / "donation.json").write_text(json.dumps(record(donation_id=f"store-test-{n:04d}")))
        for i, f in enumerate(files):
            shutil.copy(f, folder / f"{i}.dcm")
        packages.append(folder)
    # The first donation is published by a full build, the second by the incremental
    # one (its sibling created alone) that the release runs: clients must see no difference.
    ids = []
    for package in packages:
        result = run_cli("ingest", root, package)
        assert result.exit_code == 0, result.output
        ids.append(result.output.split("added as ")[1].split()[0])
        if len(ids) == 1:
            assert run_cli("build", root).exit_code == 0
    notes = base / "notes.md"
    notes.write_text("First release: *two* donations.")
    result = run_cli("release", root, "1.0", "--notes", notes)
    assert result.exit_code == 0, result.output
    handler = functools.partial(QuietHandler, directory=str(root / "site"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"root": root, "ids": ids, "url": f"ria+http://127.0.0.1:{port}/store", "base": base}
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_clone_and_get_one_file_over_http(published: dict) -> None:
    env = researcher_env(published["base"] / "home1")
    target = published["base"] / "clone1"
    datalad(env, "clone", f"{published['url']}#~archive", str(target), cwd=published["base"])
    first, other = published["ids"]
    assert (target / first).is_dir()  # listed, not yet installed
    datalad(env, "get", "-n", first, cwd=target)
    datalad(env, "get", f"{first}/series-001/instance-0001.dcm", cwd=target)
    fetched = (target / first / "series-001" / "instance-0001.dcm").read_bytes()
    original = published["root"] / "datasets" / first / "series-001" / "instance-0001.dcm"
    assert fetched == original.read_bytes()
    # nothing else was downloaded: the other donation is not even installed
    assert not list((target / other).iterdir())


def test_clone_one_donation_by_its_public_id(published: dict) -> None:
    env = researcher_env(published["base"] / "home2")
    donation = published["ids"][1]
    target = published["base"] / "clone2"
    datalad(env, "clone", f"{published['url']}#~{donation}", str(target), cwd=published["base"])
    datalad(env, "get", "series-001", cwd=target)
    files = sorted(target.glob("series-001/*.dcm"))
    assert files
    local = published["root"] / "datasets" / donation
    for f in files:
        assert f.read_bytes() == (local / f.relative_to(target)).read_bytes()


def test_no_local_path_is_published(published: dict) -> None:
    root = str(published["root"]).encode()
    for path in (published["root"] / "site").rglob("*"):
        if path.is_file():
            assert root not in path.read_bytes(), path


def test_no_local_path_in_any_git_object_of_the_store(published: dict) -> None:
    """The git-annex branch history included: the storage sibling was public from its first push."""
    root = str(published["root"].resolve()).encode()
    store = published["root"] / "site" / "store"
    repositories = [p for p in store.glob("???/*") if (p / "HEAD").is_file()]
    assert len(repositories) == 3  # the superdataset and two donations
    for repo in repositories:
        objects = subprocess.run(
            ["git", "-C", str(repo), "cat-file", "--batch-all-objects", "--batch"],
            capture_output=True,
            check=True,
        ).stdout
        assert b"remote.log" in objects or b"store-storage" in objects
        assert root not in objects, repo
        assert b"file://" not in objects, repo


def test_the_donation_page_shows_the_commands_that_work(published: dict) -> None:
    donation = published["ids"][1]
    page = (published["root"] / "site" / "datasets" / donation / "index.html").read_text()
    assert f"datalad clone {published['url']}#~{donation}" in page


def test_release_is_tagged_logged_and_frozen(published: dict) -> None:
    root = published["root"]
    tags = subprocess.run(
        ["git", "-C", str(root / "datasets"), "tag"], capture_output=True, text=True
    ).stdout.split()
    assert tags == ["1.0"]
    changelog = (root / "datasets" / "CHANGELOG.md").read_text()
    assert "## 1.0" in changelog and "First release" in changelog
    changes = json.loads((root / "site" / "releases" / "1.0" / "changes.json").read_text())
    assert sorted(changes["added"]) == sorted(published["ids"])
    assert changes["withdrawn"] == [] and changes["previous"] is None
    frozen = pq.read_table(root / "site" / "releases" / "1.0" / "catalog" / "donations.parquet")
    assert sorted(frozen.column("public_id").to_pylist()) == sorted(published["ids"])
    assert frozen.schema.metadata[b"release"] == b"1.0"
    # the live catalog says it is release 1.0 while nothing has changed since
    live = pq.read_schema(root / "site" / "catalog" / "donations.parquet")
    assert live.metadata[b"release"] == b"1.0"


def test_a_release_cannot_be_made_twice(published: dict) -> None:
    result = run_cli("release", published["root"], "1.0", "--no-strict")
    assert result.exit_code == 2
    assert "release 1.0 exists; releases are immutable" in result.output


def test_strict_release_refuses_without_notes(published: dict) -> None:
    result = run_cli("release", published["root"], "1.1")
    assert result.exit_code == 2
    assert "no release notes" in result.output and "--no-strict" in result.output


def test_verify_passes_then_finds_tampering(published: dict) -> None:
    root = published["root"]
    result = run_cli("verify", root)
    assert result.exit_code == 0, result.output
    page = root / "site" / "index.html"
    original = page.read_bytes()
    extra = root / "site" / "stray.html"
    try:
        page.write_bytes(original + b"<!-- changed -->")
        extra.write_text("stray")
        result = run_cli("verify", root)
        assert result.exit_code == 1
        assert "site/index.html does not match its checksum" in result.output
        assert "site/stray.html is not part of the build" in result.output
    finally:
        page.write_bytes(original)
        extra.unlink()


def test_withdrawal_removes_the_files_from_every_clone(published: dict) -> None:
    """Runs last among the tests on this archive: it withdraws the first donation."""
    root, base = published["root"], published["base"]
    gone, kept = published["ids"]
    keys = [
        i["annex_key"]
        for i in json.loads((root / "datasets" / gone / "instances.json").read_text())
    ]
    result = run_cli("withdraw", root, "store-test-0000")
    assert result.exit_code == 0, result.output
    assert f"{gone} withdrawn" in result.output

    # the archive keeps nothing of it, and the private log has no donation id
    assert not (root / "datasets" / gone).exists()
    log = (root / "private" / "logs" / "withdrawals.jsonl").read_text()
    assert gone in log and "store-test-0000" not in log
    # its page is a tombstone with no data
    page = (root / "site" / "datasets" / gone / "index.html").read_text()
    assert "withdrawn" in page.lower() and "Migraine" not in page
    # none of its annexed files remains anywhere in the published site
    published_names = {p.name for p in (root / "site").rglob("*")}
    assert not set(keys) & published_names

    env = researcher_env(base / "home3")
    fresh = base / "clone-fresh"
    datalad(env, "clone", f"{published['url']}#~archive", str(fresh), cwd=base)
    assert not (fresh / gone).exists()
    assert (fresh / kept).exists()
    # a clone of the older release names it but cannot fetch anything of it
    old = base / "clone-old"
    datalad(env, "clone", f"{published['url']}#~archive", str(old), cwd=base)
    subprocess.run(["git", "-C", str(old), "checkout", "-q", "1.0"], check=True, env=env)
    assert (old / gone).exists()
    assert datalad(env, "get", "-n", gone, cwd=old, check=False).returncode != 0
    assert not list((old / gone).rglob("*.dcm"))
    direct = datalad(
        env, "clone", f"{published['url']}#~{gone}", str(base / "direct"), cwd=base, check=False
    )
    assert direct.returncode != 0
    # the frozen release lost its rows; withdrawing again changes nothing
    frozen = pq.read_table(root / "releases" / "1.0" / "catalog" / "donations.parquet")
    assert frozen.column("public_id").to_pylist() == [kept]
    live = pq.read_schema(root / "site" / "catalog" / "donations.parquet")
    assert live.metadata[b"release"] == b"unreleased"  # it no longer matches release 1.0
    again = run_cli("withdraw", root, "store-test-0000")
    assert again.exit_code == 0 and "already withdrawn" in again.output
    assert run_cli("verify", root).exit_code == 0


def test_withdrawing_an_unknown_donation(archive_dir: Path) -> None:
    result = run_cli("withdraw", archive_dir, "no-such-donation")
    assert result.exit_code == 2
    assert "no donation with that donation id" in result.output


def test_a_killed_ingest_leaves_a_consistent_archive(archive_dir: Path, make_package) -> None:
    """SIGKILL an ingest at increasing moments: each time the archive holds nothing or one
    complete donation, and running the same command again finishes the job."""
    package = make_package(
        study_files(sample("dicomdirtests/77654033/CT2/17106")), donation_id="killed-ingest-01"
    )
    script = SCRIPTS / "archive-builder"
    for delay in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0):
        process = subprocess.Popen(
            [str(script), "ingest", str(archive_dir), str(package)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(delay)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        listed = [
            p.name
            for p in (archive_dir / "datasets").iterdir()
            if p.is_dir() and not p.name.startswith(".")
        ]
        assert len(listed) <= 1
        for name in listed:  # in datasets/ means complete, registered or not
            files = {p.name for p in (archive_dir / "datasets" / name).iterdir()}
            assert {"donation.json", "instances.json", "deid-report.json"} <= files, files
    result = run_cli("ingest", archive_dir, package)
    assert result.exit_code == 0, result.output
    assert "added as" in result.output or "already in the archive" in result.output
    assert len(registered(archive_dir)) == 1
    assert git_log(archive_dir / "datasets")
    status = subprocess.run(
        ["git", "-C", str(archive_dir / "datasets"), "status", "--porcelain"],
        capture_output=True,
        text=True,
    ).stdout
    assert status == ""
