"""The progress ledger of one run of one camera: published, done, dropped, skipped, finished.

Every frame of a file run is accounted for in the end (DESIGN.md section 6), and
this ledger is where: the hash ``keys.progress(camera, run)`` and the done
bitmaps ``keys.done_bits(...)``. Nobody else reads or writes their fields.

- the grabber counts ``published`` frames, the live frames it never published
  (``skipped:<reason>``) and, at the end of the source, the ``total``;
- the matcher marks a frame ``done`` once its records are out, and its drop
  reason (``dropped:<reason>``) with it: one atomic script that sets the frame's
  done bit first, so a redelivered frame is counted once and a Redis crash never
  leaves the bit and the counters apart; the end of stream sets ``finished``;
- a worker that dead-letters a frame counts it done with ``dropped:dead_letter:<stage>``
  (and an end of stream as finished), so a file run still ends and says what it lost;
- `run`, `status`, the grabber's back-pressure and the benchmark read them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from workers import keys
from workers.messages import FrameMsg

log = logging.getLogger(__name__)

TTL_S = 7 * 24 * 3600  # a finished run's counters are kept a while for `run` and `status`, then go
_MAX_CHUNKS = 1024  # done bitmaps expired at the end: 67 M frames; bounds what a bogus seq costs
# KEYS: done bitmap, progress hash; ARGV: bit, drop reason or ''. Returns 1 the first time only.
# The matcher runs it inside its own commit script (workers/match_state.py), so keep it a body
# that only returns.
COMMIT_LUA = """
if redis.call('SETBIT', KEYS[1], ARGV[1], 1) == 0 then
  redis.call('HINCRBY', KEYS[2], 'done', 1)
  if ARGV[2] ~= '' then redis.call('HINCRBY', KEYS[2], 'dropped:' .. ARGV[2], 1) end
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Counts:
    """One run's ledger as read at one moment."""

    published: int = 0
    done: int = 0
    total: int | None = None  # known once the source has ended
    finished: bool = False  # the end of stream went through the matcher
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> frames done without results
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> live frames never published

    @classmethod
    def parse(cls, raw: dict) -> Counts:
        text = {_text(k): _text(v) for k, v in raw.items()}

        def reasons(prefix: str) -> dict[str, int]:
            return {k.removeprefix(prefix): int(v) for k, v in text.items() if k.startswith(prefix)}

        return cls(
            published=int(text.get("published", 0)),
            done=int(text.get("done", 0)),
            total=int(text["total"]) if "total" in text else None,
            finished=bool(int(text.get("finished", 0))),
            dropped=reasons("dropped:"),
            skipped=reasons("skipped:"),
        )

    @property
    def missing(self) -> int:
        """Frames published (or, once known, in the source) that are neither done nor dropped."""
        return max((self.published if self.total is None else self.total) - self.done, 0)

    @property
    def complete(self) -> bool:
        """Every frame accounted for and the end of stream through: the run is over."""
        return self.total is not None and self.done >= self.total and self.finished


def _text(value: bytes | str | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RunProgress:
    """The ledger of ``camera``'s run ``run`` on one Redis client."""

    def __init__(self, client, camera: str, run: str):
        self.redis = client
        self.camera = camera
        self.run = run
        self.key = keys.progress(camera, run)

    # --- the grabber's side ----------------------------------------------------------------
    def count_published(self, n: int = 1) -> None:
        self.redis.hincrby(self.key, "published", n)

    def count_skipped(self, reasons: dict[str, int]) -> None:
        pipe = self.redis.pipeline()
        for reason, n in reasons.items():
            pipe.hincrby(self.key, f"skipped:{reason}", n)
        pipe.execute()

    def set_total(self, total: int) -> None:
        self.redis.hset(self.key, "total", total)

    # --- the matcher's side ----------------------------------------------------------------
    def is_done(self, seq: int) -> bool:
        bits, bit = keys.done_bits(self.camera, self.run, seq)
        return bool(self.redis.getbit(bits, bit))

    def commit(self, seq: int, dropped: str | None = None) -> bool:
        """Frame ``seq`` is done (with its drop reason, if any); False when it was already."""
        bits, bit = keys.done_bits(self.camera, self.run, seq)
        script = self.redis.register_script(COMMIT_LUA)
        return bool(script(keys=[bits, self.key], args=[bit, dropped or ""]))

    def finish(self, frames: int) -> None:
        """The end of stream went through: mark the run finished; its ledger expires after TTL_S."""
        pipe = self.redis.pipeline()
        pipe.hset(self.key, "finished", 1)
        pipe.expire(self.key, TTL_S)
        for chunk in range(min(frames // keys.DONE_CHUNK, _MAX_CHUNKS - 1) + 1):
            pipe.expire(keys.done_bits(self.camera, self.run, chunk * keys.DONE_CHUNK)[0], TTL_S)
        pipe.execute()

    # --- readers ---------------------------------------------------------------------------
    def done(self) -> int:
        return int(self.redis.hget(self.key, "done") or 0)

    def finished(self) -> bool:
        return bool(self.redis.hget(self.key, "finished"))

    def read(self) -> Counts:
        return Counts.parse(self.redis.hgetall(self.key))


def count_dead_letter(client, payload: bytes, reason: str) -> bool:
    """A dead-lettered frame is done, dropped for ``reason``; False when it cannot be counted
    (undecodable: no camera, run or seq to count it under) or was done already."""
    try:
        msg = FrameMsg.from_bytes(payload)
    except Exception as exc:  # noqa: BLE001 - MessageError by contract; a decoder bug is poison too
        log.warning("a dead letter that cannot be decoded is not in any run's ledger: %s", exc)
        return False
    ledger = RunProgress(client, msg.camera, msg.run)
    if msg.is_eos:  # its frames are counted as they go; without this the run would wait forever
        ledger.finish(msg.seq)
        return True
    return ledger.commit(msg.seq, reason)
