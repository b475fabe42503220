"""Matcher stage: embeddings -> Milvus -> person ids -> names, decided per track.

Every embedding of a track is one observation for the track's ``IdentityVote``;
the name of a face in a frame is the track's current decision, so one blurry
frame cannot rename a person. Emits one record per tracked face per frame and
lifecycle events (start, identified, end) to ``fs:results``, and marks the
frame done once its records are published (``committed``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from config.settings import Settings
from tracker.identity import IdentityVote
from workers import keys
from workers.gallery import People, VectorIndex
from workers.messages import FrameMsg, event_record, result_record
from workers.runtime import Output

log = logging.getLogger(__name__)
PROGRESS_TTL_S = 7 * 24 * 3600
SEEN_WINDOW = 4096


@dataclass
class TrackState:
    vote: IdentityVote
    last_frame: int
    last_ts: float
    named: str | None = None  # person id announced in the last 'identified' event


@dataclass
class CameraState:
    run: str
    # frames already handled, for idempotency under redelivery; a set, not a high-water mark,
    # because with several embedders frames arrive out of order
    seen: set[int] = field(default_factory=set)
    tracks: dict[str, TrackState] = field(default_factory=dict)

    def first_time(self, seq: int) -> bool:
        if seq in self.seen:
            return False
        self.seen.add(seq)
        if len(self.seen) > SEEN_WINDOW:
            horizon = max(self.seen) - SEEN_WINDOW // 2
            self.seen = {s for s in self.seen if s >= horizon}
        return True


class MatchHandler:
    kind = "match"
    group = keys.GROUP_MATCH

    def __init__(self, client: redis.Redis, people: People, index_for: Callable[[str], VectorIndex],
                 settings: Settings, threshold_for: Callable[[str], float]):
        self.redis = client
        self.people = people
        self.index_for = index_for  # model name -> its Milvus collection
        self.settings = settings
        self.threshold_for = threshold_for
        self.cameras: dict[str, CameraState] = {}
        self._names: dict[str, tuple[float, str | None]] = {}  # person id -> (fetched at, name)

    def input_streams(self) -> list[str]:
        return [keys.EMBEDDED]

    def handle(self, msg: FrameMsg) -> list[Output]:
        out: list[dict] = []
        st = self.cameras.get(msg.camera)
        if st is None or st.run != msg.run:
            if st is not None:  # the source restarted: its old tracks are over
                out += self._end(st, list(st.tracks), msg.camera)
            st = self.cameras[msg.camera] = CameraState(msg.run)
        if msg.kind == "frame":
            if not st.first_time(msg.seq):
                return [(keys.RESULTS, r) for r in out]  # redelivered: its records were published already
            out += self._frame(st, msg)
        out += self._end(st, msg.ended, msg.camera)
        return [(keys.RESULTS, r) for r in out]

    def _end(self, st: CameraState, track_ids, camera: str) -> list[dict]:
        out = []
        for track_id in track_ids:
            track = st.tracks.pop(track_id, None)
            if track is not None:
                out.append(event_record("end", camera, track.last_frame, track.last_ts, track_id,
                                        self._name(track.vote.person_id), track.vote.score))
        return out

    def committed(self, msg: FrameMsg) -> None:
        """After publishing: count the frame as done, once, even if redelivered."""
        if msg.kind == "eos":
            pipe = self.redis.pipeline()
            pipe.hset(keys.progress(msg.camera, msg.run), "finished", 1)
            # a finished run's counters are kept for a while for `run` and status, then go
            pipe.expire(keys.progress(msg.camera, msg.run), PROGRESS_TTL_S)
            pipe.expire(keys.done_bits(msg.camera, msg.run), PROGRESS_TTL_S)
            pipe.execute()
            return
        if self.redis.setbit(keys.done_bits(msg.camera, msg.run), msg.seq, 1) == 0:
            pipe = self.redis.pipeline()
            pipe.hincrby(keys.progress(msg.camera, msg.run), "done", 1)
            if msg.dropped:
                pipe.hincrby(keys.progress(msg.camera, msg.run), f"dropped:{msg.dropped}", 1)
            pipe.execute()

    # --------------------------------------------------------------------------------
    def _frame(self, st: CameraState, msg: FrameMsg) -> list[dict]:
        out: list[dict] = []
        changed: set[str] = set()
        if msg.embeddings is not None and len(msg.embeddings) and msg.model:
            matches = self.index_for(msg.model).search(msg.embeddings, self.settings.match_top_k)
            threshold = self.settings.match_threshold or self.threshold_for(msg.model)
            for i, scores in zip(msg.embed_idx, matches):
                track_id = msg.track_ids[i]
                track = st.tracks.get(track_id) or self._start(st, msg, track_id, threshold, out)
                if track.vote.add(scores):
                    changed.add(track_id)
        for i, track_id in enumerate(msg.track_ids):
            track = st.tracks.get(track_id) or self._start(st, msg, track_id, None, out)
            track.last_frame, track.last_ts = msg.seq, msg.ts
            pid = track.vote.person_id
            name = self._name(pid)
            if track_id in changed and pid is not None and pid != track.named:
                track.named = pid
                out.append(event_record("identified", msg.camera, msg.seq, msg.ts, track_id, name, track.vote.score))
            out.append(result_record(msg, i, name, track.vote.score, pid if name else None))
        return out

    def _start(self, st: CameraState, msg: FrameMsg, track_id: str, threshold: float | None,
               out: list[dict]) -> TrackState:
        # a track first seen without an embedding (its chip was corrupt) votes with the default model
        thr = threshold if threshold is not None else (self.settings.match_threshold or self.threshold_for("dlib"))
        track = st.tracks[track_id] = TrackState(IdentityVote(thr, self.settings.match_margin), msg.seq, msg.ts)
        out.append(event_record("start", msg.camera, msg.seq, msg.ts, track_id, None, 0.0))
        return track

    def _name(self, person_id: str | None) -> str | None:
        if person_id is None:
            return None
        now = time.monotonic()
        cached = self._names.get(person_id)
        if cached is None or now - cached[0] > 5.0:  # a person removed meanwhile loses the name within 5 s
            cached = (now, self.people.names([person_id])[person_id])
            self._names[person_id] = cached
        return cached[1]
