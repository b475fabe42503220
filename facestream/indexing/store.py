"""Candidates and groups in Redis: the one place that knows their record layout.

A candidate is a hash (thumbnail and embedding as bytes); a group is a hash (its
label) plus a set of candidate ids; a collection's groups are a sorted set by
group number, so that the numbers a person reads in ``facestream review`` stay put.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

import numpy as np
import redis

from config.errors import ConfigError
from facestream.indexing.candidates import Candidate
from workers import keys
from workers.replies import HashFields, text, texts


@dataclass
class StoredCandidate:
    cid: str
    job: str
    group: str
    model: str
    candidate: Candidate


def candidate_fields(c: Candidate, job: str, model: str) -> HashFields:
    return {
        "job": job,
        "source": c.source,
        "frame": c.frame,
        "time_s": c.time_s,
        "bbox": json.dumps(c.bbox),
        "quality": c.quality,
        "model": model,
        "embedding": np.asarray(c.embedding, np.float32).tobytes(),
        "thumbnail": c.thumbnail,
        "track": c.track,
        "suggested": c.suggested,
        "score": c.score,
        "first_frame": c.first_frame,
        "last_frame": c.last_frame,
    }


def _from_fields(cid: str, raw: dict[bytes, bytes]) -> StoredCandidate:
    f = {text(k): v for k, v in raw.items()}
    c = Candidate(
        cid=cid,
        source=text(f["source"]),
        frame=int(f["frame"]),
        time_s=float(f["time_s"]),
        bbox=json.loads(f["bbox"]),
        quality=float(f["quality"]),
        embedding=np.frombuffer(f["embedding"], np.float32).copy(),
        thumbnail=bytes(f["thumbnail"]),
        track=text(f.get("track", b"")),
        suggested=text(f.get("suggested", b"")),
        score=float(f.get("score", 0.0)),
        first_frame=int(f.get("first_frame", 0)),
        last_frame=int(f.get("last_frame", 0)),
    )
    return StoredCandidate(cid, text(f["job"]), text(f.get("group", b"")), text(f["model"]), c)


class ReviewStore:
    """Reads and writes of one collection's candidates and groups."""

    def __init__(self, client: redis.Redis, collection: str = "default"):
        self.redis = client
        self.collection = collection

    def candidates(self, cids: Iterable[str]) -> list[StoredCandidate]:
        cids = list(cids)
        pipe = self.redis.pipeline(transaction=False)
        for cid in cids:
            pipe.hgetall(keys.index_candidate(self.collection, cid))
        return [
            _from_fields(cid, raw) for cid, raw in zip(cids, pipe.execute(), strict=True) if raw
        ]

    def job_candidates(self, job: str) -> list[StoredCandidate]:
        """A job's candidates by file, frame and left to right: groups are numbered in that order."""
        cids = texts(self.redis.smembers(keys.index_job_candidates(self.collection, job)))
        found = self.candidates(cids)
        found.sort(
            key=lambda f: (f.candidate.source, f.candidate.frame, f.candidate.bbox[0], f.cid)
        )
        return found

    def group_ids(self) -> list[str]:
        return texts(
            cast(list[bytes], self.redis.zrange(keys.index_groups(self.collection), 0, -1))
        )

    def group_faces(self, group: str) -> list[str]:
        return sorted(texts(self.redis.smembers(keys.index_group_faces(self.collection, group))))

    def group_name(self, group: str) -> str:
        return text(self.redis.hget(keys.index_group(self.collection, group), "name") or b"")

    def check_group(self, group: str) -> str:
        if self.redis.zscore(keys.index_groups(self.collection), group) is None:
            raise ConfigError(
                f"group: expected one of {self.group_ids() or 'none (nothing to review)'} "
                f"in collection {self.collection!r}, got {group!r}"
            )
        return group

    def check_face(self, cid: str) -> str:
        if not self.redis.exists(keys.index_candidate(self.collection, cid)):
            raise ConfigError(f"face: expected a candidate id under review, got {cid!r}")
        return cid

    def new_group_ids(self, n: int) -> list[str]:
        """``n`` fresh group names (g1, g2, ...): numbers are never reused in a collection."""
        if n == 0:
            return []
        last = int(self.redis.incrby(keys.index_next_group(self.collection), n))
        return [f"g{i}" for i in range(last - n + 1, last + 1)]

    def add_group(self, pipe: redis.client.Pipeline, group: str, job: str, cids: list[str]) -> None:
        c = self.collection
        pipe.zadd(keys.index_groups(c), {group: int(group[1:])})
        pipe.hset(keys.index_group(c, group), mapping={"job": job, "name": ""})
        pipe.sadd(keys.index_group_faces(c, group), *cids)
        for cid in cids:
            pipe.hset(keys.index_candidate(c, cid), "group", group)

    def drop_group(self, pipe: redis.client.Pipeline, group: str) -> None:
        pipe.zrem(keys.index_groups(self.collection), group)
        pipe.delete(
            keys.index_group(self.collection, group),
            keys.index_group_faces(self.collection, group),
        )

    def drop_candidates(self, pipe: redis.client.Pipeline, faces: list[StoredCandidate]) -> None:
        """Delete candidates (thumbnail and embedding with them) and their job's reference."""
        for f in faces:
            pipe.delete(keys.index_candidate(self.collection, f.cid))
            pipe.srem(keys.index_job_candidates(self.collection, f.job), f.cid)
