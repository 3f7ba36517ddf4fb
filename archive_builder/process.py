"""Running git, git-annex and DataLad as subprocesses, the same way everywhere.

Every subprocess (and DataLad's ``create`` and ``save``, called in-process by
``store/inprocess.py`` under the same environment) gets an environment that
- finds ``git-annex`` and ``datalad`` from this Python environment (the PyPI
  wheels install them next to the interpreter), activated or not;
- commits as the archive, never as the person running it: the maintainer's
  personal identity would otherwise be published in every dataset's history;
- ignores the user's global git configuration (a personal ``commit.gpgsign``
  or hook must not change what the archive writes).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import ArchiveError, DiskFullError, disk_full_message

# How git, git-annex and DataLad say that the disk (or the quota) is full.
_DISK_FULL = ("No space left on device", "Disk quota exceeded", "Out of diskspace")


class ToolError(ArchiveError, RuntimeError):
    """A git, git-annex or DataLad command failed."""


def scripts_dir() -> Path:
    """Where pip put the console scripts of this environment (git-annex, datalad)."""
    return Path(sysconfig.get_path("scripts"))


def tool_env(identity: tuple[str, str] | None = None) -> dict[str, str]:
    """The environment of git, git-annex and DataLad: the user's identity and DataLad
    settings left out, and none of git's configuration but the repository's own (not
    the global file, the system file, items given in the environment, nor a template
    directory: a hook they name runs at every commit and can sign it as the user)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_", "DATALAD_", "GIT_CONFIG"))
        and k not in ("EMAIL", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_TEMPLATE_DIR")
    }
    paths = [str(scripts_dir()), str(Path(sys.executable).parent)]
    env["PATH"] = os.pathsep.join([*dict.fromkeys(paths), env.get("PATH", "")])
    env["GIT_CONFIG_GLOBAL"] = os.devnull
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["DATALAD_UI_PROGRESSBAR"] = "none"
    if identity is not None:
        name, email = identity
        env.update(
            GIT_AUTHOR_NAME=name,
            GIT_AUTHOR_EMAIL=email,
            GIT_COMMITTER_NAME=name,
            GIT_COMMITTER_EMAIL=email,
        )
    return env


def run(
    args: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    identity: tuple[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    check: bool = True,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    env = tool_env(identity)
    if extra_env:
        env.update(extra_env)
    argv = [str(a) for a in args]
    if argv[0] == "datalad":
        script = scripts_dir() / "datalad"
        argv[0] = str(script) if script.exists() else "datalad"
    result = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, check=False, input=input
    )
    if check and result.returncode != 0:
        shown = " ".join(str(a) for a in args)
        output = (result.stderr or "") + (result.stdout or "")
        if any(sign in output for sign in _DISK_FULL):
            where = cwd or (argv[argv.index("-C") + 1] if "-C" in argv else "")
            raise DiskFullError(disk_full_message(f"`{argv[0].rsplit('/', 1)[-1]}` in {where}"))
        detail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise ToolError(f"`{shown}` failed in {cwd}:\n  " + "\n  ".join(detail))
    return result
