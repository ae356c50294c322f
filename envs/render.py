"""The ``rgb_array`` picture of a ZeroOut board, drawn with Pillow (no figure, no window).

One row of square cells, one per slot: a nonzero entry is a blue cell labelled with its value (darker
for larger values), a zero is a pale grey cell with a grey ``0``, and each cell shows its slot index in
its corner. The last pick has a thick frame, green where it was productive and red where it was not.
A header line gives the step count and the return; a footer says what the last pick did.
Every dimension is a multiple of 16, so video encoders take the frames without resizing them.
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CELL = 48
"""Side of a cell, in pixels."""
PAD = 16
HEADER = 32
FOOTER = 32

BACKGROUND = (255, 255, 255)
TEXT = (30, 30, 30)
ZERO_FILL, ZERO_TEXT = (232, 232, 232), (150, 150, 150)
LOW_FILL, HIGH_FILL = (189, 215, 238), (8, 69, 148)  # value 1 and max_value; between them, linear
PRODUCTIVE, UNPRODUCTIVE = (35, 160, 60), (215, 40, 40)


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at ``size`` pixels, loaded once per size."""
    return ImageFont.load_default(size=size)


def frame_shape(size: int) -> tuple[int, int, int]:
    """``(height, width, 3)`` of the picture of a board of ``size`` slots."""
    return HEADER + CELL + FOOTER + PAD, size * CELL + 2 * PAD, 3


def draw_board(
    board: np.ndarray,
    max_value: int,
    header: str,
    footer: str,
    last_pick: int | None,
    last_productive: bool,
) -> np.ndarray:
    """The board as an ``HxWx3`` uint8 array of shape :func:`frame_shape` (``header``/``footer``: text)."""
    height, width, _ = frame_shape(len(board))
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    value_font = _font(max(10, min(22, 80 // len(str(max_value)))))
    index_font, line_font = _font(10), _font(14)
    draw.text((PAD, HEADER // 2), header, fill=TEXT, font=line_font, anchor="lm")
    top = HEADER
    for slot, value in enumerate(board.tolist()):
        left = PAD + slot * CELL
        box = (left + 2, top + 2, left + CELL - 3, top + CELL - 3)
        if value:
            share = (value - 1) / max(max_value - 1, 1)
            fill = tuple(round(lo + share * (hi - lo)) for lo, hi in zip(LOW_FILL, HIGH_FILL, strict=True))
            label = (255, 255, 255) if share > 0.4 else TEXT
        else:
            fill, label = ZERO_FILL, ZERO_TEXT
        draw.rectangle(box, fill=fill)
        draw.text((left + 5, top + 4), str(slot), fill=label, font=index_font)
        centre = (left + CELL // 2, top + CELL // 2 + 2)
        draw.text(centre, str(value), fill=label, font=value_font, anchor="mm")
    if last_pick is not None:
        left = PAD + last_pick * CELL
        outline = PRODUCTIVE if last_productive else UNPRODUCTIVE
        draw.rectangle((left, top, left + CELL - 1, top + CELL - 1), outline=outline, width=4)
    draw.text((PAD, top + CELL + FOOTER // 2), footer, fill=TEXT, font=line_font, anchor="lm")
    return np.asarray(image, dtype=np.uint8)
