"""`facestream enroll` and `facestream people` through the real CLI in a subprocess: real MTCNN,
real dlib, a private Valkey/Redis + milvus-lite stack for this module (enrolment changes state)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import redis

from config.settings import Settings
from facestream import thumbnails
from facestream.stack import EmbeddedStack, Endpoints
from workers import keys

pytestmark = pytest.mark.slow

DLIB = ("--embedder", "dlib")  # the same model whether or not FaceNet weights exist on this machine
DLIB_THRESHOLD = 0.92


@pytest.fixture(scope="module")
def enroll_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Endpoints]]:
    """A fresh stack for this module only: the session's stacks stay untouched."""
    data_dir = tmp_path_factory.mktemp("enroll")
    with EmbeddedStack(Settings(data_dir=data_dir, redis_url=None, milvus_uri=None)) as endpoints:
        yield data_dir, endpoints


@pytest.fixture(scope="module")
def bad_photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad_photos")
    unreadable = folder / "unreadable.jpg"
    unreadable.write_bytes(np.random.default_rng(0).bytes(4096))
    no_face = folder / "gradient.jpg"
    x = np.linspace(0, 255, 480, dtype=np.float32)
    y = np.linspace(0, 255, 360, dtype=np.float32)[:, None]
    image = np.stack(
        [
            np.broadcast_to(x, (360, 480)),
            np.broadcast_to(y, (360, 480)),
            np.full((360, 480), 128.0),
        ],
        axis=-1,
    ).astype(np.uint8)
    assert cv2.imwrite(str(no_face), image)
    return {"unreadable": unreadable, "no_face": no_face}


def single(shared_dir: Path, person: str) -> Path:
    return shared_dir / "faces" / "singles" / person / "1.jpg"


def lines_naming(text: str, path: Path) -> list[str]:
    return [line for line in text.splitlines() if str(path) in line]


def people_rows(cli, stack: tuple[Path, Endpoints]) -> dict[str, str]:
    """`facestream people` -> {name: its table row}."""
    done = cli(*stack, "people")
    assert done.returncode == 0, done.stderr
    rows = {}
    for line in done.stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("│┃|").split("│")]
        if len(cells) == 3 and cells[1].startswith("p-"):
            rows[cells[0]] = line
    return rows


def identify(cli, stack: tuple[Path, Endpoints], *photos: Path) -> list[dict]:
    done = cli(*stack, *DLIB, "identify", "--json", *map(str, photos))
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def largest_per_image(rows: list[dict]) -> dict[str, dict]:
    """The row of the largest face of each image, in the order of the images."""

    def area(row: dict) -> float:
        x1, y1, x2, y2 = row["bbox"]
        return (x2 - x1) * (y2 - y1)

    largest: dict[str, dict] = {}
    for row in rows:
        if row["image"] not in largest or area(row) > area(largest[row["image"]]):
            largest[row["image"]] = row
    return largest


@pytest.fixture(scope="module")
def mixed_enroll(
    cli, enroll_stack, shared_dir: Path, bad_photos
) -> tuple[subprocess.CompletedProcess, dict[str, Path]]:
    photos = {
        "good": single(shared_dir, "paul_rudd"),
        **bad_photos,
        "multi": shared_dir / "faces" / "probes" / "multiface.jpg",
    }
    done = cli(*enroll_stack, *DLIB, "enroll", "paul_rudd", *(str(p) for p in photos.values()))
    return done, photos


@pytest.fixture(scope="module")
def dir_enroll(
    cli, enroll_stack, shared_dir: Path, tmp_path_factory
) -> subprocess.CompletedProcess:
    folder = tmp_path_factory.mktemp("people")
    for person in ("angelina_jolie", "kate_siegel"):
        (folder / person).mkdir()
        shutil.copy(single(shared_dir, person), folder / person / "1.jpg")
    (folder / "kate_siegel" / "notes.txt").write_text("not a photo: ignored")
    (folder / "README.md").write_text("a file at the top level: ignored")
    return cli(*enroll_stack, *DLIB, "enroll", "--dir", str(folder))


# --- enroll NAME PHOTO... -------------------------------------------------------------------------


def test_mixed_photos_enroll_the_good_faces_and_exit_0(mixed_enroll) -> None:
    done, _ = mixed_enroll
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    # the good photo and the largest face of the group photo
    assert "enrolled paul_rudd: 2 face(s) (dlib)" in done.stdout


def test_unreadable_photo_is_named_with_its_reason(mixed_enroll) -> None:
    done, photos = mixed_enroll
    [line] = [x for x in lines_naming(done.stderr, photos["unreadable"]) if "skipped" in x]
    assert "not a readable image" in line and "4096 bytes" in line


def test_photo_without_a_face_is_named_with_its_reason(mixed_enroll) -> None:
    done, photos = mixed_enroll
    [line] = lines_naming(done.stderr, photos["no_face"])
    assert "skipped" in line and "no face found" in line


def test_group_photo_notes_several_faces_and_the_largest_enrolled(mixed_enroll) -> None:
    done, photos = mixed_enroll
    [line] = lines_naming(done.stderr, photos["multi"])
    assert "6 faces" in line and "enrolled the largest" in line
    assert not lines_naming(done.stderr, photos["good"])  # nothing to say about the good photo


def test_people_lists_face_counts(cli, enroll_stack, mixed_enroll, dir_enroll) -> None:
    assert mixed_enroll[0].returncode == 0 and dir_enroll.returncode == 0
    rows = people_rows(cli, enroll_stack)
    assert {"paul_rudd", "angelina_jolie", "kate_siegel"} <= set(rows)
    assert "2 (dlib)" in rows["paul_rudd"]
    assert "1 (dlib)" in rows["angelina_jolie"]
    assert "1 (dlib)" in rows["kate_siegel"]


def test_nothing_enrollable_exits_non_zero_and_creates_nobody(
    cli, enroll_stack, bad_photos
) -> None:
    done = cli(
        *enroll_stack,
        *DLIB,
        "enroll",
        "nobody",
        str(bad_photos["unreadable"]),
        str(bad_photos["no_face"]),
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "nothing enrolled" in done.stderr
    assert lines_naming(done.stderr, bad_photos["unreadable"]) and lines_naming(
        done.stderr, bad_photos["no_face"]
    )
    assert "enrolled nobody" not in done.stdout
    assert "nobody" not in people_rows(cli, enroll_stack)


# --- enroll --dir -----------------------------------------------------------------------------------


def test_enroll_dir_enrolls_every_person(dir_enroll) -> None:
    assert dir_enroll.returncode == 0, dir_enroll.stderr
    assert "enrolled angelina_jolie: 1 face(s) (dlib)" in dir_enroll.stdout
    assert "enrolled kate_siegel: 1 face(s) (dlib)" in dir_enroll.stdout
    assert "notes.txt" not in dir_enroll.stderr and "README" not in dir_enroll.stdout
    # angelina_jolie/1.jpg shows a tiny second face behind her, at the detector's size limit: when it is
    # found, the note says the largest was enrolled (multiface.jpg tests the note itself)
    notes = [x for x in dir_enroll.stderr.splitlines() if "angelina_jolie/1.jpg" in x]
    assert all("faces: enrolled the largest" in note for note in notes)


def test_enrolled_people_are_identified(cli, enroll_stack, dir_enroll, shared_dir) -> None:
    assert dir_enroll.returncode == 0, dir_enroll.stderr
    rows = identify(
        cli, enroll_stack, single(shared_dir, "angelina_jolie"), single(shared_dir, "kate_siegel")
    )
    # angelina_jolie/1.jpg also shows a tiny second face: her own is the largest one
    largest = largest_per_image(rows)
    assert [(Path(img).parent.name, r["name"]) for img, r in largest.items()] == [
        ("angelina_jolie", "angelina_jolie"),
        ("kate_siegel", "kate_siegel"),
    ]
    assert all(r["score"] > DLIB_THRESHOLD for r in largest.values())


# --- people rm ------------------------------------------------------------------------------------


def test_people_rm_forgets_the_person_and_keeps_the_others(
    cli, enroll_stack, dir_enroll, shared_dir
) -> None:
    assert dir_enroll.returncode == 0, dir_enroll.stderr
    shea = single(shared_dir, "shea_whigham")
    done = cli(*enroll_stack, *DLIB, "enroll", "shea_whigham", str(shea))
    assert done.returncode == 0, done.stderr
    assert [r["name"] for r in identify(cli, enroll_stack, shea)] == ["shea_whigham"]

    # the face library's thumbnail of the face enrolled: a JPEG keyed by the face's id
    client = redis.Redis.from_url(enroll_stack[1].redis_url)
    person_id = client.hget(keys.people_by_name("default"), "shea_whigham").decode()
    thumbs = client.hgetall(thumbnails.key(person_id))
    assert len(thumbs) == 1 and next(iter(thumbs.values()))[:2] == b"\xff\xd8"

    done = cli(*enroll_stack, "people", "rm", "shea_whigham")
    assert done.returncode == 0, done.stderr
    assert "removed shea_whigham" in done.stdout
    assert not client.exists(thumbnails.key(person_id))
    assert "shea_whigham" not in people_rows(cli, enroll_stack)

    gone, kept = identify(cli, enroll_stack, shea, single(shared_dir, "kate_siegel"))
    assert gone["name"] is None
    # below the threshold: the vectors left Milvus, not only the name left Redis
    assert gone["score"] < DLIB_THRESHOLD
    assert kept["name"] == "kate_siegel"


def test_people_rm_unknown_name_fails_clearly(cli, enroll_stack) -> None:
    done = cli(*enroll_stack, "people", "rm", "no_such_name")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "no such person: no_such_name" in done.stderr


@pytest.mark.parametrize("name", ["x[/y]", "a[b]c"], ids=["closing-tag", "opening-tag"])
def test_people_rm_unknown_name_with_brackets_is_printed_verbatim(
    cli, enroll_stack, name: str
) -> None:
    done = cli(*enroll_stack, "people", "rm", name)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"no such person: {name}" in done.stderr


def test_enroll_dir_with_a_bad_folder_name_does_not_enroll_silently(
    cli, enroll_stack, shared_dir, tmp_path
) -> None:
    (tmp_path / "biden").mkdir()
    shutil.copy(
        shared_dir / "faces" / "gallery" / "biden" / "biden.jpg", tmp_path / "biden" / "1.jpg"
    )
    (tmp_path / ("z" * 65)).mkdir()  # sorts after biden; one character too long for a name
    shutil.copy(single(shared_dir, "kate_siegel"), tmp_path / ("z" * 65) / "1.jpg")
    done = cli(*enroll_stack, *DLIB, "enroll", "--dir", str(tmp_path))
    assert "Traceback" not in done.stderr
    assert "z" * 65 in done.stderr
    enrolled = "biden" in people_rows(cli, enroll_stack)
    # either the bad name stops the run before anything is enrolled, or the others are enrolled and reported
    assert (done.returncode != 0 and not enrolled) or (
        done.returncode == 0 and enrolled and "enrolled biden: 1 face(s)" in done.stdout
    )


def test_people_rm_without_a_name_is_a_usage_error(cli, enroll_stack) -> None:
    done = cli(*enroll_stack, "people", "rm")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "people rm: expected a NAME" in done.stderr


# --- usage and settings errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "enroll: expected NAME IMAGE... or --dir DIR"),
        (("paul_rudd",), "enroll: expected NAME IMAGE... or --dir DIR"),
        (
            ("paul_rudd", "x.jpg", "--dir", "."),
            "enroll: give either NAME IMAGE... or --dir DIR, not both",
        ),
        (("--dir", "/nonexistent/folder"), "--dir: expected a folder, got /nonexistent/folder"),
    ],
    ids=["nothing", "name-only", "both", "dir-missing"],
)
def test_enroll_usage_errors(cli, enroll_stack, args: tuple[str, ...], message: str) -> None:
    done = cli(*enroll_stack, "enroll", *args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert message in done.stderr


def test_usage_error_quoting_brackets_is_printed_verbatim(cli, enroll_stack) -> None:
    done = cli(*enroll_stack, "enroll", "--dir", "/nonexistent/[/x]")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "--dir: expected a folder, got /nonexistent/[/x]" in done.stderr


def test_enroll_dir_without_person_folders_is_a_usage_error(
    cli, enroll_stack, tmp_path: Path
) -> None:
    (tmp_path / "loose.jpg").write_bytes(b"")
    (tmp_path / "empty_person").mkdir()
    done = cli(*enroll_stack, "enroll", "--dir", str(tmp_path))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "no sub-folders with photos" in done.stderr


@pytest.mark.parametrize(
    "value, expected",
    [
        ("5", "jpeg_quality: Input should be greater than or equal to 30 (got '5')"),
        ("lots", "jpeg_quality: Input should be a valid integer"),
    ],
)
def test_invalid_environment_setting_is_a_clear_error(
    enroll_stack, tmp_path: Path, value: str, expected: str
) -> None:
    _, endpoints = enroll_stack
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    env["FACESTREAM_JPEG_QUALITY"] = value
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "facestream",
            "--data-dir",
            str(tmp_path / "data"),
            "--redis-url",
            endpoints.redis_url,
            "--milvus-uri",
            endpoints.milvus_uri,
            "people",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "error: settings:" in done.stderr
    assert expected in done.stderr
    assert done.stdout == ""
