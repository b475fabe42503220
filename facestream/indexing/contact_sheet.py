"""A contact sheet: one PNG showing a group's thumbnails in a grid, each with a caption."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from workers.models.chips import decode_jpeg

CAPTION_PX = 16  # a line of small text under each thumbnail
PAD_PX = 4


def contact_sheet(
    thumbnails: Sequence[bytes], captions: Sequence[str], columns: int = 6, title: str = ""
) -> np.ndarray:
    """RGB image of the thumbnails (JPEG bytes, all the same size) in a grid."""
    if len(thumbnails) != len(captions):
        raise ValueError(f"captions: expected {len(thumbnails)}, got {len(captions)}")
    images = [decode_jpeg(t) for t in thumbnails]
    side = images[0].shape[0] if images else 112
    cols = max(1, min(columns, len(images)))
    rows = max(1, -(-len(images) // cols))
    cell_w, cell_h = side + PAD_PX, side + CAPTION_PX + PAD_PX
    top = CAPTION_PX + PAD_PX if title else 0
    sheet = np.full((top + rows * cell_h + PAD_PX, cols * cell_w + PAD_PX, 3), 255, np.uint8)
    if title:
        _text(sheet, title, PAD_PX, CAPTION_PX - 3)
    for i, (image, caption) in enumerate(zip(images, captions, strict=True)):
        r, c = divmod(i, cols)
        x, y = PAD_PX + c * cell_w, top + PAD_PX + r * cell_h
        image = cv2.resize(image, (side, side)) if image.shape[:2] != (side, side) else image
        sheet[y : y + side, x : x + side] = image
        _text(sheet, caption, x, y + side + CAPTION_PX - 4, max_px=side)
    return sheet


def _text(image: np.ndarray, text: str, x: int, y: int, max_px: int | None = None) -> None:
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.35
    # Hershey fonts draw ASCII only; a long caption is cut to the thumbnail's width
    text = text.encode("ascii", "replace").decode()
    while max_px and len(text) > 1 and cv2.getTextSize(text, font, scale, 1)[0][0] > max_px:
        text = text[:-1]
    cv2.putText(image, text, (x, y), font, scale, (0, 0, 0), 1, cv2.LINE_AA)


def write_png(path: Path, rgb: np.ndarray) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"{path}: could not write the PNG")
