"""Face vectors in Milvus: one collection per embedding model, inner product on unit vectors.

Two choices live here and nowhere else:

- **Consistency per operation.** Searches run at Session consistency: a client sees its own
  writes (pymilvus passes the timestamp of this process's last insert/delete as the guarantee),
  and other processes' writes within ``common.gracefulTime`` (5 s by default), without waiting
  for the next time tick as Strong does (~200 ms per search on a real server).
- **The index by gallery size** (:func:`index_for`): exact FLAT search while a gallery is small,
  HNSW above ``FLAT_MAX_ROWS``; :meth:`VectorIndex.add` rebuilds the index when a gallery grows
  across that size.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from pymilvus import DataType, MilvusClient

from config.errors import ConfigError

log = logging.getLogger(__name__)

SEARCH_CONSISTENCY = "Session"
# Exact search up to here: no recall lost, and a batch of 32 costs ~0.4 ms per 100 vectors on a
# real server (428 ms at 1e5 measured); above, HNSW: 28 ms at 1e5 with recall@1 0.995 on real
# face embeddings (docs/milvus.md, python -m bench.gallery).
FLAT_MAX_ROWS = 10_000
HNSW_BUILD = {"M": 16, "efConstruction": 200}
HNSW_EF = 128  # search breadth (>= top_k): 64 gave recall@1 0.975, 128 0.995, 256 1.0 at 1e5


def index_for(rows: int) -> dict[str, Any]:
    """The vector index for a gallery of ``rows`` vectors: the one place this is decided."""
    if rows <= FLAT_MAX_ROWS:
        return {"index_type": "FLAT", "params": {}}
    return {"index_type": "HNSW", "params": dict(HNSW_BUILD)}


def search_params(index_type: str, top_k: int) -> dict[str, Any]:
    params: dict[str, Any] = {"metric_type": "IP"}
    if index_type == "HNSW":
        params["params"] = {"ef": max(HNSW_EF, top_k)}
    return params


def refusal(exc: BaseException) -> str | None:
    """The server's reason when it refused a client (bad token, missing privilege), else None;
    pymilvus reports a rejected token as 'server unavailable', so look at the gRPC cause."""
    seen: BaseException | None = exc
    visited: set[int] = set()  # exception chains can loop (a context pointing back)
    while seen is not None and id(seen) not in visited:
        visited.add(id(seen))
        code = getattr(seen, "code", None)
        try:
            status = code() if callable(code) else None  # grpc.RpcError.code()
        except TypeError:  # some other code(...) with arguments: not a gRPC status
            status = None
        name = getattr(status, "name", "")
        if name in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
            details_of = getattr(seen, "details", None)
            details = details_of() if callable(details_of) else str(seen)
            return f"{name.lower().replace('_', ' ')}: {details}"
        seen = seen.__cause__ or seen.__context__
    return None


def check_access(exc: BaseException, what: str) -> None:
    """Raise a ConfigError naming ``what`` was refused when ``exc`` is an access refusal."""
    reason = None if isinstance(exc, ConfigError) else refusal(exc)  # named already
    if reason is not None:
        raise ConfigError(
            f"Milvus refused {what}: expected a token (FACESTREAM_MILVUS_TOKEN, user:password) "
            f"with that privilege, got {reason}"
        ) from exc


def _add_index(client: MilvusClient, rows: int) -> Any:
    index = client.prepare_index_params()
    index.add_index(field_name="vector", metric_type="IP", **index_for(rows))
    return index


def ensure_collection(client: MilvusClient, collection: str, key_field: str, dim: int) -> bool:
    """Create (if missing) and load a collection of (auto id, ``key_field`` string, unit vector of
    ``dim``), searched by inner product; True if it was created. A new collection starts with
    exact (FLAT) search; its default consistency is Session (see the module's docstring)."""
    created = False
    if not client.has_collection(collection):
        schema = MilvusClient.create_schema(auto_id=True)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field(key_field, DataType.VARCHAR, max_length=64)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        client.create_collection(
            collection,
            schema=schema,
            index_params=_add_index(client, 0),
            consistency_level=SEARCH_CONSISTENCY,
        )
        created = True
    client.load_collection(collection)
    return created


def index_type_of(client: MilvusClient, collection: str) -> str:
    names = client.list_indexes(collection, field_name="vector")
    if not names:
        return "FLAT"
    return str(client.describe_index(collection, names[0]).get("index_type", "FLAT"))


def count_rows(client: MilvusClient, collection: str) -> int:
    [row] = client.query(
        collection, filter="", output_fields=["count(*)"], consistency_level=SEARCH_CONSISTENCY
    )
    return int(row["count(*)"])


def refit_index(client: MilvusClient, collection: str) -> str:
    """Rebuild the vector index when the gallery's size calls for another type; the collection is
    unloaded meanwhile (searches fail and the matcher retries). Returns the type in use."""
    current = index_type_of(client, collection)
    rows = count_rows(client, collection)
    wanted = index_for(rows)["index_type"]
    if wanted == current:
        return current
    log.info("gallery %s: %d vectors, index %s -> %s", collection, rows, current, wanted)
    client.release_collection(collection)
    for name in client.list_indexes(collection, field_name="vector"):
        client.drop_index(collection, name)
    client.create_index(collection, _add_index(client, rows))
    client.load_collection(collection)
    return wanted


class VectorIndex:
    def __init__(self, client: MilvusClient, collection: str, dim: int):
        self.client = client
        self.collection = collection
        self.dim = dim
        self._ready = False
        self._index_type = "FLAT"

    def ensure(self) -> None:
        if self._ready:
            return
        try:
            if ensure_collection(self.client, self.collection, "person_id", self.dim):
                log.info("created Milvus collection %s (dim %d)", self.collection, self.dim)
            self._index_type = index_type_of(self.client, self.collection)
        except Exception as exc:
            check_access(exc, f"creating or loading collection {self.collection}")
            raise
        self._ready = True

    def invalidate(self) -> None:
        """After a failure: check and load the collection again on next use (the server may have restarted)."""
        self._ready = False

    def add(self, person_id: str, vectors: np.ndarray) -> int:
        return len(self.insert(person_id, vectors))

    def insert(self, person_id: str, vectors: np.ndarray) -> list[int]:
        """The ids Milvus gave the new vectors (a face's id)."""
        self.ensure()
        rows = [{"person_id": person_id, "vector": v.astype(np.float32).tolist()} for v in vectors]
        try:
            ids = [int(i) for i in self.client.insert(self.collection, rows)["ids"]]
        except Exception as exc:
            check_access(exc, f"an insert into collection {self.collection}")
            raise
        self._index_type = refit_index(self.client, self.collection)
        return ids

    def faces(self, person_id: str) -> list[int]:
        """Ids of a person's vectors, read with strong consistency (a delete is seen at once)."""
        if not self.client.has_collection(self.collection):
            return []
        self.ensure()
        rows = self.client.query(
            self.collection,
            filter=f'person_id == "{person_id}"',
            output_fields=["id"],
            consistency_level="Strong",
        )
        return sorted(int(r["id"]) for r in rows)

    def delete_face(self, person_id: str, face_id: int) -> int:
        """Remove one vector of a person; how many were removed (0 or 1)."""
        if face_id not in self.faces(person_id):
            return 0
        self.client.delete(self.collection, filter=f"id == {int(face_id)}")
        return 1

    def search(self, vectors: np.ndarray, top_k: int = 10) -> list[dict[str, float]]:
        """For each query vector: the best similarity per person among its top_k neighbours."""
        if len(vectors) == 0:
            return []
        try:
            if not self.client.has_collection(self.collection):
                return [{} for _ in vectors]  # nobody enrolled with this model yet
            self.ensure()
            hits = self.client.search(
                self.collection,
                data=[v.tolist() for v in vectors],
                limit=top_k,
                output_fields=["person_id"],
                search_params=search_params(self._index_type, top_k),
                consistency_level=SEARCH_CONSISTENCY,
            )
        except Exception as exc:
            check_access(exc, f"a search of collection {self.collection}")
            raise
        out = []
        for row in hits:
            best: dict[str, float] = {}
            for hit in row:
                pid = hit["entity"]["person_id"]
                best[pid] = max(best.get(pid, -1.0), float(hit["distance"]))
            out.append(best)
        return out

    def delete_person(self, person_id: str) -> None:
        try:
            if not self.client.has_collection(self.collection):
                return
            self.ensure()  # loaded: a Milvus started since (`people rm` on a fresh stack) has not
            where = f'person_id == "{person_id}"'
            self.client.delete(self.collection, filter=where)
            # a delete by filter does not move pymilvus's session timestamp (Milvus 2.3), so a
            # Session search could still see the person; a Strong read waits until the delete is
            # applied, and every later search sees it (erasure is rare: ~200 ms once is fine)
            self.client.query(self.collection, filter=where, limit=1, consistency_level="Strong")
        except Exception as exc:
            check_access(exc, f"a delete from collection {self.collection}")
            raise
