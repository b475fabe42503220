"""Matcher stage: embeddings -> Milvus -> person ids -> names, decided per track.

Every embedding of a track is one observation for the track's ``IdentityVote``;
the name of a face in a frame is the track's current decision, so one blurry
frame cannot rename a person. A ``TrackBook`` per camera keeps each track's
evidence and running embedding: a new track whose first embedding matches a
track lost or ended within ``track_reid_window_s`` is reported under the old
track id. A track with enough evidence of being nobody enrolled gets a stable
``unknown-...`` label from the unknown faces' collection (``label`` field).
Emits one record per tracked face per frame and lifecycle events (start,
identified, end) to ``fs:results``, and marks the frame done once its records
are published (``committed``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from config.settings import Settings
from tracker.identity import IdentityVote
from tracker.track_book import BookParams, BookTrack, TrackBook
from workers import keys
from workers.gallery import People, VectorIndex
from workers.gallery.unknowns import UnknownFaces
from workers.messages import FrameMsg, event_record, result_record
from workers.runtime import Output

log = logging.getLogger(__name__)
PROGRESS_TTL_S = 7 * 24 * 3600


@dataclass
class CameraState:
    run: str
    book: TrackBook
    last_seq: int = -1
    model: str | None = None


class MatchHandler:
    kind = "match"
    group = keys.GROUP_MATCH

    def __init__(self, client: redis.Redis, people: People, index_for: Callable[[str], VectorIndex],
                 settings: Settings, threshold_for: Callable[[str], float],
                 unknowns_for: Callable[[str], UnknownFaces] | None = None):
        self.redis = client
        self.people = people
        self.index_for = index_for  # model name -> its Milvus collection
        self.settings = settings
        self.threshold_for = threshold_for
        self.unknowns_for = unknowns_for  # model name -> its unknown faces; None: no unknown labels
        self.cameras: dict[str, CameraState] = {}
        self._names: dict[str, tuple[float, str | None]] = {}  # person id -> (fetched at, name)

    def input_streams(self) -> list[str]:
        return [keys.EMBEDDED]

    def handle(self, msg: FrameMsg) -> list[Output]:
        st = self.cameras.get(msg.camera)
        if st is None or st.run != msg.run:
            st = self.cameras[msg.camera] = CameraState(msg.run, self._new_book(msg.model))
        if msg.kind == "frame" and msg.seq <= st.last_seq:
            return []  # redelivered: its records were published already
        out: list[dict] = []
        if msg.kind == "frame":
            st.last_seq = msg.seq
            st.model = msg.model or st.model
            out += self._frame(st, msg)
        st.book.end(msg.ended)
        ended = st.book.finish() if msg.kind == "eos" else st.book.expire(msg.ts)
        for track in ended:
            out.append(self._end(msg.camera, track, st.model))
        return [(keys.RESULTS, r) for r in out]

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
    def _new_book(self, model: str | None) -> TrackBook:
        s = self.settings
        threshold = s.match_threshold or self.threshold_for(model or "dlib")
        params = BookParams(reid_window_s=s.track_reid_window_s,
                            reid_min_similarity=s.track_reid_min_similarity or threshold,
                            unknown_min_observations=s.unknown_min_observations,
                            unknown_below=s.unknown_below if s.unknown_below is not None else threshold - 0.03)
        return TrackBook(lambda: IdentityVote(threshold, s.match_margin), params)

    def _frame(self, st: CameraState, msg: FrameMsg) -> list[dict]:
        out: list[dict] = []
        starting: dict[str, BookTrack] = {}
        for track_id in msg.track_ids:
            track, started = st.book.seen(track_id, msg.seq, msg.ts)
            if started:
                starting[track.display_id] = track
        changed: set[str] = set()
        if msg.embeddings is not None and len(msg.embeddings) and msg.model:
            matches = self.index_for(msg.model).search(msg.embeddings, self.settings.match_top_k)
            for i, vector, scores in zip(msg.embed_idx, msg.embeddings, matches):
                track, identity_changed, merged = st.book.embedded(msg.track_ids[i], vector, scores)
                if merged is not None and starting.pop(merged.display_id, None) is None:
                    # records went out under the new id before its face was recognised: end that id
                    out.append(event_record("merged", msg.camera, merged.last_frame, merged.last_ts,
                                            merged.display_id, None, 0.0) | {"into": track.display_id})
                    out.append(self._end(msg.camera, merged, msg.model))
                if identity_changed:
                    changed.add(track.display_id)
                if self.unknowns_for is not None and track.unknown_label is None and st.book.is_unknown(track):
                    track.unknown_label = self.unknowns_for(msg.model).label_for(track.embedding, msg.camera,
                                                                                msg.capture_time)
        for track in starting.values():
            out.append(event_record("start", msg.camera, track.first_frame, track.first_ts, track.display_id,
                                    None, 0.0))
        for i, track_id in enumerate(msg.track_ids):
            track = st.book.get(track_id)
            pid = track.vote.person_id
            name = self._name(pid)
            if track.display_id in changed and pid is not None and pid != track.named:
                track.named = pid
                out.append(event_record("identified", msg.camera, msg.seq, msg.ts, track.display_id, name,
                                        track.vote.score))
                changed.discard(track.display_id)
            record = result_record(msg, i, name, track.vote.score, pid if name else None)
            record["track_id"] = track.display_id
            record["label"] = name or track.unknown_label
            out.append(record)
        return out

    def _end(self, camera: str, track: BookTrack, model: str | None) -> dict:
        if track.unknown_label and self.unknowns_for is not None and model:
            self.unknowns_for(model).track_ended(track.unknown_label, track.frames, time.time())
        return event_record("end", camera, track.last_frame, track.last_ts, track.display_id,
                            self._name(track.vote.person_id), track.vote.score)

    def _name(self, person_id: str | None) -> str | None:
        if person_id is None:
            return None
        now = time.monotonic()
        cached = self._names.get(person_id)
        if cached is None or now - cached[0] > 5.0:  # a person removed meanwhile loses the name within 5 s
            cached = (now, self.people.names([person_id])[person_id])
            self._names[person_id] = cached
        return cached[1]
