"""The pixel stage: what the pixel data of each instance may publish.

Header de-identification (``deid``) never looks at pixels; this stage does,
for every instance the header stage would publish: hidden payloads are
stripped or refused, every frame is decoded as it will be published and
screened, and each instance is kept, given new pixel data, or not published
with a fixed reason.
"""

from .review import (
    KEEP,
    Decision,
    Replacement,
    review_instance,
    review_series,
    whole_series,
)
from .wording import DEFACING_NOTES, DEFACING_REASONS

__all__ = [
    "DEFACING_NOTES",
    "DEFACING_REASONS",
    "KEEP",
    "Decision",
    "Replacement",
    "review_instance",
    "review_series",
    "whole_series",
]
