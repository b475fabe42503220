"""A file's frames reach the matcher's track book in seq order, whatever order they arrive in.

The tracker publishes a camera's frames in order, but the embedders do not keep it: an entry
of a killed embedder comes back only once reclaimed (``bus.claim_idle_ms``), after later
frames, and several embedders finish out of order. The book's votes, re-identification and
``end`` events depend on the order embeddings come in, so a matcher that applied frames as
they arrived gave different records after an embedder kill (4 and 20 of ~470 in 2 of 5
kills). For a file (lossless: its frames carry no ``max_age_s``) a frame that comes before
its predecessors is held (``NotYet``: the runtime tries it again without spending a
delivery) until they are applied. A predecessor already done (dead-lettered elsewhere: its
done bit is set) is not waited for, nor is one its grabber did not publish. A live camera's frames are applied as they come: a live
frame can be lost for good, and latency matters more than order there.

The next seq to apply is part of the camera's durable state (``CameraState.next_seq``), so a
restarted matcher holds the same frames. Should a predecessor never come and never be
accounted for (an entry trimmed from a stream), the matcher stops waiting for it after
``max_wait_s`` and says so.
"""

from __future__ import annotations

import logging
import time

import redis

from workers.handler import NotYet
from workers.match_state import CameraState
from workers.messages import FrameMsg
from workers.progress import RunProgress

log = logging.getLogger(__name__)


class InOrder:
    def __init__(self, client: redis.Redis, max_wait_s: float):
        self.redis = client
        self.max_wait_s = max_wait_s
        # (camera, run, seq waited for) -> since when (monotonic)
        self._waiting: dict[tuple[str, str, int], float] = {}

    def check(self, st: CameraState, msg: FrameMsg) -> None:
        """Raise ``NotYet`` while a predecessor of ``msg`` (a frame or the end of a file's run)
        has not been applied."""
        if not msg.is_eos:
            st.lossless = msg.max_age_s is None
        if not st.lossless or st.next_seq is None or msg.seq <= st.next_seq:
            return
        ledger = RunProgress(self.redis, msg.camera, msg.run)
        while st.next_seq < msg.seq and ledger.is_done(st.next_seq):
            st.next_seq += 1  # accounted for elsewhere (dead-lettered): nothing of it will come
        # only a frame the grabber published can come (a benchmark or a test that hands the
        # matcher frames of its own has no grabber counting them: nothing to wait for)
        published = int(self.redis.hget(ledger.key, "published") or 0)
        if st.next_seq >= min(msg.seq, published):
            return
        since = self._waiting.setdefault((msg.camera, msg.run, st.next_seq), time.monotonic())
        waited = time.monotonic() - since
        if waited < self.max_wait_s:
            raise NotYet(f"camera {msg.camera}: frame {msg.seq} waits for frame {st.next_seq}")
        log.warning(
            "camera %s: frame %d did not come in %.0f s: applying frame %d without it",
            msg.camera,
            st.next_seq,
            waited,
            msg.seq,
        )

    def applied(self, st: CameraState, msg: FrameMsg) -> None:
        """``msg`` went into the book: its successor is next."""
        st.next_seq = max(st.next_seq or 0, msg.seq + 1)
        if self._waiting:
            self._waiting = {
                k: v
                for k, v in self._waiting.items()
                if k[:2] != (msg.camera, msg.run) or k[2] >= st.next_seq
            }
