"""FaceNet CASIA-WebFace for real: weights converted offline (`make install`), the CLI, real clips.

`identify` names every probe of ../shared/faces/probes as ../shared/README.md lists them, `run`
names Lin-Manuel Miranda through the frontal shot of the hamilton clip, nobody of the crowd clip
(none of them is enrolled) gets a name, and a gallery enrolled with another embedder is reported,
not searched in vain.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import Settings
from facestream.stack import EmbeddedStack, Endpoints
from tests.support.models import require
from workers.models.facenet_embedder import find_weights

pytestmark = pytest.mark.slow
FACENET = ("--embedder", "facenet-casia")
LIN = "lin_manuel_miranda"
# ../shared/README.md's probes table; None: a face of someone not in the gallery
PROBES = {
    "obama1.jpg": ["obama"],
    "obama3.jpg": ["obama"],
    "32bit.png": ["obama"],
    "obama_partial_face.jpg": ["obama"],
    "obama_partial_face2.jpg": ["obama"],
    "two_people.jpg": ["biden", "obama"],
    "obama_and_biden.jpg": [None, "biden", "obama"],
    "kit_with_rose.jpg": ["kit_harington", "rose_leslie"],
    "alex_lacamoire1.jpg": ["alex_lacamoire"],
    "johnsnow_test1.jpg": ["kit_harington"],
    "multiface.jpg": [None] * 6,
}


@pytest.fixture(scope="module")
def facenet_stack(
    tmp_path_factory: pytest.TempPathFactory, shared_dir: Path, cli
) -> Iterator[tuple[Path, Endpoints]]:
    """A stack with ../shared/faces/gallery enrolled with FaceNet CASIA-WebFace."""
    require(
        find_weights(None, "facenet-casia") is not None,
        "FaceNet CASIA-WebFace weights are not installed: run `facestream models install facenet`",
    )
    data_dir = tmp_path_factory.mktemp("facenet")
    with EmbeddedStack(Settings(data_dir=data_dir, redis_url=None, milvus_uri=None)) as endpoints:
        done = cli(
            data_dir, endpoints, *FACENET, "enroll", "--dir", str(shared_dir / "faces" / "gallery")
        )
        assert done.returncode == 0, done.stderr
        assert "(facenet-casia)" in done.stdout
        yield data_dir, endpoints


def _records(path: Path) -> list[dict]:
    return [r for r in map(json.loads, path.read_text().splitlines()) if "event" not in r]


def test_identify_names_every_probe_as_listed(cli, facenet_stack, shared_dir: Path) -> None:
    data_dir, endpoints = facenet_stack
    probes = shared_dir / "faces" / "probes"
    done = cli(
        data_dir, endpoints, *FACENET, "identify", "--json", *(str(probes / n) for n in PROBES)
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, list] = defaultdict(list)
    for row in map(json.loads, (x for x in done.stdout.splitlines() if x.startswith("{"))):
        found[Path(row["image"]).name].append(row["name"])
    got = {image: sorted(names, key=str) for image, names in found.items()}
    assert got == {image: sorted(names, key=str) for image, names in PROBES.items()}


def test_run_names_lin_manuel_miranda_and_nobody_else(
    cli, facenet_stack, shared_dir: Path, tmp_path: Path
) -> None:
    data_dir, endpoints = facenet_stack
    out = tmp_path / "hamilton.jsonl"
    done = cli(
        data_dir,
        endpoints,
        *FACENET,
        "run",
        str(shared_dir / "media" / "hamilton_360p.mp4"),
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = _records(out)
    named = {r["frame"] for r in rows if r["name"] == LIN and 82 <= r["frame"] <= 210}
    assert len(named) >= 0.95 * 129, f"only {len(named)} of 129 frames named"
    # Barack Obama sits in the audience (frames 211-274, partly behind his hand): his name is right
    wrong = [
        (r["frame"], r["name"])
        for r in rows
        if r["name"] not in (None, LIN) and not (r["name"] == "obama" and r["frame"] >= 211)
    ]
    assert not wrong, wrong[:10]
    assert all(r["name"] in (None, "obama") for r in rows if r["frame"] >= 211)


def test_crowd_of_strangers_gets_no_name(
    cli, facenet_stack, shared_dir: Path, tmp_path: Path
) -> None:
    data_dir, endpoints = facenet_stack
    out = tmp_path / "crowd.jsonl"
    done = cli(
        data_dir,
        endpoints,
        *FACENET,
        "run",
        str(shared_dir / "media" / "crowd_1080p.mp4"),
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = _records(out)
    assert len({r["frame"] for r in rows}) > 90  # faces found in nearly every frame
    assert [r for r in rows if r["name"] is not None] == []


def test_a_gallery_of_another_embedder_is_reported_with_the_fix(
    cli, facenet_stack, shared_dir: Path
) -> None:
    data_dir, endpoints = facenet_stack
    probe = str(shared_dir / "faces" / "probes" / "obama1.jpg")
    done = cli(data_dir, endpoints, "--embedder", "dlib", "identify", probe)
    assert done.returncode == 2
    assert "nobody is enrolled with dlib" in done.stderr and "facenet-casia" in done.stderr
    assert "--embedder dlib enroll" in done.stderr
    done = cli(
        data_dir,
        endpoints,
        "--embedder",
        "dlib",
        "run",
        str(shared_dir / "media" / "hamilton_360p.mp4"),
    )
    assert done.returncode == 2 and "nobody is enrolled with dlib" in done.stderr
