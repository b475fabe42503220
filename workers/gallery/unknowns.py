"""Stable labels for people nobody enrolled: ``unknown-<hex>``, the same for the same face.

A track the matcher has found to be nobody enrolled is looked up, with its
running embedding, in a separate Milvus collection of unknown faces (one per
embedding model, like the gallery). A close enough vector gives its label;
otherwise a new label is made. Either way the track's vector is added, so the
label learns more views of its face. Labels the caller rules out (those of
tracks on screen at the same time: two faces in one frame are two people) are
never given, however close their vectors: the search skips them, so the next
best label or a new one is chosen. Counts and first/last seen live in Redis.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import redis

from config.errors import ConfigError
from workers import keys
from workers.models.registry import spec
from workers.replies import text, text_map, text_or_none

if TYPE_CHECKING:  # pymilvus (and pandas) cost ~90 MiB: only the processes that search load it
    from pymilvus import MilvusClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unknown:
    label: str
    tracks: int
    faces: int
    first_seen: float
    last_seen: float
    cameras: tuple[str, ...]


def unknowns_collection(model: str, dim: int, collection: str = "default") -> str:
    from workers.gallery.collections import milvus_name

    found = spec(model)
    if found.dim != dim:
        raise ConfigError(f"unknown faces of {model}: expected dimension {found.dim}, got {dim}")
    return milvus_name(collection, found.collection("unknowns"))


class UnknownFaces:
    def __init__(
        self,
        client: redis.Redis,
        milvus: MilvusClient,
        model: str,
        dim: int,
        threshold: float,
        gallery: str = "default",
    ):
        self.redis = client
        self.milvus = milvus
        self.labels = keys.unknowns(gallery)  # set of this gallery's labels
        self.became = keys.unknown_became(gallery)  # what labels retired in review became
        self.collection = unknowns_collection(model, dim, gallery)
        self.dim = dim
        self.threshold = threshold
        self._ready = False

    def ensure(self) -> None:
        if not self._ready:
            from workers.gallery.vectors import ensure_collection  # pymilvus: see above

            ensure_collection(self.milvus, self.collection, "label", self.dim)
            self._ready = True

    def invalidate(self) -> None:
        """After a failure: load the collection again on next use (the server may have restarted
        with its collections released)."""
        self._ready = False

    def label_for(
        self,
        vector: np.ndarray,
        camera: str,
        when: float,
        exclude: set[str] | frozenset[str] = frozenset(),
    ) -> str:
        """The label of this unknown face (found or new, never one of ``exclude``); counts one more
        track for it."""
        self.ensure()
        v = np.asarray(vector, np.float32).reshape(-1)
        hits = self.milvus.search(
            self.collection,
            data=[v.tolist()],
            limit=1,
            output_fields=["label"],
            search_params={"metric_type": "IP"},
            filter=_not_in("label", exclude),
        )
        row = hits[0] if hits else []
        label = None
        if row and float(row[0]["distance"]) >= self.threshold:
            label = self._live(row[0]["entity"]["label"], exclude)
        if label is None:
            label = "unknown-" + secrets.token_hex(4)
            log.info("new unknown face %s on %s", label, camera)
        self.milvus.insert(self.collection, [{"label": label, "vector": v.tolist()}])
        pipe = self.redis.pipeline()
        pipe.sadd(self.labels, label)
        pipe.hsetnx(keys.unknown(label), "first_seen", when)
        pipe.hset(keys.unknown(label), "last_seen", when)
        pipe.hincrby(keys.unknown(label), "tracks", 1)
        pipe.hget(keys.unknown(label), "cameras")
        cameras = pipe.execute()[-1]
        names = set(cameras.decode().split(",")) if cameras else set()
        if camera not in names:
            self.redis.hset(keys.unknown(label), "cameras", ",".join(sorted(names | {camera})))
        return label

    def _live(self, label: str, exclude: set[str] | frozenset[str]) -> str | None:
        """``label`` if it is still handed out; the label it was merged into if that one is; else
        None. Labelled, merged and rejected labels leave the set at once, but another process's
        search may see their rows for a few seconds more (Session consistency) and add a row
        after they went: such rows are deleted here, so a retired label never comes back."""
        if self.redis.sismember(self.labels, label):
            return label
        went = text_or_none(self.redis.hget(self.became, label))
        self.milvus.delete(self.collection, filter=f"label == {json.dumps(label)}")
        log.info("dropped stale rows of retired unknown label %s", label)
        if (
            went is not None
            and went.startswith("unknown-")
            and went not in exclude
            and self.redis.sismember(self.labels, went)
        ):
            return went
        return None

    def track_ended(self, label: str, faces: int, when: float) -> None:
        if not self.redis.sismember(self.labels, label):
            return  # labelled, merged or rejected in review while its track ran: nothing to count
        pipe = self.redis.pipeline()
        pipe.hincrby(keys.unknown(label), "faces", faces)
        pipe.hset(keys.unknown(label), "last_seen", when)
        pipe.execute()


def _not_in(field: str, values: set[str] | frozenset[str]) -> str:
    """A Milvus filter expression excluding ``values`` ('' filters nothing); each value quoted
    as a JSON string, the escapes Milvus's expression strings take (quotes, backslashes)."""
    if not values:
        return ""
    quoted = ", ".join(json.dumps(v, ensure_ascii=False) for v in sorted(values))
    return f"{field} not in [{quoted}]"


def list_unknowns(client: redis.Redis, gallery: str = "default") -> list[Unknown]:
    out = []
    for raw in client.smembers(keys.unknowns(gallery)):
        label = text(raw)
        h = text_map(client.hgetall(keys.unknown(label)))
        out.append(
            Unknown(
                label,
                int(h.get("tracks", 0)),
                int(h.get("faces", 0)),
                float(h.get("first_seen", 0)),
                float(h.get("last_seen", 0)),
                tuple(c for c in h.get("cameras", "").split(",") if c),
            )
        )
    return sorted(out, key=lambda u: u.first_seen)
