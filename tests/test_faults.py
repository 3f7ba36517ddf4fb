"""Fault injection: every command killed with SIGKILL at its instrumented points, then run again.

Each case copies one small released archive (two donations, release 1.0), runs a command
with ``ARCHIVE_BUILDER_KILL_AT`` naming a point (the process kills itself there, as
``kill -9`` would), checks that it died, runs the same command again, and asserts what a
maintainer relies on: ``verify`` passes, every dataset is clean for git and DataLad, nothing
accepted is lost, nothing withdrawn is reachable in ``site/`` (files or rows), and the next
release works.

The commands run with an ordinary user's file permissions: read-only git-annex objects are
what made cleanup fail for maintainers who are not root. Run by root (as in CI), every command
runs with all capabilities dropped (``setpriv --bounding-set=-all``), so that the kernel checks
file permissions as it does for any user (unlinking in a read-only folder fails); a separate
account cannot be used there, since the virtualenv's interpreter lives under root's private
home. Otherwise the commands run as the user running the tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from conftest import record, sample, tree_digest

from archive_builder.faults import VARIABLE

pytestmark = pytest.mark.slow

SCRIPTS = Path(sysconfig.get_path("scripts"))


class User:
    """Runs commands without root's power over file permissions, in a home of their own."""

    def __init__(self, home: Path):
        self.prefix = (
            ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--"] if os.geteuid() == 0 else []
        )
        self.env = {
            "PATH": f"{SCRIPTS}:/usr/bin:/bin",
            "HOME": str(home),
            "GIT_CONFIG_GLOBAL": os.devnull,
            "LANG": "C.UTF-8",
            # a worktree's tests run its own code, not that of the editable install
            **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}),
        }
        self.home = home

    def run(
        self, *args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.prefix, *(str(a) for a in args)],
            env={**self.env, **(env or {})},
            cwd=cwd or self.home,
            capture_output=True,
            text=True,
            check=False,
        )

    def cli(
        self, *args: str | Path, kill_at: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {VARIABLE: kill_at} if kill_at else None
        return self.run(SCRIPTS / "archive-builder", *args, env=env)


def package(folder: Path, donation_id: str, files: list[Path]) -> Path:
    folder.mkdir(parents=True)
    (folder / "donation.json").write_text(json.dumps(record(donation_id=donation_id)))
    for index, path in enumerate(files):
        shutil.copy(path, folder / f"{index}.dcm")
    return folder


@pytest.fixture(scope="module")
def base() -> Iterator[dict[str, Any]]:
    """A released archive of two donations, owned by the user the commands run as."""
    top = Path(tempfile.mkdtemp(prefix="archive-faults-"))
    top.chmod(0o755)
    home = top / "home"
    home.mkdir()
    user = User(home)
    packages = {
        "first": package(top / "pkg" / "first", "fault-test-0001", [sample("CT_small.dcm")]),
        "second": package(top / "pkg" / "second", "fault-test-0002", [sample("CT_small.dcm")]),
        "third": package(top / "pkg" / "third", "fault-test-0003", [sample("CT_small.dcm")]),
    }
    (top / "notes.md").write_text("Release notes.")
    root = top / "base"
    steps = [
        ("init", root, "--base-url", "https://data.example.org/"),
        ("ingest", root, packages["first"], packages["second"]),
        ("build", root),
        ("release", root, "1.0", "--notes", top / "notes.md"),
    ]
    outputs = []
    for step in steps:
        result = user.cli(*step)
        assert result.returncode == 0, result.stdout + result.stderr
        outputs.append(result.stdout)
    ids = registered(user, root)
    assert len(ids) == 2
    # the public id of the first package's donation (fault-test-0001), the one withdrawn
    first = outputs[1].split(f"{packages['first']}: added as ")[1].split()[0]
    yield {
        "top": top,
        "root": root,
        "user": user,
        "packages": packages,
        "ids": ids,
        "first": first,
    }
    subprocess.run(["chmod", "-R", "u+w", str(top)], check=False)
    shutil.rmtree(top, ignore_errors=True)


def registered(user: User, root: Path) -> list[str]:
    out = user.run("git", "-C", root / "datasets", "ls-tree", "HEAD").stdout
    return sorted(line.split("\t")[1] for line in out.splitlines() if line.startswith("160000"))


_counter = iter(range(1000))


def copy(base: dict[str, Any]) -> Path:
    """A copy of the base archive in another folder: its store URLs must follow it."""
    target = base["top"] / f"case-{next(_counter)}"
    result = base["user"].run("cp", "-a", base["root"], target)
    assert result.returncode == 0, result.stderr
    return target


def killed(user: User, point: str, *args: str | Path) -> None:
    result = user.cli(*args, kill_at=point)
    assert result.returncode == -9, (
        f"{point} was not reached: {result.returncode}\n{result.stdout}{result.stderr}"
    )


def annex_keys(root: Path, public_id: str) -> list[str]:
    entries = json.loads((root / "datasets" / public_id / "instances.json").read_text())
    return [entry["annex_key"] for entry in entries]


def assert_sound(
    base: dict[str, Any], root: Path, expected: list[str], withdrawn: dict[str, list[str]]
) -> None:
    """verify passes, datasets clean, nothing accepted lost, nothing withdrawn reachable."""
    user: User = base["user"]
    result = user.cli("verify", root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert registered(user, root) == sorted(expected)
    for repo in [root / "datasets", *(root / "datasets" / pid for pid in expected)]:
        status = user.run("git", "-C", repo, "status", "--porcelain").stdout
        assert status == "", (repo, status)
    site = root / "site"
    status = user.run(SCRIPTS / "datalad", "status", "-r", cwd=root / "datasets")
    assert status.returncode == 0 and "nothing to save" in status.stdout, status.stdout
    assert_twin(root)
    assert not list((root / "private" / "withdrawals").glob("*.json"))
    names = {p.name for p in site.rglob("*")}
    for public_id, keys in withdrawn.items():
        assert not (root / "datasets" / public_id).exists()
        tombstone = sorted(p.name for p in (site / "datasets" / public_id).iterdir())
        assert tombstone == ["index.html", "linkset.json"]
        assert not set(keys) & names, "an annexed file of a withdrawn donation is still served"
        for table in site.rglob("*.parquet"):
            rows = pq.read_table(table).to_pylist()
            for row in rows:
                if row.get("public_id") == public_id:
                    assert row.get("withdrawn") is True and not row.get("age"), table


def assert_twin(root: Path) -> None:
    """``site.next/``, the next build's staging folder, is the live site: the same paths,
    each file the same inode, each link the same target."""

    def tree(top: Path) -> dict[str, object]:
        return {
            p.relative_to(top).as_posix(): (
                str(p.readlink()) if p.is_symlink() else p.stat().st_ino if p.is_file() else "dir"
            )
            for p in top.rglob("*")
        }

    assert tree(root / "site.next") == tree(root / "site")


def assert_next_release(base: dict[str, Any], root: Path) -> None:
    result = base["user"].cli("release", root, "2.0", "--no-strict")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (root / "site" / "releases" / "2.0" / "changes.json").is_file()


@pytest.mark.parametrize("point", ["ingest.staged", "ingest.moved"])
def test_a_killed_ingest(base: dict[str, Any], point: str) -> None:
    root, user = copy(base), base["user"]
    killed(user, point, "ingest", root, base["packages"]["third"])
    result = user.cli("ingest", root, base["packages"]["third"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "added as" in result.stdout or "already in the archive" in result.stdout
    # and the build that publishes it, killed while it sets up the new store sibling
    killed(user, "publish.sibling", "build", root)
    result = user.cli("build", root)
    assert result.returncode == 0, result.stdout + result.stderr
    ids = registered(user, root)
    assert len(ids) == 3 and set(base["ids"]) <= set(ids)
    assert_sound(base, root, ids, {})
    assert_next_release(base, root)


@pytest.mark.parametrize("point", ["build.published", "build.staged", "build.swapped"])
def test_a_killed_build(base: dict[str, Any], point: str) -> None:
    root, user = copy(base), base["user"]
    config = root / "archive.toml"
    user.run("sed", "-i", 's/^name = .*/name = "Renamed Archive"/', config)
    killed(user, point, "build", root)
    assert (root / "site" / "index.html").is_file()  # the old site still served, whole
    result = user.cli("build", root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Renamed Archive" in (root / "site" / "index.html").read_text()
    assert_sound(base, root, base["ids"], {})
    assert_next_release(base, root)


def test_builds_stage_only_what_the_store_changed_and_the_twin_stays_whole(
    base: dict[str, Any],
) -> None:
    """After the first build, a build stages only the store's changed folders: a new
    donation's repository, a withdrawn one's removal, a release's tags all reach the
    live site and its twin, and a build killed after publishing (what it changed
    unknown to the next) is followed by a build that compares the whole store."""
    root, user = copy(base), base["user"]
    assert user.cli("build", root).returncode == 0  # a copied archive: the twin is made in full
    assert user.cli("ingest", root, base["packages"]["third"]).returncode == 0
    killed(user, "build.published", "build", root)
    result = user.cli("build", root)
    assert result.returncode == 0, result.stdout + result.stderr
    ids = registered(user, root)
    assert len(ids) == 3
    assert_sound(base, root, ids, {})
    gone = base["first"]
    keys = annex_keys(root, gone)
    repository = (root / "site" / "store" / "alias" / gone).resolve().relative_to(root / "site")
    result = user.cli("withdraw", root, "fault-test-0001")
    assert result.returncode == 0, result.stdout + result.stderr
    kept = [pid for pid in ids if pid != gone]
    assert_sound(base, root, kept, {gone: keys})
    assert not (root / "site" / repository).exists()
    assert not (root / "site.next" / repository).exists()
    assert_next_release(base, root)
    assert_sound(base, root, kept, {gone: keys})


def test_a_build_after_a_killed_release_and_a_deleted_cache_stages_the_whole_store(
    base: dict[str, Any],
) -> None:
    """A release killed after publishing pushed its tags into the live store and not into
    the twin; `.cache/` may be deleted at will (README) and with it that build's markers.
    The build that completes the release pushes nothing (the store has the tags): staging
    only what it pushed swapped in a store without them, so that the live site's store
    lacked the release's tags and refs its superdataset names."""
    root, user = copy(base), base["user"]
    assert user.cli("ingest", root, base["packages"]["third"]).returncode == 0
    assert user.cli("build", root).returncode == 0  # the twin is proven from here
    killed(user, "build.published", "release", root, "1.1", "--no-strict")
    shutil.rmtree(root / ".cache" / "site")
    result = user.cli("release", root, "1.1", "--no-strict")
    assert result.returncode == 0, result.stdout + result.stderr
    ids = registered(user, root)
    for public_id in ids:
        bare = (root / "site" / "store" / "alias" / public_id).resolve()
        tags = user.run("git", "-C", bare, "tag").stdout.split()
        dataset_tags = user.run("git", "-C", root / "datasets" / public_id, "tag").stdout.split()
        assert tags == dataset_tags, (public_id, tags, dataset_tags)
    assert_sound(base, root, ids, {})


def _objects(site: Path, key: str) -> list[Path]:
    return [p for p in (site / "store").rglob(key) if p.is_file()]


@pytest.mark.xfail(
    strict=True,
    reason="after a finished build, staging compares only the store folders its publication "
    "changed: a file removed by hand from site.next/store/ is not linked again (review5)",
)
def test_a_store_file_removed_by_hand_from_the_twin_is_still_served(
    base: dict[str, Any],
) -> None:
    root, user = copy(base), base["user"]
    assert user.cli("build", root).returncode == 0  # the twin is proven from here
    key = annex_keys(root, base["first"])[0]
    [twin_copy] = _objects(root / "site.next", key)
    user.run("chmod", "u+w", twin_copy.parent)
    twin_copy.unlink()
    result = user.cli("build", root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _objects(root / "site", key), "a published donation's file is gone from site/"


@pytest.mark.xfail(
    strict=True,
    reason="after a finished build, staging compares only the store folders its publication "
    "changed: a file removed by hand from site/store/ comes back from the twin (review5)",
)
def test_a_store_file_removed_by_hand_from_the_live_site_stays_removed(
    base: dict[str, Any],
) -> None:
    root, user = copy(base), base["user"]
    assert user.cli("build", root).returncode == 0  # the twin is proven from here
    key = annex_keys(root, base["first"])[0]
    [live] = _objects(root / "site", key)
    user.run("chmod", "u+w", live.parent)
    live.unlink()
    result = user.cli("build", root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not _objects(root / "site", key), "a file taken out of site/ by hand is served again"


@pytest.mark.parametrize("point", ["release.committed", "build.staged"])
def test_a_killed_release(base: dict[str, Any], point: str) -> None:
    root, user = copy(base), base["user"]
    assert user.cli("ingest", root, base["packages"]["third"]).returncode == 0
    killed(user, point, "release", root, "1.1", "--no-strict")
    refused = user.cli("release", root, "1.2", "--no-strict")
    assert refused.returncode == 2 and "release 1.1 is half-made" in refused.stderr
    result = user.cli("release", root, "1.1", "--no-strict")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "released 1.1: 1 added" in result.stdout
    tags = user.run("git", "-C", root / "datasets", "tag").stdout.split()
    assert tags == ["1.0", "1.1"]
    assert_sound(base, root, registered(user, root), {})
    again = user.cli("release", root, "1.1", "--no-strict")
    assert again.returncode == 2 and "immutable" in again.stderr
    assert_next_release(base, root)


@pytest.mark.parametrize(
    "point",
    # the last: killed inside its own build, the site not yet swapped (the old pages served)
    ["withdraw.requested", "withdraw.committed", "withdraw.scrubbed", "build.staged"],
)
def test_a_killed_withdrawal(base: dict[str, Any], point: str) -> None:
    root, user = copy(base), base["user"]
    gone = base["first"]
    keys = annex_keys(root, gone)
    killed(user, point, "withdraw", root, "fault-test-0001")
    if point == "withdraw.requested":
        # as a git killed inside a commit leaves it
        (root / "datasets" / ".git" / "index.lock").write_text("")
    result = user.cli("withdraw", root, "fault-test-0001")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{gone} withdrawn" in result.stdout or "already withdrawn" in result.stdout
    kept = [pid for pid in base["ids"] if pid != gone]
    assert_sound(base, root, kept, {gone: keys})
    frozen = pq.read_table(root / "site" / "releases" / "1.0" / "catalog" / "donations.parquet")
    assert frozen.column("public_id").to_pylist() == kept
    assert_next_release(base, root)


def test_another_command_completes_an_interrupted_withdrawal(base: dict[str, Any]) -> None:
    """Killed before the frozen catalogs were scrubbed, the next `build` (not `withdraw`)
    finishes the withdrawal: the release catalog no longer serves the donor's rows."""
    root, user = copy(base), base["user"]
    gone = base["first"]
    keys = annex_keys(root, gone)
    killed(user, "withdraw.unregistered", "withdraw", root, "fault-test-0001")
    result = user.cli("build", root)
    assert result.returncode == 0, result.stdout + result.stderr
    kept = [pid for pid in base["ids"] if pid != gone]
    assert_sound(base, root, kept, {gone: keys})


def test_a_withdrawn_donation_is_not_ingested_again(base: dict[str, Any]) -> None:
    root, user = copy(base), base["user"]
    assert user.cli("withdraw", root, "fault-test-0001").returncode == 0
    result = user.cli("ingest", root, base["packages"]["first"])
    assert result.returncode == 1
    assert "its donor withdrew this donation" in result.stderr
    assert "fault-test-0001" not in result.stdout + result.stderr


def test_a_record_that_slipped_through_is_published_cleaned_with_a_warning(
    base: dict[str, Any],
) -> None:
    """A record ingested before text was checked at the door no longer breaks every build."""
    root, user = copy(base), base["user"]
    public_id = base["ids"][0]
    dataset = root / "datasets" / public_id
    record_file = dataset / "donation.json"
    text = record_file.read_text().replace("Migraine, unspecified", "Migraine\\u000b\\u202e")
    record_file.write_text(text)
    for repo, path in ((dataset, "donation.json"), (root / "datasets", public_id)):
        result = user.run("git", "-C", repo, "commit", "-qm", "legacy record", "--", path)
        assert result.returncode == 0, result.stderr
    result = user.cli("build", root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning:" in result.stderr and "published without those characters" in result.stderr
    page = (root / "site" / "datasets" / public_id / "index.html").read_text()
    assert "Migraine" in page and "\x0b" not in page and "\u202e" not in page
    assert user.cli("verify", root).returncode == 0


def test_a_copied_archive_publishes_to_its_own_store(base: dict[str, Any]) -> None:
    root, user = copy(base), base["user"]
    original_store = base["root"] / "site" / "store"
    before = sorted(p.relative_to(original_store) for p in original_store.rglob("*"))
    assert user.cli("ingest", root, base["packages"]["third"]).returncode == 0
    result = user.cli("build", root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.relative_to(original_store) for p in original_store.rglob("*")) == before
    new = sorted(set(registered(user, root)) - set(base["ids"]))
    assert (root / "site" / "store" / "alias" / new[0]).is_symlink()
    config = (root / "datasets" / ".git" / "config").read_text()
    assert str(base["root"]) not in config and str(root) in config


def test_verify_finds_tampering_and_never_crashes(base: dict[str, Any]) -> None:
    root, user = copy(base), base["user"]
    site = root / "site"
    store = site / "store"
    super_repo = (store / "alias" / "archive").resolve()
    head = user.run("git", "-C", super_repo, "rev-parse", "HEAD").stdout.strip()
    branch = user.run("git", "-C", super_repo, "symbolic-ref", "HEAD").stdout.strip()
    tampering = [
        lambda: (site / SUMS_NAME).write_bytes((site / SUMS_NAME).read_bytes() + b"\xff\xfe\n"),
        lambda: (site / "catalog" / "stray.sha256").write_bytes(b"\x00\x01"),
        lambda: (site / "secret").symlink_to(root / "private" / "secret.key"),
        lambda: (store / "extra.html").write_text("not a repository"),
        lambda: user.run("git", "-C", super_repo, "update-ref", branch, f"{head}~1"),
    ]
    for change in tampering:
        change()
    result = user.cli("verify", root)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    for expected in (
        "SHA256SUMS line",
        "site/catalog/stray.sha256 holds no SHA-256 digest",
        "site/secret is a symlink",
        "site/store/extra.html is not part of the store",
        f"store: archive has {branch} at another commit than the archive",
    ):
        assert expected in result.stderr, result.stderr
    shutil.rmtree(super_repo)
    result = user.cli("verify", root)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "store: archive is not published" in result.stderr


SUMS_NAME = "SHA256SUMS"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 MB tmpfs: a disk that fills up (mounting needs root, as in CI).

    A built site carries the 18 MB DuckDB-Wasm engine of the cohort page, so the
    archive of one donation needs more than 20 MB."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)], check=True)
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    """Leave about 30 KB free on ``disk``."""
    free = shutil.disk_usage(disk).free
    filler = disk / "filler"
    with filler.open("wb") as handle:
        handle.truncate(0)
        handle.write(b"\0" * max(free - 30 * 1024, 0))
    return filler


def test_a_full_disk_is_a_message_and_changes_nothing(
    base: dict[str, Any], small_disk: Path
) -> None:
    user = base["user"]
    root = small_disk / "archive"
    first, second = base["packages"]["first"], base["packages"]["second"]
    for step in (("init", root), ("ingest", root, first), ("build", root)):
        result = user.cli(*step)
        assert result.returncode == 0, result.stdout + result.stderr
    before = (registered(user, root), tree_digest(root / "site"))
    filler = fill(small_disk)
    for step in (("ingest", root, second), ("build", root)):
        result = user.cli(*step)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "the disk is full" in result.stderr and "Traceback" not in result.stderr
        assert (registered(user, root), tree_digest(root / "site")) == before
    filler.unlink()
    for step in (("ingest", root, second), ("build", root), ("verify", root)):
        result = user.cli(*step)
        assert result.returncode == 0, result.stdout + result.stderr
    assert len(registered(user, root)) == 2
