"""`facestream identify` against the enrolled gallery: real MTCNN, real dlib, real Milvus."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

EXPECTED = {
    "obama1.jpg": ["obama"],
    "two_people.jpg": ["biden", "obama"],
    "kit_with_rose.jpg": ["kit_harington", "rose_leslie"],
    "alex_lacamoire1.jpg": ["alex_lacamoire"],
    "johnsnow_test1.jpg": ["kit_harington"],
}


@pytest.fixture(scope="module")
def identified(cli, shared_dir: Path, gallery_stack) -> dict[str, list[dict]]:
    data_dir, endpoints = gallery_stack
    probes = shared_dir / "faces" / "probes"
    names = [*EXPECTED, "multiface.jpg", "obama_and_biden.jpg", "32bit.png"]
    done = cli(data_dir, endpoints, "identify", "--json", *(str(probes / n) for n in names))
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    by_image: dict[str, list[dict]] = {}
    for row in rows:
        by_image.setdefault(Path(row["image"]).name, []).append(row)
    return by_image


@pytest.mark.parametrize("image", sorted(EXPECTED))
def test_probe_names(identified, image: str) -> None:
    assert sorted(r["name"] for r in identified[image]) == EXPECTED[image]


def test_multiface_has_six_unknown_faces(identified) -> None:
    rows = identified["multiface.jpg"]
    assert len(rows) == 6
    assert [r["name"] for r in rows] == [None] * 6


def test_obama_and_biden_with_a_stranger(identified) -> None:
    names = Counter(r["name"] for r in identified["obama_and_biden.jpg"])
    assert names["obama"] == 1 and names["biden"] == 1
    assert set(names) <= {"obama", "biden", None}


def test_rgba_png_is_read(identified) -> None:
    assert [r["name"] for r in identified["32bit.png"]] == ["obama"]


def test_rows_carry_bbox_inside_the_image_and_score(identified) -> None:
    for rows in identified.values():
        for r in rows:
            x1, y1, x2, y2 = r["bbox"]
            assert 0 <= x1 < x2 and 0 <= y1 < y2
            assert 0.0 <= r["score"] <= 1.0


def test_unreadable_photo_is_reported_and_the_rest_still_identified(
    cli, shared_dir, gallery_stack, tmp_path
) -> None:
    data_dir, endpoints = gallery_stack
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    done = cli(
        data_dir,
        endpoints,
        "identify",
        "--json",
        str(broken),
        str(shared_dir / "faces" / "probes" / "obama1.jpg"),
    )
    assert done.returncode == 0
    assert "broken.jpg" in done.stderr and "not a readable image" in done.stderr
    assert [json.loads(x)["name"] for x in done.stdout.splitlines() if x.startswith("{")] == [
        "obama"
    ]


def test_a_frame_of_the_demo_clip_names_lin_manuel_miranda(
    cli, examples_dir, gallery_stack, tmp_path
) -> None:
    """Enrol and identify with nothing but the repository (examples/): runs on a bare clone."""
    import cv2

    data_dir, endpoints = gallery_stack
    cap = cv2.VideoCapture(str(examples_dir / "hamilton_360p.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 150)  # the frontal medium shot (frames 82-210)
    ok, frame = cap.read()
    cap.release()
    assert ok, "cannot read frame 150 of examples/hamilton_360p.mp4"
    photo = tmp_path / "frame150.jpg"
    assert cv2.imwrite(str(photo), frame)
    done = cli(data_dir, endpoints, "identify", "--json", str(photo))
    assert done.returncode == 0, done.stderr
    names = [json.loads(x)["name"] for x in done.stdout.splitlines() if x.startswith("{")]
    assert "lin_manuel_miranda" in names and set(names) <= {"lin_manuel_miranda", None}, names
