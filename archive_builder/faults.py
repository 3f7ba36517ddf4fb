"""Named points where the fault-injection tests kill a command, as a crash would.

``ARCHIVE_BUILDER_KILL_AT=<point>`` makes the process SIGKILL itself the
first time it reaches ``fault_point(<point>)``: no cleanup, no ``finally``,
exactly what a power cut or ``kill -9`` leaves. Unset (always, outside the
tests), a point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

VARIABLE = "ARCHIVE_BUILDER_KILL_AT"


def fault_point(name: str) -> None:
    if os.environ.get(VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)
