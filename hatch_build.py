"""Build hook: put the cohort page's query engine (npm, pinned, verified) into the package.

See tools/npm_vendor.py. ARCHIVE_BUILDER_SKIP_NPM=1 builds without it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name not in ("wheel", "editable") or os.environ.get(
            "ARCHIVE_BUILDER_SKIP_NPM"
        ):
            return
        sys.path.insert(0, str(Path(self.root) / "tools"))
        try:
            from npm_vendor import ensure
        finally:
            sys.path.pop(0)
        ensure(Path(self.root) / "archive_builder" / "vendor")
