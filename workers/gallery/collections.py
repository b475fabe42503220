"""Collections: galleries of their own (people, face vectors per model, unknown labels).

A search in one collection never sees another's faces: each collection has its
own Milvus collections (``c_<name>_faces_dlib_128``...) and its own Redis names
(``fs:c:<name>:people``...). The collection ``default`` keeps the names the
gallery had before collections existed, so what was enrolled then is
``default``. :class:`Gallery` is the one place that builds the People,
VectorIndex and UnknownFaces of a collection.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import redis

from config.errors import ConfigError
from workers import keys
from workers.gallery.people import People
from workers.models.registry import MODELS, spec
from workers.replies import text_or_none, texts

if TYPE_CHECKING:  # pymilvus (~90 MiB with pandas) is imported only where vectors are searched
    from pymilvus import MilvusClient

    from workers.gallery.unknowns import UnknownFaces
    from workers.gallery.vectors import VectorIndex

DEFAULT = "default"
# Milvus names allow letters, digits and '_' only; lower case keeps names unambiguous in URLs
NAME_RULE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def check_collection(name: object) -> str:
    if not isinstance(name, str) or not NAME_RULE.fullmatch(name):
        raise ConfigError(
            "collection name: expected a lower-case letter then up to 31 lower-case letters, "
            f"digits or '_' ({NAME_RULE.pattern}), got {name!r}"
        )
    return name


def milvus_name(collection: str, base: str) -> str:
    """The Milvus collection of ``base`` (e.g. ``faces_dlib_128``) for a facestream collection."""
    return base if collection == DEFAULT else f"c_{collection}_{base}"


class Gallery:
    """One collection's people, vector indexes (per model) and unknown faces (per model)."""

    def __init__(
        self,
        client: redis.Redis,
        milvus: Callable[[], MilvusClient],
        name: str,
        threshold_for: Callable[[str], float],
    ):
        self.name = check_collection(name)
        self.redis = client
        self._milvus = milvus  # opened on first use: listing people needs no Milvus
        self.threshold_for = threshold_for
        self.people = People(client, name)
        self._indexes: dict[str, VectorIndex] = {}
        self._unknowns: dict[str, UnknownFaces] = {}

    @property
    def milvus(self) -> MilvusClient:
        return self._milvus()

    def index(self, model: str) -> VectorIndex:
        if model not in self._indexes:
            from workers.gallery.vectors import VectorIndex

            found = spec(model)
            self._indexes[model] = VectorIndex(
                self.milvus, milvus_name(self.name, found.collection()), found.dim
            )
        return self._indexes[model]

    def unknowns(self, model: str) -> UnknownFaces:
        if model not in self._unknowns:
            from workers.gallery.unknowns import UnknownFaces

            self._unknowns[model] = UnknownFaces(
                self.redis,
                self.milvus,
                model,
                spec(model).dim,
                self.threshold_for(model),
                self.name,
            )
        return self._unknowns[model]

    def milvus_collections(self) -> list[str]:
        """Every Milvus collection this gallery may have (whether or not it exists yet)."""
        return [
            milvus_name(self.name, found.collection(kind))
            for found in MODELS.values()
            for kind in ("faces", "unknowns")
        ]


class Collections:
    """The registry of collections in Redis; ``default`` always exists."""

    def __init__(self, client: redis.Redis):
        self.redis = client

    def names(self) -> list[str]:
        return [DEFAULT, *sorted(n for n in texts(self.redis.smembers(keys.COLLECTIONS)))]

    def exists(self, name: str) -> bool:
        return name == DEFAULT or bool(self.redis.sismember(keys.COLLECTIONS, name))

    def create(self, name: str) -> bool:
        """True if it was created, False if it existed."""
        check_collection(name)
        if name == DEFAULT:
            return False
        return bool(self.redis.sadd(keys.COLLECTIONS, name))

    def forget(self, name: str) -> None:
        """Drop the name from the registry (its data is erased by the caller first)."""
        self.redis.srem(keys.COLLECTIONS, name)

    def bind_camera(self, camera: str, collection: str) -> None:
        if not self.exists(collection):
            raise ConfigError(
                f"camera {camera!r} collection: expected one of {self.names()}, got {collection!r}"
            )
        self.redis.hset(keys.CAMERA_COLLECTIONS, camera, collection)

    def of_camera(self, camera: str) -> str:
        return text_or_none(self.redis.hget(keys.CAMERA_COLLECTIONS, camera)) or DEFAULT
