"""Stage handlers with plain objects, no Redis: TrackHandler, MatchHandler, DetectHandler."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from config.sections import EmbedSettings, TrackSettings
from config.settings import Settings
from tracker.faces import Faces
from workers import keys
from workers.detect import DetectHandler
from workers.match import MatchHandler
from workers.messages import FrameMeta, FrameMsg, Shots
from workers.models.chips import decode_jpeg
from workers.track import TrackHandler

FPS = 10


def box(cx: float, cy: float, side: float = 80.0) -> list[float]:
    return [cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]


def detected(
    seq: int,
    boxes: list[list[float]],
    run: str = "r1",
    scene: np.ndarray | None = None,
    camera: str = "cam",
) -> FrameMsg:
    """A frame as the detector emits it: every face has a chip; chip i of frame s is b"chip-s-i"."""
    n = len(boxes)
    return FrameMsg(
        FrameMeta(
            camera=camera,
            run=run,
            seq=seq,
            ts=seq / FPS,
            capture_time=1000.0 + seq / FPS,
            width=640,
            height=480,
        ),
        faces=Faces(np.array(boxes, np.float32).reshape(-1, 4), np.full(n, 0.99, np.float32)),
        shots=Shots(
            tuple(range(n)),
            tuple(f"chip-{seq}-{i}".encode() for i in range(n)),
            np.array([[10.0 * i, float(seq)] for i in range(n)], np.float32).reshape(-1, 2),
            np.array([1.0 / (i + 1) for i in range(n)], np.float32),
        ),
        scene=scene,
    )


def eos(seq: int, run: str = "r1", camera: str = "cam") -> FrameMsg:
    return FrameMsg.end_of_stream(
        FrameMeta(
            camera=camera, run=run, seq=seq, ts=seq / FPS, capture_time=0.0, width=640, height=480
        )
    )


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def tracked(outputs: list) -> list[FrameMsg]:
    assert all(stream == keys.TRACKED for stream, _ in outputs)
    return [msg for _, msg in outputs]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tracker(clock: FakeClock) -> TrackHandler:
    return TrackHandler(
        TrackSettings(reorder_wait_s=0.5, reorder_wait_file_s=0.5),
        EmbedSettings(every_n=3),
        clock=clock,
    )


# --- TrackHandler ----------------------------------------------------------------------------------


def test_track_in_order_frames_get_one_track_id(tracker: TrackHandler) -> None:
    assert tracker.input_streams() == [keys.DETECTED]
    out = [tracked(tracker.handle(detected(s, [box(100 + 2 * s, 100)]))) for s in range(4)]
    assert [len(o) for o in out] == [1, 1, 1, 1]
    msgs = [o[0] for o in out]
    assert [m.seq for m in msgs] == [0, 1, 2, 3]
    ids = {m.faces.track_ids for m in msgs}
    assert len(ids) == 1 and len(next(iter(ids))) == 1
    assert next(iter(ids))[0].startswith("cam-")
    assert all(m.dropped is None and m.ended == () and m.scene is None for m in msgs)


def test_track_keeps_chips_only_for_best_shots(tracker: TrackHandler) -> None:
    # face A from frame 0, face B (far away) from frame 2; embed_every_n != 1: best shots within a budget
    shots: dict[str, int] = {}
    for s in range(8):
        boxes = [box(100 + s, 100)] + ([box(400 - s, 300)] if s >= 2 else [])
        (msg,) = tracked(tracker.handle(detected(s, boxes)))
        # the chips, origins and scales kept are exactly those of the chosen faces
        assert msg.shots.chips == tuple(f"chip-{s}-{i}".encode() for i in msg.shots.rows)
        np.testing.assert_array_equal(
            msg.shots.origin, np.array([[10.0 * i, s] for i in msg.shots.rows]).reshape(-1, 2)
        )
        np.testing.assert_array_equal(
            msg.shots.scale, np.array([1.0 / (i + 1) for i in msg.shots.rows], np.float32)
        )
        assert len(msg.faces.track_ids) == len(boxes)  # every face is tracked, chosen or not
        for i in msg.shots.rows:
            shots[msg.faces.track_ids[i]] = shots.get(msg.faces.track_ids[i], 0) + 1
        FrameMsg.from_bytes(msg.to_bytes())  # still a valid message
    assert len(shots) == 2  # each track got at least one embedding...
    assert all(1 <= n <= tracker.embed.budget_per_track for n in shots.values())
    assert sum(shots.values()) < 14  # ...but far fewer than one per face per frame


def test_track_embed_every_n_1_keeps_every_chip(clock: FakeClock) -> None:
    handler = TrackHandler(
        TrackSettings(reorder_wait_s=0.5, reorder_wait_file_s=0.5),
        EmbedSettings(every_n=1),
        clock=clock,
    )
    for s in range(3):
        (msg,) = tracked(handler.handle(detected(s, [box(100, 100), box(400, 300)])))
        assert msg.shots.rows == (0, 1) and len(msg.shots.chips) == 2


def test_track_releases_out_of_order_frames_in_seq_order(
    tracker: TrackHandler, clock: FakeClock
) -> None:
    frames = {s: detected(s, [box(100 + 2 * s, 100)]) for s in range(5)}
    assert [m.seq for m in tracked(tracker.handle(frames[0]))] == [0]
    clock.t = 0.1
    assert tracker.handle(frames[3]) == []
    assert tracker.handle(frames[2]) == []
    released = tracked(tracker.handle(frames[1]))
    assert [m.seq for m in released] == [1, 2, 3]
    assert all(m.dropped is None for m in released)
    assert len({m.faces.track_ids for m in released}) == 1  # one track across the reordered frames
    assert [m.seq for m in tracked(tracker.handle(frames[4]))] == [4]


def test_track_missing_seq_times_out_as_dropped(tracker: TrackHandler, clock: FakeClock) -> None:
    tracker.handle(detected(0, [box(100, 100)]))
    clock.t = 0.1
    assert tracker.handle(detected(2, [box(104, 100)])) == []
    clock.t = 0.55  # 0.45 s waited: not yet
    assert tracker.idle() == []
    clock.t = 0.7
    released = tracked(tracker.idle())
    assert [(m.seq, m.dropped) for m in released] == [(1, "reorder_timeout"), (2, None)]
    gap = released[0]
    assert (
        gap.status == "dropped"
        and len(gap.faces) == 0
        and gap.shots.chips == ()
        and gap.shots.rows == ()
    )
    assert (
        gap.faces.track_ids is None
        and gap.shots.origin.shape == (0, 2)
        and gap.shots.scale.shape == (0,)
    )
    FrameMsg.from_bytes(gap.to_bytes())
    assert len(released[1].faces.track_ids) == 1
    clock.t = 0.8
    assert tracker.idle() == []  # nothing left to release


def test_track_late_frame_is_counted_and_never_rewinds(
    tracker: TrackHandler, clock: FakeClock
) -> None:
    for s in (0, 2):
        tracker.handle(detected(s, [box(100, 100)]))
    clock.t = 1.0
    released = tracked(tracker.idle())  # gives up on seq 1: it is accounted for as dropped
    assert [(m.seq, m.dropped) for m in released] == [(1, "reorder_timeout"), (2, None)]
    # seq 1 arriving now is late: already accounted for, so it is counted and not passed on again
    assert tracker.handle(detected(1, [box(100, 100)])) == []
    # a redelivered frame that was already processed is a duplicate: same, and never rewinds the tracker
    assert tracker.handle(detected(0, [box(100, 100)])) == []
    assert tracker.cameras["cam"].late == 2
    (nxt,) = tracked(tracker.handle(detected(3, [box(100, 100)])))
    assert nxt.dropped is None and nxt.seq == 3


def test_track_eos_ends_all_live_tracks(tracker: TrackHandler) -> None:
    ids: set[str] = set()
    for s in range(2):
        (msg,) = tracked(tracker.handle(detected(s, [box(100, 100), box(400, 300)])))
        ids |= set(msg.faces.track_ids)
    assert len(ids) == 2
    (end,) = tracked(tracker.handle(eos(2)))
    assert end.is_eos and end.seq == 2
    assert sorted(end.ended) == sorted(ids)


def test_track_eos_waits_for_the_frames_before_it(tracker: TrackHandler) -> None:
    tracker.handle(detected(0, [box(100, 100)]))
    assert tracker.handle(eos(2)) == []  # frame 1 still missing
    released = tracked(tracker.handle(detected(1, [box(102, 100)])))
    assert [(m.seq, m.status) for m in released] == [(1, "frame"), (2, "eos")]
    assert released[1].ended == released[0].faces.track_ids


def test_track_new_run_resets_state(tracker: TrackHandler) -> None:
    for s in range(3):
        (first,) = tracked(tracker.handle(detected(s, [box(100, 100)], run="r1")))
    (msg,) = tracked(tracker.handle(detected(0, [box(100, 100)], run="r2")))
    assert msg.dropped is None and msg.run == "r2" and msg.seq == 0  # not "late": seq restarted
    assert msg.faces.track_ids != first.faces.track_ids  # the same box in a new run is a new track
    assert msg.shots.rows == (0,)  # a new track is embedded at once
    (nxt,) = tracked(tracker.handle(detected(1, [box(100, 100)], run="r2")))
    assert nxt.faces.track_ids == msg.faces.track_ids


def test_track_cameras_are_independent(tracker: TrackHandler) -> None:
    (a0,) = tracked(tracker.handle(detected(0, [box(100, 100)], camera="a")))
    (b0,) = tracked(tracker.handle(detected(0, [box(100, 100)], camera="b")))
    (a1,) = tracked(tracker.handle(detected(1, [box(100, 100)], camera="a")))
    assert a0.faces.track_ids == a1.faces.track_ids and a0.faces.track_ids != b0.faces.track_ids
    assert a0.faces.track_ids[0].startswith("a-") and b0.faces.track_ids[0].startswith("b-")


def test_track_shot_cut_ends_tracks_and_same_box_gets_new_id(tracker: TrackHandler) -> None:
    scene_a = np.zeros(128, np.float32)
    scene_a[0] = 1.0
    scene_b = np.zeros(128, np.float32)
    scene_b[127] = 1.0
    (m0,) = tracked(tracker.handle(detected(0, [box(100, 100)], scene=scene_a)))
    (m1,) = tracked(tracker.handle(detected(1, [box(100, 100)], scene=scene_a.copy())))
    assert m1.faces.track_ids == m0.faces.track_ids and m1.ended == ()
    (m2,) = tracked(tracker.handle(detected(2, [box(100, 100)], scene=scene_b)))
    assert m2.ended == m0.faces.track_ids
    assert m2.faces.track_ids != m0.faces.track_ids
    assert m2.shots.rows == (0,)  # the new track is embedded at once
    (m3,) = tracked(tracker.handle(detected(3, [box(100, 100)], scene=scene_b.copy())))
    assert m3.faces.track_ids == m2.faces.track_ids and m3.ended == ()


# --- MatchHandler ------------------------------------------------------------------------------


class FakePeople:
    def __init__(self, names: dict[str, str]) -> None:
        self._names = names
        self.asked: list[list[str]] = []

    def names(self, person_ids: list[str]) -> dict[str, str | None]:
        self.asked.append(list(person_ids))
        return {pid: self._names.get(pid) for pid in person_ids}

    def faces_per_model(self) -> dict[str, int]:
        return {"dlib": len(self._names)}


class FakeIndex:
    """Each query vector scores its first component for person p1."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def search(self, vectors: np.ndarray, top_k: int = 10) -> list[dict[str, float]]:
        self.calls.append((len(vectors), top_k))
        return [{"p1": float(v[0])} for v in vectors]


def embedded(
    seq: int,
    track_ids: tuple[str, ...],
    scores: dict[int, float] | None = None,
    ended: tuple[str, ...] = (),
    run: str = "r1",
) -> FrameMsg:
    """A frame as the embedder emits it; ``scores`` maps a face index to its p1 similarity."""
    n = len(track_ids)
    scores = scores or {}
    idx = tuple(sorted(scores))
    vectors = np.zeros(
        (len(idx), 128), np.float32
    )  # dlib's dimension; component 0 carries the score
    vectors[:, 0] = [scores[i] for i in idx]
    return FrameMsg(
        FrameMeta(
            camera="cam", run=run, seq=seq, ts=seq / FPS, capture_time=0.0, width=640, height=480
        ),
        faces=Faces(
            np.array([box(100 + 200 * i, 200) for i in range(n)], np.float32).reshape(-1, 4),
            np.full(n, 0.99, np.float32),
            track_ids=track_ids,
        ),
        shots=Shots(idx, embeddings=vectors if idx else None, model="dlib" if idx else None),
        ended=ended,
    )


@pytest.fixture
def people() -> FakePeople:
    return FakePeople({"p1": "Alice"})


@pytest.fixture
def index() -> FakeIndex:
    return FakeIndex()


@pytest.fixture
def matcher(people: FakePeople, index: FakeIndex, fake_redis) -> MatchHandler:
    models: list[str] = []

    def index_for(model: str) -> FakeIndex:
        models.append(model)
        assert model == "dlib"
        return index

    return MatchHandler(
        fake_redis, people, index_for, Settings(match={"top_k": 5}), lambda model: 0.9
    )  # type: ignore[arg-type]


def records(outputs: list) -> list[dict]:
    assert all(stream == keys.RESULTS for stream, _ in outputs)
    return [r for _, r in outputs]


def events(recs: list[dict], kind: str | None = None) -> list[dict]:
    return [r for r in recs if "event" in r and (kind is None or r["event"] == kind)]


def faces_of(recs: list[dict]) -> dict[str, dict]:
    return {r["track_id"]: r for r in recs if "event" not in r}


def test_match_names_a_confident_track_and_not_a_weak_one(
    matcher: MatchHandler, index: FakeIndex, people: FakePeople
) -> None:
    assert matcher.input_streams() == [keys.EMBEDDED]
    recs = records(matcher.handle(embedded(0, ("t1", "t2"), {0: 0.95, 1: 0.85})))
    assert index.calls == [(2, 5)]
    assert sorted(e["track_id"] for e in events(recs, "start")) == ["t1", "t2"]
    (ident,) = events(recs, "identified")
    assert ident["track_id"] == "t1" and ident["name"] == "Alice" and ident["frame"] == 0
    assert ident["score"] == pytest.approx(0.95, abs=1e-4)
    by_track = faces_of(recs)
    assert by_track["t1"]["name"] == "Alice" and by_track["t1"]["person_id"] == "p1"
    assert by_track["t1"]["score"] == pytest.approx(0.95, abs=1e-4)
    assert by_track["t1"]["bbox"] == [60.0, 160.0, 140.0, 240.0] and by_track["t1"]["frame"] == 0
    assert by_track["t2"]["name"] is None and by_track["t2"]["person_id"] is None
    assert by_track["t2"]["score"] == pytest.approx(0.85, abs=1e-4)
    assert ["p1"] in people.asked


def test_match_events_are_emitted_once_per_track(matcher: MatchHandler) -> None:
    all_recs: list[dict] = []
    for s in range(4):
        scores = {0: 0.95, 1: 0.85} if s % 2 == 0 else None
        recs = records(matcher.handle(embedded(s, ("t1", "t2"), scores)))
        by_track = faces_of(recs)
        assert set(by_track) == {"t1", "t2"}, s  # one record per tracked face per frame
        assert by_track["t1"]["name"] == "Alice" and by_track["t2"]["name"] is None
        all_recs += recs
    assert sorted(e["track_id"] for e in events(all_recs, "start")) == ["t1", "t2"]
    assert [e["track_id"] for e in events(all_recs, "identified")] == ["t1"]


def test_match_ended_track_emits_end_with_its_last_frame(matcher: MatchHandler) -> None:
    matcher.handle(embedded(0, ("t1", "t2"), {0: 0.95, 1: 0.85}))
    matcher.handle(embedded(1, ("t1", "t2")))
    recs = records(matcher.handle(embedded(2, ("t2",), ended=("t1",))))
    # an ended track may still come back (same face, new tracker id) within the re-id window: no end yet
    assert events(recs, "end") == [] and set(faces_of(recs)) == {"t2"}
    window = matcher.settings.track.reid_window_s
    later = int((0.2 + window) * FPS) + 2
    (end,) = events(records(matcher.handle(embedded(later, ("t2",)))), "end")
    assert end["track_id"] == "t1" and end["frame"] == 1 and end["ts"] == pytest.approx(0.1)
    assert end["name"] == "Alice" and end["score"] == pytest.approx(0.95, abs=1e-4)
    # eos ends the rest; an unknown or already ended track id gives no event
    final = records(
        matcher.handle(
            FrameMsg(
                FrameMeta(
                    camera="cam",
                    run="r1",
                    seq=later + 1,
                    ts=(later + 1) / FPS,
                    capture_time=0.0,
                    width=640,
                    height=480,
                ),
                status="eos",
                ended=("t2", "t1", "t9"),
            )
        )
    )
    assert [(e["event"], e["track_id"], e["frame"], e["name"]) for e in final] == [
        ("end", "t2", later, None)
    ]


def deliver(matcher: MatchHandler, msg: FrameMsg) -> list:
    """What the runtime does: handle, publish, then commit (mark the frame done)."""
    out = matcher.handle(msg)
    matcher.committed(msg)
    return out


def test_match_redelivered_frame_yields_no_records(matcher: MatchHandler, index: FakeIndex) -> None:
    first = deliver(matcher, embedded(0, ("t1",), {0: 0.95}))
    assert first
    deliver(matcher, embedded(1, ("t1",)))
    assert deliver(matcher, embedded(1, ("t1",))) == []
    assert deliver(matcher, embedded(0, ("t1",), {0: 0.95})) == []
    assert len(index.calls) == 1  # the redelivery is not searched again
    # a new run has its own done bits; the old run's track ends
    recs = records(deliver(matcher, embedded(0, ("u1",), {0: 0.95}, run="r2")))
    assert [r["track_id"] for r in events(recs, "end")] == ["t1"]
    assert "u1" in faces_of(recs)


def test_match_out_of_order_frame_is_not_a_redelivery(matcher: MatchHandler) -> None:
    deliver(matcher, embedded(0, ("t1",), {0: 0.95}))
    deliver(matcher, embedded(2, ("t1",)))
    recs = records(deliver(matcher, embedded(1, ("t1",))))
    assert set(faces_of(recs)) == {"t1"}


# --- DetectHandler ---------------------------------------------------------------------------------


class FakeDetector:
    def __init__(self, faces: Faces) -> None:
        self.faces = faces
        self.seen: list[np.ndarray] = []

    def detect(self, rgb: np.ndarray) -> Faces:
        self.seen.append(rgb)
        return self.faces


def synthetic_rgb() -> np.ndarray:
    h, w = 480, 640
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([(x * 255 // w), (y * 255 // h), np.full_like(x, 90)], axis=-1).astype(np.uint8)
    rgb[100:200, 100:180] = (230, 20, 20)  # red "face" in RGB order
    rgb[300:380, 420:480] = (20, 20, 230)  # blue "face"
    return rgb


def jpeg_of(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95]
    )
    assert ok
    return buf.tobytes()


def frame(seq: int, jpeg: bytes | None) -> FrameMsg:
    return FrameMsg(
        FrameMeta(
            camera="a", run="r1", seq=seq, ts=seq / FPS, capture_time=0.0, width=640, height=480
        ),
        jpeg=jpeg,
    )


@pytest.fixture
def faces() -> Faces:
    xyxy = np.array([[100, 100, 180, 200], [420, 300, 480, 380]], np.float32)
    landmarks = (
        np.tile(
            np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]], np.float32),
            (2, 1, 1),
        )
        * 50
        + xyxy[:, None, :2]
    )
    return Faces(xyxy, np.array([0.99, 0.97], np.float32), landmarks)


def test_detect_output_drops_jpeg_and_carries_faces_chips_scene(faces: Faces) -> None:
    detector = FakeDetector(faces)
    handler = DetectHandler(detector, lambda: ["b", "a"], jpeg_quality=95)
    assert handler.input_streams() == [keys.frames("a"), keys.frames("b")]
    rgb = synthetic_rgb()
    ((stream, out),) = handler.handle(frame(5, jpeg_of(rgb)))
    assert stream == keys.DETECTED
    assert out.jpeg is None and out.seq == 5 and out.dropped is None
    # the detector saw the decoded frame, in RGB order
    (seen,) = detector.seen
    assert seen.shape == (480, 640, 3) and seen.dtype == np.uint8
    assert seen[150, 140, 0] > 200 and seen[150, 140, 2] < 60
    np.testing.assert_array_equal(out.faces.xyxy, faces.xyxy)
    np.testing.assert_array_equal(out.faces.confidence, faces.confidence)
    np.testing.assert_array_equal(out.faces.landmarks, faces.landmarks)
    assert out.shots.rows == (0, 1) and len(out.shots.chips) == 2
    # the detector measures sharpness (it has the pixels), so the tracker never decodes a chip
    assert out.faces.sharpness is not None and out.faces.sharpness.shape == (2,)
    assert (out.faces.sharpness > 0).all()
    assert out.shots.origin.shape == (2, 2) and out.shots.scale.shape == (2,)
    for i, data in enumerate(out.shots.chips):
        chip = decode_jpeg(data)
        x0, y0 = out.shots.origin[i].astype(int)
        h, w = chip.shape[:2]
        assert out.shots.scale[i] == 1.0  # faces smaller than the chip limit are not resized
        x1, y1, x2, y2 = faces.xyxy[i]
        assert x0 <= x1 and y0 <= y1 and x0 + w >= x2 and y0 + h >= y2  # the chip contains the face
        diff = np.abs(chip.astype(int) - rgb[y0 : y0 + h, x0 : x0 + w].astype(int)).mean()
        assert diff < 8, (i, diff)  # the chip is that region of the frame, not something else
    assert out.scene is not None and out.scene.shape == (128,) and out.scene.dtype == np.float32
    assert out.scene.sum() == pytest.approx(1.0, abs=1e-4) and (out.scene >= 0).all()
    back = FrameMsg.from_bytes(out.to_bytes())  # publishable
    assert back.shots.chips == out.shots.chips


def test_detect_no_faces_gives_empty_columns() -> None:
    handler = DetectHandler(FakeDetector(Faces.empty()), lambda: ["a"])
    ((_, out),) = handler.handle(frame(0, jpeg_of(synthetic_rgb())))
    assert len(out.faces) == 0 and out.shots.rows == () and out.shots.chips == ()
    assert out.shots.origin.shape == (0, 2) and out.scene is not None
    FrameMsg.from_bytes(out.to_bytes())


@pytest.mark.parametrize(
    "jpeg", [b"\xff\xd8\xff\xe0 definitely not a jpeg", b"", None], ids=["garbage", "empty", "none"]
)
def test_detect_corrupt_jpeg_is_dropped_but_published(jpeg: bytes | None) -> None:
    detector = FakeDetector(Faces.empty())
    handler = DetectHandler(detector, lambda: ["a"])
    ((stream, out),) = handler.handle(frame(7, jpeg))
    assert stream == keys.DETECTED
    assert out.dropped == "corrupt_frame" and out.seq == 7 and out.jpeg is None
    assert len(out.faces) == 0 and out.shots.chips == ()
    assert detector.seen == []
    FrameMsg.from_bytes(out.to_bytes())


def test_detect_passes_eos_and_dropped_frames_through() -> None:
    detector = FakeDetector(Faces.empty())
    handler = DetectHandler(detector, lambda: ["a"])
    end = FrameMsg.end_of_stream(frame(9, None).meta)
    ((stream, out),) = handler.handle(end)
    assert stream == keys.DETECTED and out.is_eos and out.seq == 9
    stale = frame(3, b"jpeg bytes").drop("max_age")
    ((_, out),) = handler.handle(stale)
    assert out.dropped == "max_age" and out.jpeg is None
    assert detector.seen == []
