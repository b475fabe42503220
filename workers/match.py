"""Matcher stage: embeddings -> Milvus -> person ids -> names, decided per track.

Every embedding of a track is one observation for the track's ``IdentityVote``;
the name of a face in a frame is the track's current decision, so one blurry
frame cannot rename a person. Emits one record per tracked face per frame and
lifecycle events (start, identified, end) to ``fs:results``, and marks the
frame done once its records are published (``committed``).

Idempotent downstream: a frame whose done bit is set has had its records
published already, so a redelivered frame (a dead worker's entry reclaimed, a
duplicate from a detector killed mid-batch) publishes nothing again. Setting
the bit and counting it is one atomic script, so a Redis crash never leaves
them apart. When Milvus is unreachable, searches are retried with capped
backoff; meanwhile tracks keep flowing, unnamed, and are named once it is back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import redis

from config.errors import MessageError
from config.settings import Settings
from tracker.identity import IdentityVote
from workers import keys
from workers.backoff import REDIS_DOWN, Backoff
from workers.gallery import People, VectorIndex
from workers.messages import FrameMsg, event_record, result_record
from workers.runtime import Output

log = logging.getLogger(__name__)
PROGRESS_TTL_S = 7 * 24 * 3600
# KEYS: done bitmap, progress hash; ARGV: bit, drop reason or ''. Returns 1 the first time only.
_COMMIT = """
if redis.call('SETBIT', KEYS[1], ARGV[1], 1) == 0 then
  redis.call('HINCRBY', KEYS[2], 'done', 1)
  if ARGV[2] ~= '' then redis.call('HINCRBY', KEYS[2], 'dropped:' .. ARGV[2], 1) end
  return 1
end
return 0
"""


@dataclass
class TrackState:
    vote: IdentityVote
    last_frame: int
    last_ts: float
    named: str | None = None  # person id announced in the last 'identified' event


@dataclass
class CameraState:
    run: str
    tracks: dict[str, TrackState] = field(default_factory=dict)


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
        self._commit = client.register_script(_COMMIT)
        self._milvus_backoff = Backoff(0.5, 10.0)
        self._milvus_retry_at = 0.0
        self.unsearched = 0  # embeddings not searched while Milvus was unreachable

    def input_streams(self) -> list[str]:
        return [keys.EMBEDDED]

    def handle(self, msg: FrameMsg) -> list[Output]:
        out: list[dict] = []
        st = self.cameras.get(msg.camera)
        if st is None or st.run != msg.run:
            if st is not None:  # the source restarted: its old tracks are over
                out += self._end(st, list(st.tracks), msg.camera)
            st = self.cameras[msg.camera] = CameraState(msg.run)
        # the done bit, not memory: it survives restarts, and with several embedders frames arrive out
        # of order, so only the frame's own bit can say it was handled (redelivered, or a duplicate)
        if msg.kind == "frame" and self._is_done(msg):
            return [(keys.RESULTS, r) for r in out]
        if msg.kind == "frame":
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
        progress = keys.progress(msg.camera, msg.run)
        if msg.kind == "eos":
            pipe = self.redis.pipeline()
            pipe.hset(progress, "finished", 1)
            # a finished run's counters are kept for a while for `run` and status, then go
            pipe.expire(progress, PROGRESS_TTL_S)
            for chunk in range(min(msg.seq // keys.DONE_CHUNK, 1023) + 1):  # 67 M frames; bounds a bogus seq
                pipe.expire(keys.done_bits(msg.camera, msg.run, chunk * keys.DONE_CHUNK)[0], PROGRESS_TTL_S)
            pipe.execute()
            return
        bits, bit = keys.done_bits(msg.camera, msg.run, msg.seq)
        self._commit(keys=[bits, progress], args=[bit, msg.dropped or ""])

    def _is_done(self, msg: FrameMsg) -> bool:
        bits, bit = keys.done_bits(msg.camera, msg.run, msg.seq)
        return bool(self.redis.getbit(bits, bit))

    def _check_embeddings(self, msg: FrameMsg) -> None:
        """A bad vector is the message's fault (dead letter), not Milvus being down."""
        dims = {"dlib": 128, "facenet": 512}
        if msg.model not in dims:
            raise MessageError(f"message field 'model': expected one of {sorted(dims)}, got {msg.model!r}")
        emb = msg.embeddings
        if not isinstance(emb, np.ndarray) or emb.ndim != 2 or emb.shape[1] != dims[msg.model]:
            raise MessageError(f"message field 'embeddings': expected (N, {dims[msg.model]}) floats, got "
                               f"{getattr(emb, 'shape', type(emb).__name__)}")
        if not np.isfinite(emb).all():
            raise MessageError("message field 'embeddings': expected finite values, got NaN or inf")

    def _search(self, model: str, vectors) -> list[dict[str, float]] | None:
        """Best score per person for each vector; None while Milvus is unreachable (retried with backoff)."""
        now = time.monotonic()
        if now < self._milvus_retry_at:
            self.unsearched += len(vectors)
            return None
        index = self.index_for(model)
        try:
            found = index.search(vectors, self.settings.match_top_k)
        except REDIS_DOWN:
            raise
        except Exception as exc:  # pymilvus raises MilvusException and gRPC errors of many kinds
            delay = self._milvus_backoff.next_delay()
            self._milvus_retry_at = now + delay
            self.unsearched += len(vectors)
            index.invalidate()
            log.warning("Milvus search failed (%s: %s): tracks stay unnamed, retrying in %.1f s",
                        type(exc).__name__, str(exc)[:200], delay)
            return None
        if self._milvus_backoff.attempts:
            log.warning("Milvus answers again after %d failed attempt(s)", self._milvus_backoff.attempts)
            self._milvus_backoff.reset()
        return found

    # --------------------------------------------------------------------------------
    def _frame(self, st: CameraState, msg: FrameMsg) -> list[dict]:
        out: list[dict] = []
        changed: set[str] = set()
        if msg.embeddings is not None and len(msg.embeddings) and msg.model:
            self._check_embeddings(msg)
            matches = self._search(msg.model, msg.embeddings) or []
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
