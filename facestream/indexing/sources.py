"""What an index job reads: photos and videos, folders searched recursively."""

from __future__ import annotations

from pathlib import Path

from config.errors import ConfigError
from facestream.gallery_ops import IMAGE_SUFFIXES

VIDEO_SUFFIXES = {".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".ts"}


def kind_of(path: str | Path) -> str:
    """``video`` by suffix, else ``photo``: a file that is neither fails as a photo, by name."""
    return "video" if Path(path).suffix.lower() in VIDEO_SUFFIXES else "photo"


def photos_under(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


def expand(paths: list[Path]) -> list[str]:
    """Files named, and the photos and videos under folders named (sorted, absolute, unique).

    A file named explicitly is kept whatever its suffix (so that a bad file is reported by
    name, not silently left out); inside folders only photo and video suffixes count."""
    wanted = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    out: list[str] = []
    for path in paths:
        if path.is_dir():
            out += [
                str(p.resolve())
                for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix.lower() in wanted
            ]
        elif path.is_file():
            out.append(str(path.resolve()))
        else:
            raise ConfigError(f"index: expected a photo, video or folder, got {str(path)!r}")
    return list(dict.fromkeys(out))
