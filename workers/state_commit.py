"""A stage's per-camera state, committed in one step with what the stage publishes for a frame.

A stage whose outputs depend on what it remembers of a camera (the tracker's tracks, the
matcher's track book) loses that memory with a killed process; kept in Redis and written in
the same Lua script as the frame's outputs, a restarted process carries on exactly where the
committed frame left off. One script does, all or nothing:

- checks that the stored state is still the version this process loaded or last committed
  (another process may have moved the camera on: the caller reloads and redoes the frame);
- when a done bit is given, sets it and counts the frame (the progress ledger's own script,
  ``workers.progress.COMMIT_LUA``); a frame done already publishes nothing;
- appends each output to its stream (XADD, approximate MAXLEN);
- writes the state (``state``) and bumps its version (``v``) in the camera's hash.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from workers.bus import FIELD
from workers.progress import COMMIT_LUA

CONFLICT, DONE_ALREADY = -1, 0
# KEYS: done bitmap, progress hash, state hash, then one stream per output.
# ARGV: done bit ('' for none), drop reason or '', expected version, state, then per output its
# MAXLEN and payload. Returns CONFLICT, DONE_ALREADY, or the state's new version (>= 1).
# The ledger's body reads KEYS[1], KEYS[2], ARGV[1], ARGV[2]: hence this order.
_SCRIPT = (
    "local function ledger()\n"
    + COMMIT_LUA
    + """end
if (redis.call('HGET', KEYS[3], 'v') or '0') ~= ARGV[3] then return -1 end
if ARGV[1] ~= '' and ledger() == 0 then return 0 end
for i = 4, #KEYS do
  local a = 5 + 2 * (i - 4)
  redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[a], '*', '"""
    + FIELD.decode()
    + """', ARGV[a + 1])
end
redis.call('HSET', KEYS[3], 'state', ARGV[4])
return redis.call('HINCRBY', KEYS[3], 'v', 1)
"""
)


@dataclass(frozen=True)
class DoneBit:
    """The frame's bit in the progress ledger (``keys.done_bits``) and its drop reason."""

    bitmap: str
    progress: str
    bit: int
    reason: str = ""


class StateCommit:
    """Load and commit one kind of per-camera state hash in one Redis."""

    def __init__(self, client: redis.Redis):
        self.redis = client
        self._script = client.register_script(_SCRIPT)

    def load(self, key: str) -> tuple[int, bytes | None]:
        """(version, state) as stored under ``key``; (0, None) when nothing is."""
        version, raw = self.redis.hmget(key, ["v", "state"])
        if raw is not None and not isinstance(raw, bytes):
            raw = raw.encode()
        return int(version or 0), raw

    def commit(
        self,
        key: str,
        version: int,
        state: bytes,
        outputs: list[tuple[str, bytes, int]],
        done: DoneBit | None = None,
    ) -> int:
        """Publish ``outputs`` ((stream, payload, maxlen)), set ``done`` and store ``state`` under
        ``key``, in one step: the new version, CONFLICT when the stored version is no longer
        ``version``, DONE_ALREADY when the done bit was set by then."""
        ledger = [key, key] if done is None else [done.bitmap, done.progress]
        args: list = ["", ""] if done is None else [done.bit, done.reason]
        args += [version, state]
        for _, payload, maxlen in outputs:
            args += [maxlen, payload]
        return int(self._script(keys=[*ledger, key, *(s for s, _, _ in outputs)], args=args))
