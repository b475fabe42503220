"""Browser sessions: an API key typed once, then an HttpOnly, SameSite=Strict cookie.

The cookie holds a random session id; Redis holds, under the id's SHA-256, the SHA-256 of the key
(the same digest the key registry stores, so a revoked key ends its sessions at once) and the
session's CSRF token. Neither the key nor the id is ever stored in clear or put in a URL.
Every state-changing request from a page carries the CSRF token (a form field or the
``X-CSRF-Token`` header) and is refused without it, on top of SameSite=Strict.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

import redis

from facestream.apikeys import ApiKey, ApiKeys
from workers import keys
from workers.replies import text

COOKIE = "fs_session"
TTL_S = 8 * 3600
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _key(session_id: str) -> str:
    return f"{keys.PREFIX}:web:session:{hashlib.sha256(session_id.encode()).hexdigest()}"


@dataclass(frozen=True)
class Session:
    key: ApiKey
    csrf: str

    @property
    def can_write(self) -> bool:
        return self.key.role in ("write", "admin")


class Sessions:
    def __init__(self, client: redis.Redis):
        self.redis = client

    def start(self, secret: str) -> str | None:
        """A new session id for a valid key, else None."""
        if ApiKeys(self.redis).check(secret) is None:
            return None
        session_id = secrets.token_urlsafe(32)
        record = {
            "digest": hashlib.sha256(secret.encode()).hexdigest(),
            "csrf": secrets.token_urlsafe(24),
        }
        self.redis.set(_key(session_id), json.dumps(record), ex=TTL_S)
        return session_id

    def get(self, session_id: str | None) -> Session | None:
        """The session, while it lasts and its key is not revoked."""
        if not session_id or len(session_id) > 100:
            return None
        raw = self.redis.get(_key(session_id))
        if raw is None:
            return None
        record = json.loads(text(raw))
        key = self.redis.hget(keys.API_KEYS, record["digest"])
        if key is None:
            return None
        return Session(ApiKey(**json.loads(text(key))), record["csrf"])

    def end(self, session_id: str | None) -> None:
        if session_id:
            self.redis.delete(_key(session_id))


def csrf_ok(session: Session, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(session.csrf, token or "")
