"""The matcher on real Redis + milvus-lite and a real Milvus server: lost-and-found by appearance,
two cameras, stable unknown labels."""

from __future__ import annotations

import numpy as np
import pytest

from config.settings import Settings
from tracker import Faces
from workers.gallery import People, VectorIndex
from workers.gallery.unknowns import UnknownFaces, list_unknowns
from workers.match import MatchHandler
from workers.messages import FrameMeta, FrameMsg, Shots
from workers.models.registry import spec


def unit(seed, dim=128, base=None, noise=0.0):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=dim) if base is None else base + noise * rng.normal(size=dim)
    return (v / np.linalg.norm(v)).astype(np.float32)


ADA, STRANGER = unit(1), unit(2)


@pytest.fixture(name="milvus_client")
def _milvus_client(milvus_on_both):
    return milvus_on_both  # every matcher test here runs on milvus-lite and the real server


def msg(
    camera, seq, track_ids, vectors=None, embed_idx=None, ended=(), kind="frame", run="r1", ts=None
):
    n = len(track_ids)
    xyxy = np.array([[10 + 100 * i, 10, 90 + 100 * i, 90] for i in range(n)], np.float32).reshape(
        -1, 4
    )
    emb = None if vectors is None else np.stack(vectors)
    idx = tuple(range(n)) if embed_idx is None and vectors is not None else tuple(embed_idx or ())
    meta = FrameMeta(
        camera=camera,
        run=run,
        seq=seq,
        ts=seq / 10 if ts is None else ts,
        capture_time=1000.0 + seq,
        width=640,
        height=360,
    )
    return FrameMsg(
        meta,
        status=kind,
        faces=Faces(xyxy, np.ones(n, np.float32), track_ids=tuple(track_ids)),
        shots=Shots(idx, embeddings=emb, model="dlib" if emb is not None else None),
        ended=tuple(ended),
    )


def handler(redis_client, milvus_client, settings: Settings, state=None):
    index = VectorIndex(milvus_client, "faces_dlib_128", 128)
    people = People(redis_client)
    pid = people.get_or_create("ada")
    index.add(pid, np.stack([ADA]))
    unknowns = UnknownFaces(redis_client, milvus_client, "dlib", 128, 0.92)
    h = MatchHandler(
        redis_client,
        people,
        lambda m: index,
        settings,
        lambda m: spec(m).threshold,
        lambda m: unknowns,
        state,
    )
    return h


def records(outputs):
    return [r for _, r in outputs]


def test_a_face_back_after_its_track_ended_gets_its_old_track_id(
    redis_client, milvus_client, settings
):
    h = handler(redis_client, milvus_client, settings)
    out = records(h.handle(msg("door", 0, ["t1"], [unit(3, base=ADA, noise=0.02)])))
    out += records(h.handle(msg("door", 1, ["t1"])))
    out += records(h.handle(msg("door", 20, [], ended=["t1"])))  # the tracker gave up on t1
    out += records(
        h.handle(msg("door", 30, ["t2"], [unit(4, base=ADA, noise=0.02)]))
    )  # 3 s later: back
    out += records(h.handle(msg("door", 31, ["t2"])))
    out += records(h.handle(msg("door", 32, [], kind="eos")))
    rows = [r for r in out if "event" not in r]
    assert {r["track_id"] for r in rows} == {"t1"} and {r["name"] for r in rows} == {"ada"}
    events = [(e["event"], e["track_id"]) for e in out if "event" in e]
    assert events.count(("start", "t1")) == 1 and events.count(("end", "t1")) == 1
    assert ("start", "t2") not in events


def test_the_same_unknown_face_on_two_cameras_gets_one_stable_label(
    redis_client, milvus_client, settings
):
    h = handler(redis_client, milvus_client, settings)
    out = []
    for seq in range(3):  # camera 'door': a stranger and ada
        out += records(
            h.handle(
                msg(
                    "door",
                    seq,
                    ["d1", "d2"],
                    [
                        unit(10 + seq, base=STRANGER, noise=0.02),
                        unit(20 + seq, base=ADA, noise=0.02),
                    ],
                )
            )
        )
    for seq in range(3):  # camera 'hall', at the same time: the same stranger
        out += records(
            h.handle(msg("hall", seq, ["h1"], [unit(30 + seq, base=STRANGER, noise=0.02)]))
        )
    out += records(h.handle(msg("door", 3, [], kind="eos")))
    out += records(h.handle(msg("hall", 3, [], kind="eos")))
    rows = [r for r in out if "event" not in r]
    stranger = {r["label"] for r in rows if r["track_id"] in ("d1", "h1") and r["label"]}
    assert len(stranger) == 1 and stranger.pop().startswith("unknown-")
    assert all(r["name"] is None for r in rows if r["track_id"] in ("d1", "h1"))
    assert {r["label"] for r in rows if r["track_id"] == "d2"} == {"ada"}
    assert {r["track_id"] for r in rows if r["camera"] == "hall"} == {
        "h1"
    }  # tracks stay per camera
    # a later run (a restart) sees the stranger again: same label
    h2 = handler(redis_client, milvus_client, settings)
    later = records(
        h2.handle(msg("door", 0, ["x1"], [unit(40, base=STRANGER, noise=0.02)], run="r2"))
    )
    later += records(
        h2.handle(msg("door", 1, ["x1"], [unit(41, base=STRANGER, noise=0.02)], run="r2"))
    )
    assert {r["label"] for r in later if "event" not in r and r["frame"] == 1} == {
        r["label"] for r in rows if r["track_id"] == "d1" and r["label"]
    }
    [u] = list_unknowns(redis_client)
    assert u.tracks == 3 and set(u.cameras) == {"door", "hall"} and u.first_seen <= u.last_seen


def test_cli_unknowns_lists_labels_with_counts(
    redis_client, milvus_client, settings, stack, capsys
):
    from facestream.cli import main

    h = handler(redis_client, milvus_client, settings)
    for seq in range(3):
        h.handle(msg("door", seq, ["d1"], [unit(50 + seq, base=STRANGER, noise=0.02)]))
    h.handle(msg("door", 3, [], kind="eos"))
    assert (
        main(
            [
                "--data-dir",
                str(settings.data_dir),
                "--redis-url",
                stack.redis_url,
                "--milvus-uri",
                stack.milvus_uri,
                "unknowns",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    [u] = list_unknowns(redis_client)
    assert u.label in printed and "door" in printed and u.faces == 3


def test_a_lost_track_taken_up_by_someone_else_is_split_off_and_found_again(
    redis_client, milvus_client, settings
):
    """Ada passes behind someone; a stranger walks out where the tracker expected her and its id 't1'
    takes him up by motion. His first face splits him off onto a new track; Ada, back as 't2', gets 't1'."""
    h = handler(redis_client, milvus_client, settings)
    out = records(h.handle(msg("door", 0, ["t1"], [unit(3, base=ADA, noise=0.02)])))
    out += records(h.handle(msg("door", 1, ["t1"])))
    out += records(
        h.handle(msg("door", 6, ["t1"], [unit(5, base=STRANGER, noise=0.02)]))
    )  # 0.5 s later
    out += records(
        h.handle(
            msg(
                "door",
                7,
                ["t1", "t2"],
                [unit(6, base=STRANGER, noise=0.02), unit(7, base=ADA, noise=0.02)],
            )
        )
    )
    out += records(h.handle(msg("door", 8, [], kind="eos")))
    rows = {(r["frame"], r["track_id"]): r for r in out if "event" not in r}
    assert rows[(0, "t1")]["name"] == rows[(1, "t1")]["name"] == "ada"
    assert rows[(6, "t1.6")]["name"] is None and rows[(7, "t1.6")]["name"] is None  # the stranger
    assert rows[(7, "t1")]["name"] == "ada"  # ada back under her track id
    events = [(e["event"], e["track_id"]) for e in out if "event" in e]
    assert ("start", "t1.6") in events and events.count(("start", "t1")) == 1


def test_two_look_alikes_on_screen_together_never_share_a_label(
    redis_client, milvus_client, settings
):
    """Two tracks in one frame are two people: the second never gets the first's label, however
    close its face; a later track of the same face (nobody else on screen) gets it again."""
    h = handler(redis_client, milvus_client, settings)
    out = []
    for seq in range(3):
        out += records(
            h.handle(
                msg(
                    "door",
                    seq,
                    ["s1", "s2"],
                    [
                        unit(50 + seq, base=STRANGER, noise=0.01),
                        unit(60 + seq, base=STRANGER, noise=0.01),
                    ],
                )
            )
        )
    out += records(h.handle(msg("door", 3, [], ended=["s1", "s2"])))
    out += records(h.handle(msg("door", 200, [])))  # far past the re-id window: both ended
    for seq in range(201, 204):
        out += records(
            h.handle(msg("door", seq, ["s3"], [unit(70 + seq, base=STRANGER, noise=0.01)]))
        )
    out += records(h.handle(msg("door", 204, [], kind="eos")))
    rows = [r for r in out if "event" not in r]
    label = {
        t: {r["label"] for r in rows if r["track_id"] == t and r["label"]}
        for t in ("s1", "s2", "s3")
    }
    assert all(len(v) == 1 for v in label.values()), label
    assert label["s1"] != label["s2"]
    assert label["s3"] in (label["s1"], label["s2"])
