"""Matcher scaling: synthetic galleries of 1e3..1e6 unit vectors, milvus-lite against numpy brute force.

The Milvus side goes through ``VectorIndex.search``, the matcher's own code path
(top-k neighbours, best score per person). Inserts are batched and bounded by
``insert_budget_s``: a gallery that could not be filled in time is reported at
the size it reached. Queries are batches of ``batch`` random unit vectors.
"""

from __future__ import annotations

import logging
import time
from functools import partial

import numpy as np

from workers.gallery import VectorIndex

log = logging.getLogger(__name__)
DIM = 128  # dlib's embedding size: the default embedder
FACES_PER_PERSON = 10


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM), dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _timings(fn, queries: list[np.ndarray]) -> dict:
    fn(queries[0])  # warm-up: loads, allocations, first gRPC round trip
    times = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - t)
    t = np.asarray(times)
    return {
        "p50_ms": round(float(np.percentile(t, 50)) * 1e3, 2),
        "p95_ms": round(float(np.percentile(t, 95)) * 1e3, 2),
        "embeddings_per_s": round(len(queries[0]) * len(t) / float(t.sum()), 1),
    }


def numpy_search(gallery: np.ndarray, person_of: np.ndarray, top_k: int = 10):
    def search(q: np.ndarray) -> list[dict[str, float]]:
        sims = q @ gallery.T
        top = np.argpartition(-sims, min(top_k, sims.shape[1] - 1), axis=1)[:, :top_k]
        out = []
        for row, idx in zip(sims, top, strict=True):
            best: dict[str, float] = {}
            for i in idx:
                pid = int(person_of[i])
                best[pid] = max(best.get(pid, -1.0), float(row[i]))
            out.append(best)
        return out

    return search


def gallery_rows(
    milvus_client,
    sizes: list[int],
    batch: int = 32,
    queries: int = 40,
    insert_budget_s: float = 240.0,
    chunk: int = 20_000,
    seed: int = 0,
) -> list[dict]:
    rng = np.random.default_rng(seed)
    batches = [_unit(rng, batch) for _ in range(queries)]
    rows = []
    for size in sizes:
        gallery = _unit(rng, size)
        person_of = np.arange(size) // FACES_PER_PERSON
        rows.append(
            {
                "backend": "numpy",
                "gallery": size,
                "batch": batch,
                **_timings(numpy_search(gallery, person_of), batches),
            }
        )
        name = f"bench_gallery_{size}"
        if milvus_client.has_collection(name):
            milvus_client.drop_collection(name)
        index = VectorIndex(milvus_client, name, DIM)
        index.ensure()
        t0, inserted = time.perf_counter(), 0
        while inserted < size and time.perf_counter() - t0 < insert_budget_s:
            part = gallery[inserted : inserted + chunk]
            milvus_client.insert(
                name,
                [
                    {"person_id": f"p{person_of[inserted + i]}", "vector": v}
                    for i, v in enumerate(part.tolist())
                ],
            )
            inserted += len(part)
        insert_s = time.perf_counter() - t0
        milvus_client.flush(name)
        row = {
            "backend": "milvus-lite",
            "gallery": inserted,
            "batch": batch,
            "insert_s": round(insert_s, 1),
            "insert_per_s": round(inserted / max(insert_s, 1e-9), 1),
            "complete": inserted == size,
            **_timings(partial(index.search, top_k=10), batches),
        }
        rows.append(row)
        log.info("gallery %d: %s", size, row)
        milvus_client.drop_collection(name)
    return rows
