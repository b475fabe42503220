"""`facestream find`: one person in a photo library (real MTCNN and dlib, ../shared/faces)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# ../shared/README.md: the gallery's obama/ folder, and the probes that show obama
OBAMA = {
    "gallery/obama/obama.jpg",
    "gallery/obama/obama2.jpg",
    "probes/obama1.jpg",
    "probes/obama3.jpg",
    "probes/32bit.png",
    "probes/obama_partial_face.jpg",
    "probes/obama_partial_face2.jpg",
    "probes/two_people.jpg",
    "probes/obama_and_biden.jpg",
}
# EXIF DateTimeOriginal of the obama photos that carry one (as Pillow reads the files)
EXIF = {
    "gallery/obama/obama2.jpg": "2009-09-09T20:27:09",
    "probes/obama3.jpg": "2010-05-10T10:04:01",
    "gallery/obama/obama.jpg": "2012-12-06T15:46:01",
}


def test_find_obama_in_the_shared_photos(cli, gallery_stack, shared_dir, tmp_path) -> None:
    library = tmp_path / "library"
    shutil.copytree(shared_dir / "faces", library)
    (library / "probes" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG" * 40)
    (library / "notes.txt").write_text("not a photo\n")
    # photos without EXIF are ordered by modification time: make it differ, newest first by name
    files = sorted(p for p in library.rglob("*") if p.is_file())
    base = dt.datetime(2020, 1, 1).timestamp()
    for i, path in enumerate(reversed(files)):
        os.utime(path, (base + 60 * i, base + 60 * i))
    slides = tmp_path / "slides"
    data_dir, endpoints = gallery_stack
    done = cli(
        data_dir, endpoints, "find", "obama", str(library), "--json", "--copy-to", str(slides)
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout)
    names = [str(Path(f["path"]).relative_to(library)) for f in found]
    assert set(names) == OBAMA, sorted(set(names) ^ OBAMA)
    # EXIF dates first (2009-2012), then the others by modification time (2020, reverse by name)
    assert names[:3] == list(EXIF) and [f["date"] for f in found[:3]] == list(EXIF.values())
    rest = sorted(OBAMA - set(EXIF), reverse=True)
    assert names[3:] == rest
    assert all(f["date_from"] == "file" for f in found[3:])
    assert all(0 < f["score"] <= 1 for f in found)
    # the broken file and the text file are reported and skipped; the rest was searched
    assert "broken.jpg" in done.stderr and "notes.txt" in done.stderr
    assert f"9 of {len(files) - 2} photo(s), 2 file(s) skipped" in done.stderr
    copies = sorted(p.name for p in slides.iterdir())
    assert copies == [f"{n:03d}_{Path(name).name}" for n, name in enumerate(names, 1)]


def test_find_someone_not_enrolled_is_an_error(cli, gallery_stack, shared_dir) -> None:
    data_dir, endpoints = gallery_stack
    done = cli(data_dir, endpoints, "find", "nobody_enrolled", str(shared_dir / "faces"))
    assert done.returncode == 2 and "expected an enrolled person's name" in done.stderr
