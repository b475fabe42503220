"""Matcher scaling on real face embeddings: galleries of 1e3..1e6 jittered dlib vectors, searched
through ``VectorIndex.search`` (the matcher's own code path: its consistency, its index by size)
on milvus-lite and on a real Milvus server, against numpy exact search.

``python -m bench.gallery --sizes 1e3,1e5`` starts both servers in a temp dir and prints, per
gallery size and backend: p50/p95 per batch of ``batch`` queries, embeddings/s, and recall@1
(the top-1 vector is the exact search's top-1). Inserts are bounded by ``insert_budget_s``: a
gallery that could not be filled in time is reported at the size it reached.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

from bench.face_vectors import jittered, real_faces
from workers.gallery import VectorIndex
from workers.gallery import vectors as vectors_module
from workers.gallery.vectors import index_type_of, refit_index

log = logging.getLogger(__name__)
DIM = 128  # dlib's embedding size: the default embedder
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FACES_CACHE = ROOT / ".facestream" / "bench" / "faces_dlib.npy"


def _timings(fn, queries: list[np.ndarray]) -> tuple[dict, list]:
    fn(queries[0])  # warm-up: loads, allocations, first gRPC round trip
    times, answers = [], []
    for q in queries:
        t = time.perf_counter()
        answers.extend(fn(q))
        times.append(time.perf_counter() - t)
    t = np.asarray(times)
    return {
        "p50_ms": round(float(np.percentile(t, 50)) * 1e3, 2),
        "p95_ms": round(float(np.percentile(t, 95)) * 1e3, 2),
        "embeddings_per_s": round(len(queries[0]) * len(t) / float(t.sum()), 1),
    }, answers


def numpy_search(gallery: np.ndarray, top_k: int = 10):
    """Exact search with the matcher's answer shape: best score per id among the top_k."""

    def search(q: np.ndarray) -> list[dict[str, float]]:
        sims = q @ gallery.T
        top = np.argpartition(-sims, min(top_k, sims.shape[1] - 1), axis=1)[:, :top_k]
        return [{str(i): float(row[i]) for i in idx} for row, idx in zip(sims, top, strict=True)]

    return search


def _top1(answers: list[dict[str, float]]) -> list[str | None]:
    return [max(a, key=a.__getitem__) if a else None for a in answers]


def _fill(client, name: str, gallery: np.ndarray, budget_s: float, chunk: int) -> tuple:
    t0, inserted = time.perf_counter(), 0
    while inserted < len(gallery) and time.perf_counter() - t0 < budget_s:
        part = gallery[inserted : inserted + chunk].tolist()
        rows = [{"person_id": str(inserted + i), "vector": v} for i, v in enumerate(part)]
        client.insert(name, rows)
        inserted += len(part)
    insert_s = time.perf_counter() - t0
    client.flush(name)
    return inserted, insert_s


def gallery_rows(
    milvus_client,
    sizes: list[int],
    batch: int = 32,
    queries: int = 40,
    insert_budget_s: float = 240.0,
    chunk: int = 20_000,
    seed: int = 0,
    backend: str = "milvus-lite",
    faces: np.ndarray | None = None,
    exact: bool = True,
    variants: tuple[str, ...] = ("auto",),
    efs: tuple[int, ...] = (),
) -> list[dict]:
    """Rows per size for ``backend``: one per index variant (``auto``: the product's choice by
    size; or FLAT, HNSW) and HNSW search breadth ``efs``; one for numpy exact when ``exact``."""
    default_ef = vectors_module.HNSW_EF
    efs = efs or (default_ef,)
    faces = real_faces(SHARED, FACES_CACHE) if faces is None else faces
    rows = []
    for size in sizes:
        rng = np.random.default_rng(seed + size)  # the same gallery for every backend
        gallery, _ = jittered(faces, size, rng)
        batches = list(jittered(faces, batch * queries, rng)[0].reshape(queries, batch, -1))
        name = f"bench_gallery_{size}"
        if milvus_client.has_collection(name):
            milvus_client.drop_collection(name)
        index = VectorIndex(milvus_client, name, DIM)
        index.ensure()
        inserted, insert_s = _fill(milvus_client, name, gallery, insert_budget_s, chunk)
        truth_timing, truth = _timings(numpy_search(gallery[:inserted]), batches)
        if exact:
            rows.append({"backend": "numpy", "gallery": inserted, "batch": batch, **truth_timing})
        for variant in variants:
            t0 = time.perf_counter()
            if variant == "auto":
                index_type = refit_index(milvus_client, name)  # the product's rule: by size
            else:
                index_type = _set_index(milvus_client, name, variant)
            index.invalidate()
            index.ensure()
            build_s = time.perf_counter() - t0
            for ef in efs if index_type == "HNSW" else [vectors_module.HNSW_EF]:
                vectors_module.HNSW_EF = ef  # search breadth under test
                timing, answers = _timings(partial(index.search, top_k=10), batches)
                hits = [a == b for a, b in zip(_top1(answers), _top1(truth), strict=True)]
                row = {
                    "backend": backend,
                    "gallery": inserted,
                    "batch": batch,
                    "index": index_type + (f" ef={ef}" if index_type == "HNSW" else ""),
                    "insert_s": round(insert_s, 1),
                    "insert_per_s": round(inserted / max(insert_s, 1e-9), 1),
                    "index_s": round(build_s, 1),
                    "complete": inserted == size,
                    "recall_at_1": round(float(np.mean(hits)), 4),
                    **timing,
                }
                rows.append(row)
                log.info("gallery %d: %s", size, row)
        vectors_module.HNSW_EF = default_ef
        milvus_client.drop_collection(name)
    return rows


def _set_index(client, name: str, index_type: str) -> str:
    """Rebuild ``name``'s index as ``index_type`` (FLAT or HNSW with the product's parameters)."""
    if index_type_of(client, name) == index_type:
        return index_type
    client.release_collection(name)
    for old in client.list_indexes(name, field_name="vector"):
        client.drop_index(name, old)
    params = client.prepare_index_params()
    build = vectors_module.HNSW_BUILD if index_type == "HNSW" else {}
    params.add_index(field_name="vector", metric_type="IP", index_type=index_type, params=build)
    client.create_index(name, params)
    client.load_collection(name)
    return index_type


def table(rows: list[dict]) -> str:
    head = f"{'gallery':>8} {'backend':<14}{'index':<13}{'p50 ms':>8}{'p95 ms':>8}{'emb/s':>9}"
    head += f"{'recall@1':>9}{'insert/s':>10}{'index s':>8}"
    lines = [head]
    for r in sorted(rows, key=lambda r: (r["gallery"], r["backend"])):
        recall = f"{r['recall_at_1']:.4f}" if "recall_at_1" in r else "exact"
        lines.append(
            f"{r['gallery']:>8} {r['backend']:<14}{r.get('index', '-'):<13}{r['p50_ms']:>8.1f}"
            f"{r['p95_ms']:>8.1f}{r['embeddings_per_s']:>9.0f}{recall:>9}"
            f"{r.get('insert_per_s', 0):>10.0f}{r.get('index_s', 0):>8.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from facestream import milvus_standalone, server_probes, servers

    parser = argparse.ArgumentParser(prog="python -m bench.gallery", description=__doc__)
    parser.add_argument("--sizes", default="1e3,1e5", help="gallery sizes, comma-separated")
    parser.add_argument("--backends", default="milvus-lite,milvus-server")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--queries", type=int, default=40, help="batches per size")
    parser.add_argument("--insert-budget-s", type=float, default=600.0)
    parser.add_argument("--variants", default="auto", help="auto (index by size), FLAT, HNSW")
    parser.add_argument("--ef", default="", help="HNSW search breadths to try, e.g. 64,128")
    parser.add_argument("--out", type=Path, help="write the rows here as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    sizes = [int(float(x)) for x in args.sizes.split(",") if x]
    faces = real_faces(SHARED, FACES_CACHE)
    print(f"{len(faces)} real dlib face embeddings from {SHARED}, jittered to each size")
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-gallery-") as tmp:
        for n, backend in enumerate(args.backends.split(",")):
            if backend == "milvus-lite":
                lite = servers.start_milvus(Path(tmp) / "lite")
                client, stop = (
                    server_probes.open_milvus_client(lite.url),
                    partial(servers.stop, lite),
                )
            else:
                real = milvus_standalone.start(Path(tmp) / "server")
                client = server_probes.open_milvus_client(real.uri, token=real.token)
                stop = partial(milvus_standalone.stop, real)
            try:
                rows += gallery_rows(
                    client, sizes, args.batch, args.queries, args.insert_budget_s,
                    backend=backend, faces=faces, exact=n == 0,
                    variants=tuple(args.variants.split(",")),
                    efs=tuple(int(x) for x in args.ef.split(",") if x),
                )  # fmt: skip
            finally:
                client.close()
                stop()
    print(table(rows))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
