"""DataLad datasets: the superdataset ``datasets/`` and one subdataset per donation.

Every commit carries the archive's identity and a date rounded down to the
day (git and git-annex alike), so the public history says which archive made
a change and on which day, never who sat at the keyboard or at what minute.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from ..process import run
from . import inprocess
from .cleanup import force_rmtree
from .errors import StoreError

# What goes to git-annex: DICOM files, by name, never by libmagic's guess.
GITATTRIBUTES = """\
* annex.backend=SHA256E
**/.git* annex.largefiles=nothing
* annex.largefiles=nothing
*.dcm annex.largefiles=anything
"""


class Committer:
    """Who and when, for every commit the archive makes."""

    def __init__(self, name: str, email: str, day: datetime | None = None):
        self.name = name
        self.email = email
        day = day or datetime.now(UTC)
        self.timestamp = int(day.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())

    @property
    def env(self) -> dict[str, str]:
        date = f"{self.timestamp} +0000"
        return {
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_DATE": date,
            "GIT_ANNEX_VECTOR_CLOCK": str(self.timestamp),
        }

    @property
    def identity(self) -> tuple[str, str]:
        return self.name, self.email


def git(repo: Path, *args: str, committer: Committer | None = None, check: bool = True) -> str:
    return run(
        ["git", "-C", str(repo), *args],
        identity=committer.identity if committer else None,
        extra_env=committer.env if committer else None,
        check=check,
    ).stdout


def datalad(*args: str | Path, cwd: Path, committer: Committer) -> None:
    run(
        ["datalad", "-l", "error", *args],
        cwd=cwd,
        identity=committer.identity,
        extra_env=committer.env,
    )


def _call(action: str, where: Path, committer: Committer, **kwargs: object) -> None:
    """DataLad's ``create`` or ``save``, in this process (``inprocess``), as the archive."""
    inprocess.call(action, str(where), committer.identity, committer.env, **kwargs)


def _configure(repo: Path, committer: Committer) -> None:
    # Recorded in the repository too, so that plain git commands run later by a
    # maintainer in this folder also commit as the archive.
    git(repo, "config", "user.name", committer.name)
    git(repo, "config", "user.email", committer.email)


SUPERDATASET_ATTRIBUTES = "* annex.largefiles=nothing\n"


def create_superdataset(path: Path, committer: Committer, staging: Path) -> None:
    """Make ``path`` (which may hold files already) a DataLad dataset.

    The dataset is created empty under ``staging`` and its repository moved
    into ``path``: created in place, DataLad refuses a folder whose files an
    enclosing git repository tracks (the demo archive's ``datasets/README.md``
    in a clone of this project).
    """
    path.mkdir(parents=True, exist_ok=True)
    if (path / ".git").exists():
        raise StoreError(f"{path} is a git repository already; initialise the archive elsewhere.")
    fresh = staging / "superdataset"
    if fresh.exists():
        shutil.rmtree(fresh)
    fresh.parent.mkdir(parents=True, exist_ok=True)
    _call("create", fresh, committer, path=str(fresh), description="archive superdataset")
    for name in (".datalad", ".gitattributes", ".git"):  # .git last: a dataset once it is there
        (fresh / name).rename(path / name)
    shutil.rmtree(fresh)
    _configure(path, committer)
    # The superdataset holds only text (README, CHANGELOG, release records): all in git,
    # readable in a clone without `datalad get`.
    attributes = path / ".gitattributes"
    attributes.write_text(
        attributes.read_text(encoding="utf-8") + SUPERDATASET_ATTRIBUTES, encoding="utf-8"
    )
    save(path, "Describe the superdataset", committer)


def create_donation_dataset(path: Path, committer: Committer) -> None:
    if path.exists():
        force_rmtree(path)  # a read-only leftover of an interrupted ingest
    path.parent.mkdir(parents=True, exist_ok=True)
    _call("create", path, committer, path=str(path), description="donation dataset")
    _configure(path, committer)
    (path / ".gitattributes").write_text(GITATTRIBUTES, encoding="utf-8")


def save(dataset: Path, message: str, committer: Committer, *paths: Path) -> None:
    _call(
        "save",
        dataset,
        committer,
        dataset=str(dataset),
        message=message,
        path=[str(p) for p in paths] or None,
    )


def is_dataset(path: Path) -> bool:
    return (path / ".datalad" / "config").is_file() and (path / ".git").exists()


def subdataset_commits(superdataset: Path) -> dict[str, str]:
    """Each subdataset committed in the superdataset, with its recorded commit (one git call;
    uncommitted subdatasets do not count)."""
    if not (superdataset / ".git").exists():
        raise StoreError(f"{superdataset} is not a DataLad dataset; was the archive initialised?")
    listing = git(superdataset, "ls-tree", "HEAD", check=False)
    commits = {}
    for line in listing.splitlines():
        if line.startswith("160000 "):
            meta, name = line.split("\t", 1)
            commits[name] = meta.split()[2]
    return dict(sorted(commits.items()))


def registered(superdataset: Path) -> list[str]:
    """Subdatasets committed in the superdataset (uncommitted ones do not count)."""
    return list(subdataset_commits(superdataset))


def head_commit(repo: Path) -> str | None:
    out = run(["git", "-C", str(repo), "rev-parse", "--verify", "-q", "HEAD"], check=False)
    return out.stdout.strip() or None


def is_clean(repo: Path) -> bool:
    return git(repo, "status", "--porcelain", "--untracked-files=normal").strip() == ""


def tag_exists(repo: Path, name: str) -> bool:
    return bool(git(repo, "tag", "--list", name).strip())


def tag(repo: Path, name: str, committer: Committer) -> None:
    git(repo, "tag", "-a", name, "-m", f"Release {name}", committer=committer)
