"""Group candidates by identity: agglomerative clustering on cosine distance.

The cut is the embedder's calibrated threshold (workers/models/registry.py): two
faces end up in one group only when they are as alike as the matcher requires to
name a face. A video track is one unit (the mean of its faces' vectors), so a
track is never split across groups; a photo face is a unit of its own.

Linkage ``average`` (UPGMA) is what ``python -m bench.indexing`` measured best on
../shared/faces: ``single`` chains two people through one ambiguous face,
``complete`` splits a person whose photos differ in age or pose.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from config.errors import ConfigError

log = logging.getLogger(__name__)
LINKAGES = ("average", "complete", "single")


def unit_vectors(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def cluster_units(vectors: np.ndarray, similarity: float, linkage: str = "average") -> np.ndarray:
    """Cluster labels (0..k-1, in order of first appearance) of unit ``vectors`` (N, D):
    units closer than ``1 - similarity`` in cosine distance share a group."""
    if linkage not in LINKAGES:
        raise ConfigError(f"linkage: expected one of {LINKAGES}, got {linkage!r}")
    if not -1.0 <= similarity <= 1.0:
        raise ConfigError(f"similarity: expected a cosine in [-1, 1], got {similarity!r}")
    n = len(vectors)
    if n == 0:
        return np.zeros((0,), np.int64)
    if n == 1:
        return np.zeros((1,), np.int64)
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(
        n_clusters=None,
        metric="cosine",
        linkage=linkage,
        distance_threshold=1.0 - similarity,
    )
    raw = model.fit_predict(unit_vectors(np.asarray(vectors, np.float64)))
    # renumber in order of first appearance, so the groups follow the order of the files
    order: dict[int, int] = {}
    return np.asarray([order.setdefault(int(x), len(order)) for x in raw], np.int64)


def cluster_faces(
    vectors: np.ndarray,
    tracks: Sequence[str],
    similarity: float,
    linkage: str = "average",
) -> np.ndarray:
    """Group label of every face: faces sharing a non-empty track id are one unit."""
    if len(tracks) != len(vectors):
        raise ConfigError(f"tracks: expected {len(vectors)} ids, got {len(tracks)}")
    unit_of: list[int] = []
    members: list[list[int]] = []
    by_track: dict[str, int] = {}
    for i, track in enumerate(tracks):
        if track and track in by_track:
            unit = by_track[track]
        else:
            unit = len(members)
            members.append([])
            if track:
                by_track[track] = unit
        members[unit].append(i)
        unit_of.append(unit)
    if not members:
        return np.zeros((0,), np.int64)
    units = unit_vectors(np.stack([unit_vectors(vectors[m]).mean(axis=0) for m in members]))
    labels = cluster_units(units, similarity, linkage)
    return labels[np.asarray(unit_of, np.int64)]
