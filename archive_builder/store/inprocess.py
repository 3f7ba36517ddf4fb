"""DataLad's own Python API, called in this process with the environment of its subprocesses.

``datalad create`` and ``datalad save`` run once or twice for every donation.
Run as commands, each starts Python and imports DataLad again (about 0.9 s of
CPU of the 1.7 s the two take for a one-file donation); called here, DataLad
is imported once per process and only its git and git-annex calls remain.

They run under the same environment as every subprocess (``process.tool_env``:
the archive's identity and the day's date, the user's global git configuration
ignored, DataLad's own ``DATALAD_*`` settings dropped): it is put in
``os.environ`` for the length of the call, before DataLad is first imported
(DataLad reads its configuration then, and keeps it: imported before, by
another library in the user's environment, it reads it again, and settings
given to it in Python, ``datalad.cfg.overrides``, are set aside for the call),
and taken away after it. DataLad
starts its git and git-annex processes with a copy of ``os.environ`` made at
each call.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from ..errors import DiskFullError, disk_full_message
from ..process import _DISK_FULL, ToolError, tool_env

_LOCK = threading.Lock()  # os.environ is the process's: one call at a time


@contextmanager
def _environment(identity: tuple[str, str], extra: Mapping[str, str]) -> Iterator[None]:
    with _LOCK:
        wanted = tool_env(identity) | dict(extra)
        before = dict(os.environ)
        try:
            for name in [n for n in os.environ if n not in wanted]:
                del os.environ[name]
            os.environ.update(wanted)
            yield
        finally:
            os.environ.clear()
            os.environ.update(before)


def _api() -> ModuleType:
    import datalad.api

    logging.getLogger("datalad").setLevel(logging.ERROR)
    api: ModuleType = datalad.api
    return api


def call(
    action: str, where: str, identity: tuple[str, str], extra: Mapping[str, str], **kwargs: Any
) -> None:
    """``datalad.api.<action>(**kwargs)``; a failure is a ``ToolError`` naming ``where``
    (or a ``DiskFullError``), as a failed command is."""
    with _environment(identity, extra):
        imported = "datalad" in sys.modules
        api = _api()
        import datalad
        from datalad.support.exceptions import CommandError, IncompleteResultsError

        overrides, datalad.cfg.overrides = datalad.cfg.overrides, {}
        if imported:  # perhaps by another library, in the user's environment: read again
            datalad.cfg.reload(force=True)
        try:
            getattr(api, action)(**kwargs, result_renderer="disabled", on_failure="stop")
        except (CommandError, IncompleteResultsError, OSError) as exc:
            text = _describe(exc)
            if any(sign in text for sign in _DISK_FULL):
                raise DiskFullError(disk_full_message(f"`datalad {action}` in {where}")) from None
            detail = "\n  ".join(text.strip().splitlines()[-5:])
            raise ToolError(f"`datalad {action}` failed in {where}:\n  {detail}") from None
        finally:
            datalad.cfg.overrides = overrides
            if overrides:
                datalad.cfg.reload()


def _describe(exc: BaseException) -> str:
    """What a DataLad failure says: its message, and the messages and stderr of the
    results it failed with."""
    parts = [str(exc)]
    for result in getattr(exc, "failed", None) or []:
        if isinstance(result, dict):
            parts.append(str(result.get("message", "")))
            parts.append(str(result.get("stderr", "")))
    parts.append(str(getattr(exc, "stderr", "") or ""))
    return "\n".join(p for p in parts if p)
