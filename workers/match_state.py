"""The matcher's per-camera state in Redis, committed in one step with a frame's records.

What the matcher knows of a camera (its ``TrackBook``: tracks, votes, running
embeddings, aliases, which tracks started and have not ended) is decided frame
by frame; lost with a killed process, a restarted matcher would report a named
track unnamed, start a track twice and never end others. So after every frame
one Lua script (``workers.state_commit``) does, all or nothing:

- checks that the stored state is still the version this matcher started from
  (another matcher may have moved the camera on: then it reloads and redoes);
- sets the frame's done bit and counts it (the progress ledger's own script,
  ``workers.progress.COMMIT_LUA``); a frame done already publishes nothing;
- appends the frame's records to ``fs:results``;
- writes the camera's state, msgpack, under ``keys.match_state(camera)``.

A matcher killed at any point leaves either the frame fully committed (its
redelivery is skipped by the done bit) or nothing of it (redone from the state
of the frame before). The end of stream commits the same way, without a done bit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import redis

from config.errors import MessageError
from tracker.book_state import book_state, restore_book
from tracker.track_book import TrackBook
from workers import codec, keys
from workers.messages import FrameMsg
from workers.progress import RunProgress
from workers.state_commit import CONFLICT, DONE_ALREADY, DoneBit, StateCommit

log = logging.getLogger(__name__)

_ATTEMPTS = 3  # commits of one frame against a state other matchers keep moving on


@dataclass
class CameraState:
    run: str
    book: TrackBook
    model: str | None = None  # the model of the latest embeddings
    book_model: str | None = None  # the model the book's thresholds were chosen for
    version: int = 0  # the stored version this state was loaded from or last committed as
    # files: the seq of the frame to apply next (frames are applied in seq order); None: not known
    # (a state stored before it was kept), nothing is held until a frame is applied
    next_seq: int | None = None
    lossless: bool = False  # a file's run: no frame is lost, so a missing one is worth waiting for


# model -> an empty book with that model's thresholds (the handler's settings)
BookFactory = Callable[[str | None], TrackBook]


class MatchState:
    """Load and commit the matcher's state of each camera in one Redis."""

    def __init__(self, client: redis.Redis, results_maxlen: int):
        self.redis = client
        self.results_maxlen = results_maxlen
        self._store = StateCommit(client)

    def load(self, camera: str, new_book: BookFactory) -> CameraState | None:
        """The camera's committed state, or None if there is none."""
        version, raw = self._store.load(keys.match_state(camera))
        if raw is None:
            return None
        try:
            data = codec.decode(raw)
            empty = new_book(data["book_model"])
            book = restore_book(data["book"], empty.make_vote, empty.params)
        except (MessageError, KeyError, TypeError, ValueError) as exc:
            # a state from an incompatible version: start the camera afresh rather than stop it
            log.warning("matcher state of camera %s unreadable (%s): starting afresh", camera, exc)
            return CameraState("", new_book(None), version=version)
        return CameraState(
            data["run"],
            book,
            data["model"],
            data["book_model"],
            version=version,
            next_seq=data.get("next_seq"),
            lossless=bool(data.get("lossless", False)),
        )

    def commit(self, msg: FrameMsg, st: CameraState, records: list[dict]) -> int:
        """Publish ``records``, mark ``msg`` done and store ``st``, in one step; CONFLICT when the
        stored state moved on meanwhile, DONE_ALREADY when the frame was done by then."""
        ledger = RunProgress(self.redis, msg.camera, msg.run)
        bits, bit = keys.done_bits(msg.camera, msg.run, msg.seq)
        state = codec.encode(
            {
                "run": st.run,
                "model": st.model,
                "book_model": st.book_model,
                "book": book_state(st.book),
                "next_seq": st.next_seq,
                "lossless": st.lossless,
            }
        )
        done = None if msg.is_eos else DoneBit(bits, ledger.key, bit, msg.dropped or "")
        results = keys.in_shard_of(keys.RESULTS, msg.camera)
        outputs = [(results, codec.encode(r), self.results_maxlen) for r in records]
        got = self._store.commit(keys.match_state(msg.camera), st.version, state, outputs, done)
        if got > 0:
            st.version = got
        if msg.is_eos and got != CONFLICT:
            ledger.finish(msg.seq)
        return got


class Cameras:
    """The matcher's state of each camera: in memory, backed by Redis when ``store`` is given.

    Memory is the committed state, or ahead of it by the one frame being handled; whatever fails
    between handling and committing drops the camera from memory, so it is read again from Redis.
    """

    def __init__(self, store: MatchState | None, new_book: BookFactory):
        self.store = store
        self.new_book = new_book
        self._mem: dict[str, CameraState] = {}

    def get(self, camera: str) -> CameraState | None:
        """This process's state of ``camera``, else the one committed in Redis (a restart)."""
        st = self._mem.get(camera)
        if st is None and self.store is not None:
            st = self.store.load(camera, self.new_book)
            if st is not None:
                self._mem[camera] = st
        return st

    def put(self, camera: str, st: CameraState) -> CameraState:
        self._mem[camera] = st
        return st

    def forget(self, camera: str) -> None:
        if self.store is not None:  # else memory is all there is
            self._mem.pop(camera, None)

    def commit(
        self, msg: FrameMsg, records: list[dict], redo: Callable[[FrameMsg], list[dict]]
    ) -> bool:
        """Commit ``msg``'s records with its camera's state (False: no store, the caller
        publishes); when another matcher moved the camera on meanwhile, ``redo`` the frame."""
        if self.store is None:
            return False
        try:
            for _ in range(_ATTEMPTS):
                st = self._mem.get(msg.camera)
                if st is None:  # a frame done already: nothing to publish
                    if msg.is_eos:
                        RunProgress(self.store.redis, msg.camera, msg.run).finish(msg.seq)
                    return True
                got = self.store.commit(msg, st, records)
                if got != CONFLICT:
                    if got == DONE_ALREADY:
                        self.forget(msg.camera)
                    return True
                log.info("camera %s moved on meanwhile: frame %d again", msg.camera, msg.seq)
                self.forget(msg.camera)
                records = redo(msg)
        except BaseException:
            self.forget(msg.camera)
            raise
        raise RuntimeError(f"camera {msg.camera}: its state kept changing under frame {msg.seq}")
