"""Uploaded images: refused early, with a 4xx naming what was wrong, before any model sees them.

Pillow reads the header first (size, format, frame count) so a decompression
bomb (a few KB declaring 30000x30000 pixels) is refused before a single pixel
is allocated; only then are the pixels decoded, and a truncated file fails the
decode instead of giving a half-grey image.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from fastapi import UploadFile
from PIL import Image, ImageOps, UnidentifiedImageError

from config.sections import ApiSettings
from facestream.api.problems import Problem

FORMATS = {"JPEG", "PNG", "BMP", "WEBP", "TIFF", "GIF"}
# the server decides the limit, not Pillow's global default (which only warns below 2x)
Image.MAX_IMAGE_PIXELS = None


@dataclass(frozen=True)
class Upload:
    name: str
    rgb: np.ndarray


def read_upload(file: UploadFile, limits: ApiSettings, field: str = "image") -> Upload:
    name = file.filename or field
    limit = int(limits.max_upload_mb * 1_000_000)
    data = file.file.read(limit + 1)
    if not data:
        raise Problem(422, f"{field} {name!r}: expected an image, got an empty file", field)
    if len(data) > limit:
        raise Problem(
            413, f"{field} {name!r}: expected at most {limits.max_upload_mb:g} MB, got more", field
        )
    return Upload(name, decode(data, name, limits, field))


def decode(data: bytes, name: str, limits: ApiSettings, field: str = "image") -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise Problem(
            415,
            f"{field} {name!r}: expected a JPEG, PNG, BMP, WebP or TIFF image, got "
            f"{len(data)} bytes that are none",
            field,
        ) from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise Problem(422, f"{field} {name!r}: unreadable image header ({exc})", field) from None
    with image:
        if image.format not in FORMATS:
            raise Problem(
                415, f"{field} {name!r}: expected {sorted(FORMATS)}, got {image.format}", field
            )
        width, height = image.size
        if width * height > limits.max_image_pixels:
            raise Problem(
                413,
                f"{field} {name!r}: expected at most {limits.max_image_pixels} pixels, got "
                f"{width}x{height}",
                field,
            )
        frames = int(getattr(image, "n_frames", 1))
        if frames > 1:
            raise Problem(
                415, f"{field} {name!r}: expected a still image, got {frames} frames", field
            )
        try:
            image.load()
            rgb = ImageOps.exif_transpose(image).convert("RGB")
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise Problem(
                422, f"{field} {name!r}: expected a complete image, decoding failed ({exc})", field
            ) from None
        return np.asarray(rgb, dtype=np.uint8)


def read_uploads(files: list[UploadFile], limits: ApiSettings, field: str = "image") -> list:
    if not files:
        raise Problem(422, f"{field}: expected at least one image file", field)
    if len(files) > limits.max_files:
        raise Problem(
            413, f"{field}: expected at most {limits.max_files} files, got {len(files)}", field
        )
    return [read_upload(f, limits, field) for f in files]
