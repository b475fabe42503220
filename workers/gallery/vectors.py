"""Face vectors in Milvus: one collection per embedding model, inner product on unit vectors."""

from __future__ import annotations

import logging

import numpy as np
from pymilvus import DataType, MilvusClient

log = logging.getLogger(__name__)


def ensure_collection(client: MilvusClient, collection: str, key_field: str, dim: int) -> bool:
    """Create (if missing) and load a collection of (auto id, ``key_field`` string, unit vector of ``dim``),
    searched by inner product; True if it was created. Exact (FLAT) search: no recall lost and no index
    parameters to tune; on milvus-lite an index does not pay anyway (its cost per request is not the vector
    arithmetic: README, Benchmarks)."""
    created = False
    if not client.has_collection(collection):
        schema = MilvusClient.create_schema(auto_id=True)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field(key_field, DataType.VARCHAR, max_length=64)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        index = client.prepare_index_params()
        index.add_index(field_name="vector", metric_type="IP", index_type="FLAT")
        # Strong: a face added a moment ago is found by the next search
        client.create_collection(
            collection, schema=schema, index_params=index, consistency_level="Strong"
        )
        created = True
    client.load_collection(collection)
    return created


class VectorIndex:
    def __init__(self, client: MilvusClient, collection: str, dim: int):
        self.client = client
        self.collection = collection
        self.dim = dim
        self._ready = False

    def ensure(self) -> None:
        if self._ready:
            return
        if ensure_collection(self.client, self.collection, "person_id", self.dim):
            log.info("created Milvus collection %s (dim %d)", self.collection, self.dim)
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
        return [int(i) for i in self.client.insert(self.collection, rows)["ids"]]

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
        if not self.client.has_collection(self.collection):
            return [{} for _ in vectors]  # nobody enrolled with this model yet
        self.ensure()
        hits = self.client.search(
            self.collection,
            data=[v.tolist() for v in vectors],
            limit=top_k,
            output_fields=["person_id"],
            search_params={"metric_type": "IP"},
        )
        out = []
        for row in hits:
            best: dict[str, float] = {}
            for hit in row:
                pid = hit["entity"]["person_id"]
                best[pid] = max(best.get(pid, -1.0), float(hit["distance"]))
            out.append(best)
        return out

    def delete_person(self, person_id: str) -> None:
        if self.client.has_collection(self.collection):
            self.client.delete(self.collection, filter=f'person_id == "{person_id}"')
