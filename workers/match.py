"""Matcher stage: embeddings -> Milvus -> person ids -> names, decided per track.

Every embedding of a track is one observation for the track's ``IdentityVote``;
the name of a face in a frame is the track's current decision, so one blurry
frame cannot rename a person. A ``TrackBook`` per camera keeps each track's
evidence and running embedding and decides its identity: a new track whose
first embedding matches a track lost or ended within ``track_reid_window_s`` is
reported under the old track id. A track with enough evidence of being nobody enrolled gets a stable
``unknown-...`` label from the unknown faces' collection (``label`` field).
Emits one record per tracked face per frame and lifecycle events (start,
identified, merged, end; built by ``workers/results.py``) to ``fs:results``,
and marks the frame done once its records are published (``committed``).

Idempotent downstream: a frame whose done bit is set has had its records
published already, so a redelivered frame (a dead worker's entry reclaimed, a
duplicate from a detector killed mid-batch) publishes nothing again. Setting
the bit and counting it is one atomic script, so a Redis crash never leaves
them apart. With a ``MatchState`` (what `run` and `up` use), that script also
publishes the frame's records and stores the camera's state (its book: tracks,
votes, aliases, which tracks started and have not ended; workers/match_state.py),
so a matcher killed at any frame is replaced by one that goes on exactly where
it stopped. A restarted matcher first takes over the entries the dead one had
read (``takes_over_pending``). A file's frames go into the book in seq order
whatever order the embedders deliver them in (workers/match_order.py). When Milvus is
unreachable, searches are retried with capped backoff and no frame is dead-lettered for it:
a live camera's tracks flow unnamed meanwhile, a file's frames wait for it
(workers/gallery_search.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import redis

from config.errors import MessageError
from config.settings import Settings
from tracker.identity import IdentityVote
from tracker.track_book import BookParams, BookTrack, TrackBook
from workers import keys
from workers.gallery import People, VectorIndex
from workers.gallery.collections import Gallery
from workers.gallery.unknowns import UnknownFaces
from workers.gallery_search import GallerySearch
from workers.handler import Handler, NotYet, Output
from workers.match_order import InOrder
from workers.match_state import Cameras, CameraState, MatchState
from workers.messages import FrameMsg
from workers.models.registry import MODELS, other_model_only
from workers.progress import RunProgress
from workers.results import event_record, face_record

log = logging.getLogger(__name__)


class MatchHandler(Handler):
    kind = "match"
    group = keys.GROUP_MATCH
    takes_over_pending = True  # a restarted matcher first finishes what the dead one had read

    def __init__(
        self,
        client: redis.Redis,
        people: People,
        index_for: Callable[[str], VectorIndex],
        settings: Settings,
        threshold_for: Callable[[str], float],
        unknowns_for: Callable[[str], UnknownFaces] | None = None,
        state: MatchState | None = None,
        gallery_of: Callable[[str], Gallery] | None = None,
    ):
        self.redis = client
        # camera -> the gallery (collection) it watches with; None: every camera uses the above
        self.gallery_of = gallery_of
        self._galleries: dict[str, tuple[str, Gallery | None]] = {}  # camera -> (run, gallery)
        self.people = people
        self.index_for = index_for  # model name -> its Milvus collection
        self.settings = settings
        self.threshold_for = threshold_for
        self.unknowns_for = unknowns_for  # model name -> its unknown faces; None: no unknown labels
        # None: the state lives in this process only (lost with it)
        self.cameras = Cameras(state, self._new_book)
        # a file's frames are applied in seq order: as long as the tracker waits for a missing one
        self._order = InOrder(client, settings.track.reorder_wait_file_s)
        self._names: dict[str, tuple[float, str | None]] = {}  # person id -> (fetched at, name)
        self.gallery = GallerySearch(settings.match.top_k)  # Milvus, and its outages
        self._models_seen: set[str] = set()  # a gallery of another model is reported once per model

    def input_streams(self) -> list[str]:
        return keys.every_shard(keys.EMBEDDED)

    def warm_up(self) -> None:
        """Runtime hook, once before the first read: load the collections of the models people are
        enrolled with, and create their unknown-faces collection now (half a second in milvus-lite),
        not when a live camera's first stranger appears."""
        for model in MODELS:
            try:
                index = self.index_for(model)
                if not index.client.has_collection(index.collection):
                    continue
                index.ensure()
                if self.unknowns_for is not None:
                    self.unknowns_for(model).ensure()
            except Exception as exc:  # noqa: BLE001 - Milvus down: handle() retries with backoff
                log.warning("Milvus not ready at start (%s): collections load on first use", exc)
                return

    def handle(self, msg: FrameMsg) -> list[Output]:
        try:
            results = keys.in_shard_of(keys.RESULTS, msg.camera)
            return [(results, r) for r in self._handle(msg)]
        except BaseException:
            self.cameras.forget(msg.camera)  # memory may be ahead of Redis: reload next time
            raise

    def _handle(self, msg: FrameMsg) -> list[dict]:
        out: list[dict] = []
        # the done bit, not memory: it survives restarts, and with several embedders frames arrive out
        # of order, so only the frame's own bit can say it was handled (redelivered, or a duplicate)
        if not msg.is_eos and self._is_done(msg):
            self.cameras.forget(msg.camera)  # done elsewhere maybe: the stored state is newer
            return out
        st = self.cameras.get(msg.camera)
        if st is None or st.run != msg.run:
            if st is not None:  # the source restarted: its old tracks are over
                ended = st.book.finish()
                out += [self._end(msg.camera, track, st.model, st.run) for track in ended]
            st = self.cameras.put(
                msg.camera,
                CameraState(
                    msg.run,
                    self._new_book(msg.shots.model),
                    book_model=msg.shots.model,
                    version=st.version if st is not None else 0,
                    next_seq=0,
                ),
            )
        self._order.check(st, msg)
        self._use(self._gallery(msg.camera, st.run))
        if not msg.is_eos:
            st.model = msg.shots.model or st.model
            out += self._frame(st, msg)
        st.book.end(msg.ended)
        ended = st.book.finish() if msg.is_eos else st.book.expire(msg.ts)
        for track in ended:
            out.append(self._end(msg.camera, track, st.model, st.run))
        self._order.applied(st, msg)
        return out

    def commit(self, msg: FrameMsg, outputs: list[Output]) -> bool:
        """Runtime hook: the frame's records, its done bit and the camera's state in one step
        (workers/match_state.py), so a matcher killed at any point loses and repeats nothing."""
        return self.cameras.commit(
            msg, [r for _, r in outputs], lambda m: [r for _, r in self.handle(m)]
        )

    def committed(self, msg: FrameMsg) -> None:
        """After publishing: count the frame as done, once, even if redelivered."""
        progress = RunProgress(self.redis, msg.camera, msg.run)
        if msg.is_eos:
            progress.finish(msg.seq)
        else:
            progress.commit(msg.seq, msg.dropped)

    # --------------------------------------------------------------------------------
    def _gallery(self, camera: str, run: str) -> Gallery | None:
        """The camera's collection, read once per run: `cameras add --collection` or `run` binds
        it before the first frame."""
        if self.gallery_of is None:
            return None
        if self._galleries.get(camera, ("", None))[0] != run:
            self._galleries[camera] = (run, self.gallery_of(camera))
        return self._galleries[camera][1]

    def _use(self, gallery: Gallery | None) -> None:
        """Search, name and label this message's faces in its camera's collection (one message
        is handled at a time, so the gallery in use is the current camera's)."""
        if gallery is None:
            return
        self.people = gallery.people
        self.index_for = gallery.index
        if self.unknowns_for is not None:
            self.unknowns_for = gallery.unknowns

    def _is_done(self, msg: FrameMsg) -> bool:
        return RunProgress(self.redis, msg.camera, msg.run).is_done(msg.seq)

    def _new_book(self, model: str | None) -> TrackBook:
        s = self.settings
        # thresholds and the unknown cutoff are calibrated per model (workers/models/registry.py)
        model_spec = MODELS.get(model or "dlib", MODELS["dlib"])
        threshold = s.match.threshold or self.threshold_for(model_spec.name)
        unknown_below = model_spec.unknown_below if s.match.threshold is None else threshold - 0.03
        params = BookParams(
            reid_window_s=s.track.reid_window_s,
            reid_min_similarity=s.track.reid_min_similarity or threshold,
            unknown_min_observations=s.match.unknown_min_observations,
            unknown_below=unknown_below if s.match.unknown_below is None else s.match.unknown_below,
            split_below=model_spec.split_below,
        )
        return TrackBook(lambda: IdentityVote(threshold, s.match.margin), params)

    def _check_embeddings(self, msg: FrameMsg) -> None:
        """A bad vector is the message's fault (dead letter), not Milvus being down."""
        model, emb = msg.shots.model, msg.shots.embeddings
        if model not in MODELS:
            raise MessageError(
                f"message field 'shots.model': expected one of {sorted(MODELS)}, got {model!r}"
            )
        dim = MODELS[model].dim
        if not isinstance(emb, np.ndarray) or emb.ndim != 2 or emb.shape[1] != dim:
            raise MessageError(
                f"message field 'shots.embeddings': expected (N, {dim}) floats, got "
                f"{getattr(emb, 'shape', type(emb).__name__)}"
            )
        if not np.isfinite(emb).all():
            raise MessageError(
                "message field 'shots.embeddings': expected finite values, got NaN or inf"
            )

    def _warn_other_model(self, model: str) -> None:
        """A long-running stack (``up``) cannot refuse to start like ``run`` does: it logs why
        nobody will be named."""
        problem = other_model_only(self.people.faces_per_model(), model)
        if problem:
            log.warning("%s", problem)

    def health(self) -> dict:
        """Runtime hook: `status` and `run` show an unreachable Milvus from the health key."""
        return self.gallery.health()

    @property
    def unsearched(self) -> int:
        """Embeddings not searched while Milvus was unreachable."""
        return self.gallery.unsearched

    def _wait_for_milvus(self, st: CameraState, msg: FrameMsg) -> None:
        """A file's frame waits for an unreachable Milvus (a live one goes on unnamed)."""
        if st.lossless and self.gallery.worth_waiting():
            raise NotYet(f"camera {msg.camera}: frame {msg.seq} waits for Milvus")

    def _frame(self, st: CameraState, msg: FrameMsg) -> list[dict]:
        out: list[dict] = []
        starting: dict[str, BookTrack] = {}
        track_ids = msg.faces.track_ids or ()
        for track_id in track_ids:
            track, started = st.book.seen(track_id, msg.seq, msg.ts)
            if started:
                starting[track.display_id] = track
        changed: set[str] = set()
        shots, model = msg.shots, msg.shots.model
        if shots.embeddings is not None and len(shots.embeddings) and model:
            self._check_embeddings(msg)
            if model not in self._models_seen:
                self._models_seen.add(model)
                self._warn_other_model(model)
            matches = self.gallery.search(
                self.index_for, self.unknowns_for, model, shots.embeddings
            )
            if matches is None:
                self._wait_for_milvus(st, msg)
            # while Milvus is down the embedding still feeds the track's running embedding (re-id), not its name
            for i, vector, scores in zip(
                shots.rows,
                shots.embeddings,
                matches if matches else [None] * len(shots.rows),
                strict=True,
            ):
                if scores is None:
                    continue
                got = st.book.embedded(track_ids[i], vector, scores)
                track, identity_changed, merged = got.track, got.identity_changed, got.merged
                if (
                    got.split_from is not None
                    and track.origin == track_ids[i]
                    and track.first_frame == msg.seq
                ):
                    starting[track.display_id] = (
                        track  # a face split off an old track starts a new one
                    )
                if merged is not None and starting.pop(merged.display_id, None) is None:
                    # records went out under the new id before its face was recognised: end that id
                    out.append(
                        event_record(
                            "merged",
                            msg.camera,
                            merged.last_frame,
                            merged.last_ts,
                            merged.display_id,
                            None,
                            0.0,
                            msg.run,
                            into=track.display_id,
                        )
                    )
                    out.append(self._end(msg.camera, merged, model, msg.run))
                if identity_changed:
                    changed.add(track.display_id)
                if (
                    self.unknowns_for is not None
                    and track.unknown_label is None
                    and track.embedding is not None
                    and st.book.is_unknown(track)
                ):
                    track.unknown_label = self.gallery.unknown_label(
                        self.unknowns_for,
                        model,
                        track.embedding,
                        (msg.camera, msg.capture_time),
                        st.book.labels_beside(track),
                    )
                    if track.unknown_label is None:
                        self._wait_for_milvus(st, msg)
        for track in starting.values():
            out.append(
                event_record(
                    "start",
                    msg.camera,
                    track.first_frame,
                    track.first_ts,
                    track.display_id,
                    None,
                    0.0,
                    msg.run,
                )
            )
        for i, track_id in enumerate(track_ids):
            booked = st.book.get(track_id)
            assert booked is not None, f"track {track_id}: every track of the frame is in the book"
            track = booked
            pid = track.vote.person_id
            name = self._name(pid)
            if track.display_id in changed and st.book.announce(track) is not None:
                out.append(
                    event_record(
                        "identified",
                        msg.camera,
                        msg.seq,
                        msg.ts,
                        track.display_id,
                        name,
                        track.vote.score,
                        msg.run,
                    )
                )
                changed.discard(track.display_id)
            out.append(
                face_record(
                    msg, i, track.display_id, name, track.vote.score, pid, track.unknown_label
                )
            )
        return out

    def _end(self, camera: str, track: BookTrack, model: str | None, run: str) -> dict:
        if track.unknown_label and self.unknowns_for is not None and model:
            self.unknowns_for(model).track_ended(track.unknown_label, track.frames, time.time())
        return event_record(
            "end",
            camera,
            track.last_frame,
            track.last_ts,
            track.display_id,
            self._name(track.vote.person_id),
            track.vote.score,
            run,
        )

    def _name(self, person_id: str | None) -> str | None:
        if person_id is None:
            return None
        now = time.monotonic()
        cached = self._names.get(person_id)
        if (
            cached is None or now - cached[0] > 5.0
        ):  # a person removed meanwhile loses the name within 5 s
            cached = (now, self.people.names([person_id])[person_id])
            self._names[person_id] = cached
        return cached[1]
