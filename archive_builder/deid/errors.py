from ..errors import ArchiveError


class DeidError(ArchiveError, ValueError):
    """A study cannot be de-identified as the profile requires."""


class LeakError(DeidError):
    """The verifier found an identifying value in a de-identified file."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = "; ".join(problems[:5]) + (
            f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        )
        super().__init__(f"the verifier found identifying values after de-identification: {shown}")
