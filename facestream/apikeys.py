"""API keys: bearer tokens of the HTTP API, stored hashed in Redis, scoped by role.

A key is ``fsk_<id>_<secret>``; it is shown once, when created. Redis holds
only SHA-256 of the whole key (the secret is 256 random bits, so a plain hash
is enough: there is nothing to brute-force) with the key's id, role and
collection. Roles: ``read`` (identify, search, events, tracks of its
collection), ``write`` (also people and faces), ``admin`` (everything:
collections, cameras, keys).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass

import redis

from config.errors import ConfigError
from workers import keys
from workers.gallery.collections import check_collection
from workers.replies import text

ROLES = ("read", "write", "admin")
RANK = {"read": 0, "write": 1, "admin": 2}


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    role: str
    collection: str | None  # None for admin keys: every collection
    created: float

    def allows(self, role: str, collection: str | None) -> bool:
        """May this key act with ``role`` on ``collection`` (None: an admin-only resource)?"""
        if self.role == "admin":
            return True
        if collection is None or collection != self.collection:
            return False
        return RANK[self.role] >= RANK[role]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeys:
    def __init__(self, client: redis.Redis):
        self.redis = client

    def create(self, role: str, collection: str | None = None) -> tuple[ApiKey, str]:
        """(the key's record, the key itself: shown once, never stored)."""
        if role not in ROLES:
            raise ConfigError(f"key role: expected one of {ROLES}, got {role!r}")
        if role == "admin":
            if collection is not None:
                raise ConfigError("key: an admin key has every collection; expected no collection")
        elif collection is None:
            raise ConfigError(f"key: a {role} key needs a collection; expected --collection C")
        else:
            check_collection(collection)
        key_id = "k" + secrets.token_hex(4)
        secret = f"fsk_{key_id}_{secrets.token_urlsafe(32)}"
        record = ApiKey(key_id, role, collection, round(time.time(), 3))
        self.redis.hset(keys.API_KEYS, _digest(secret), json.dumps(asdict(record)))
        return record, secret

    def check(self, secret: str) -> ApiKey | None:
        """The key's record, or None when the key is unknown or revoked."""
        if not secret or len(secret) > 200:
            return None
        raw = self.redis.hget(keys.API_KEYS, _digest(secret))
        if raw is None:
            return None
        record = ApiKey(**json.loads(text(raw)))
        # the lookup is by hash; compare ids too so a corrupted field can never grant access
        if not hmac.compare_digest(secret.split("_")[1] if "_" in secret else "", record.key_id):
            return None
        return record

    def all(self) -> list[ApiKey]:
        found = [ApiKey(**json.loads(text(v))) for v in self.redis.hvals(keys.API_KEYS)]
        return sorted(found, key=lambda k: k.created)

    def revoke(self, key_id: str) -> bool:
        for digest, raw in self.redis.hgetall(keys.API_KEYS).items():
            if json.loads(text(raw))["key_id"] == key_id:
                return bool(self.redis.hdel(keys.API_KEYS, digest))
        return False
