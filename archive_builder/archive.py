"""The archive folder: its layout, its secret key, and ``init``.

DIR/archive.toml   configuration (public)
DIR/datasets/      DataLad superdataset, one subdataset per donation (public)
DIR/site/          the generated static website (public)
DIR/private/       secret key, quarantine, staging, logs (never published)
DIR/templates/     optional template overrides
"""

from __future__ import annotations

import fcntl
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .config import CONFIG_FILE, ArchiveConfig, load_config, parse_config, render_config
from .errors import ConfigError

KEY_BYTES = 32


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def config_file(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def datasets(self) -> Path:
        return self.root / "datasets"

    @property
    def site(self) -> Path:
        return self.root / "site"

    @property
    def private(self) -> Path:
        return self.root / "private"

    @property
    def key_file(self) -> Path:
        return self.private / "secret.key"

    @property
    def quarantine(self) -> Path:
        return self.private / "quarantine"

    @property
    def staging(self) -> Path:
        return self.private / "staging"

    @property
    def logs(self) -> Path:
        return self.private / "logs"

    @property
    def releases(self) -> Path:
        """Frozen files of each release, copied into ``site/releases/`` by every build."""
        return self.root / "releases"

    @property
    def store(self) -> Path:
        """The published DataLad RIA store."""
        return self.site / "store"

    @property
    def templates(self) -> Path:
        return self.root / "templates"


@dataclass(frozen=True)
class Archive:
    """An opened archive: where it is, what it says, and its secret key."""

    layout: Layout
    config: ArchiveConfig
    key: bytes


LOCK_FILE = "archive.lock"


@contextmanager
def locked(layout: Layout, command: str = "a command") -> Iterator[None]:
    """One command at a time may change an archive; the lock file says who holds it.

    The lock is an ``flock`` on ``private/archive.lock``: the kernel releases it
    when its holder ends, however it ends, so it cannot outlive a killed
    command on a local disk. The file's text (command, pid, host, start time)
    only tells the next command whom it is waiting for.
    """
    layout.private.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = layout.private / LOCK_FILE
    with path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another archive-builder command"
            raise ConfigError(
                f"{holder} is working on {layout.root}; wait for it to finish. "
                "The lock ends with that process, however it ends; if it is gone and this "
                f"persists (a network file system), delete {path} and run the command again."
            ) from None
        try:
            handle.seek(0)
            handle.truncate()
            started = datetime.now(UTC).isoformat(timespec="seconds")
            handle.write(
                f"`{command}` (pid {os.getpid()} on {socket.gethostname()}, started {started})\n"
            )
            handle.flush()
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_archive(root: Path) -> Archive:
    layout = Layout(root.resolve())
    config = load_config(layout.root)
    return Archive(layout=layout, config=config, key=read_key(layout))


def read_key(layout: Layout) -> bytes:
    path = layout.key_file
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise ConfigError(
            f"{path} is missing. The secret key is what makes public identifiers, UIDs "
            "and date shifts consistent and irreversible; restore it from your backup "
            "(a new key would re-identify nothing but would break consistency)."
        ) from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise ConfigError(f"{path} is not a valid key ({KEY_BYTES * 2} hex digits expected).")
    if path.stat().st_mode & 0o077:
        raise ConfigError(f"{path} is readable by others; run `chmod 600 {path}`.")
    return key


def write_key(layout: Layout) -> None:
    """Create the archive's secret key, readable by its owner only."""
    layout.private.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(layout.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(KEY_BYTES) + "\n")


def create_layout(
    root: Path,
    *,
    name: str,
    publisher: str,
    contact: str,
    base_url: str,
    license: str = "CC-BY-4.0",
) -> Layout:
    """Write ``archive.toml``, ``private/`` and its key. The superdataset is the store's job."""
    layout = Layout(root.resolve())
    if layout.config_file.exists():
        raise ConfigError(f"{layout.root} is already an archive ({CONFIG_FILE} exists).")
    # Checked before anything is written: a refused init leaves no half-made archive.
    given = {
        "name": name,
        "description": "-",
        "publisher": publisher,
        "contact": contact,
        "base_url": base_url,
        "license": license,
    }
    parse_config(given, "", layout.config_file)
    if layout.datasets.exists() and any(p.name != "README.md" for p in layout.datasets.iterdir()):
        raise ConfigError(
            f"{layout.datasets} exists and is not empty; choose an empty folder for the archive."
        )
    layout.root.mkdir(parents=True, exist_ok=True)
    if not layout.key_file.exists():
        write_key(layout)
    for folder in (layout.quarantine, layout.staging, layout.logs):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = render_config(name, publisher, contact, base_url, license)
    tmp = layout.config_file.with_suffix(".toml.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(layout.config_file)
    return layout
