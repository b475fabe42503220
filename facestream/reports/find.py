"""Find one person in a photo library: every photo where they appear, by the photo's date."""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from config.errors import ImageError
from facestream.gallery_ops import IMAGE_SUFFIXES

log = logging.getLogger(__name__)
EXIF_IFD = 0x8769
DATE_TIME_ORIGINAL = 0x9003  # when the photo was taken
DATE_TIME = 0x0132  # when the file was last changed by a camera or an editor
EXIF_FORMATS = ("%Y:%m:%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class Found:
    path: Path
    score: float  # the best of the person's faces in the photo
    taken: dt.datetime  # naive local time
    date_from: str  # "exif" or "file" (modification time)
    faces: int  # faces of the person in the photo

    def as_dict(self) -> dict:
        return {
            "path": str(self.path),
            "score": self.score,
            "date": self.taken.isoformat(timespec="seconds"),
            "date_from": self.date_from,
            "faces": self.faces,
        }


@dataclass
class FindResult:
    found: list[Found] = field(default_factory=list)  # ordered by date, then path
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, why)
    photos: int = 0  # photos searched (not counting the skipped files)
    seconds: float = 0.0

    @property
    def photos_per_s(self) -> float:
        return self.photos / self.seconds if self.seconds > 0 else 0.0


def files_under(folders: list[Path]) -> Iterator[Path]:
    """Every file below the folders (a file given directly is taken as it is), sorted per folder,
    hidden files and folders left out."""
    for top in folders:
        if top.is_file():
            yield top
            continue
        for root, dirs, names in os.walk(top):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                if not name.startswith("."):
                    yield Path(root) / name


def photo_date(path: Path) -> tuple[dt.datetime, str]:
    """When the photo was taken: EXIF DateTimeOriginal, else EXIF DateTime, else the file's
    modification time."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            exif = im.getexif()
            stamps = [exif.get_ifd(EXIF_IFD).get(DATE_TIME_ORIGINAL), exif.get(DATE_TIME)]
    except (OSError, ValueError, SyntaxError) as exc:  # Pillow's errors on damaged metadata
        log.debug("no EXIF from %s: %s", path, exc)
        stamps = []
    for stamp in stamps:
        if isinstance(stamp, str):
            for fmt in EXIF_FORMATS:
                try:
                    return dt.datetime.strptime(stamp.strip()[:19], fmt), "exif"
                except ValueError:
                    continue
    return dt.datetime.fromtimestamp(path.stat().st_mtime), "file"


def find_person(
    folders: list[Path],
    identify: Callable[[Path], list[dict]],
    name: str,
    min_score: float | None = None,
    progress: Callable[[Path], None] | None = None,
) -> FindResult:
    """``identify(path)`` gives the faces of a photo (``gallery_ops.identify``: name, score) or
    raises ImageError; a face counts when it is named ``name`` (the gallery's threshold and margin
    decided) and scores at least ``min_score``."""
    result = FindResult()
    started = time.monotonic()
    for path in files_under(folders):
        if progress is not None:
            progress(path)
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            result.skipped.append(
                (path, f"not an image (expected one of {sorted(IMAGE_SUFFIXES)})")
            )
            continue
        try:
            faces = identify(path)
        except ImageError as exc:
            result.skipped.append((path, str(exc)))
            continue
        result.photos += 1
        hits = [
            f for f in faces if f["name"] == name and (min_score is None or f["score"] >= min_score)
        ]
        if hits:
            taken, source = photo_date(path)
            best = max(f["score"] for f in hits)
            result.found.append(Found(path, best, taken, source, len(hits)))
    result.found.sort(key=lambda f: (f.taken, str(f.path)))
    result.seconds = time.monotonic() - started
    return result


def copy_found(found: list[Found], folder: Path) -> list[Path]:
    """Copy the photos into ``folder`` as ``001_name.jpg``, ``002_...``: a slideshow in date order
    (photos of the same name from different folders do not overwrite each other)."""
    folder.mkdir(parents=True, exist_ok=True)
    width = max(3, len(str(len(found))))
    copies = []
    for n, f in enumerate(found, 1):
        target = folder / f"{n:0{width}d}_{f.path.name}"
        shutil.copy2(f.path, target)
        copies.append(target)
    return copies
