"""Group candidates by identity: agglomerative clustering on cosine distance.

The cut is the embedder's calibrated threshold (workers/models/registry.py): two
faces end up in one group only when they are as alike as the matcher requires to
name a face. A video track is one unit (the mean of its faces' vectors), so a
track is never split across groups; a photo face is a unit of its own.

Linkage ``average`` (the setting ``index.linkage``): on ../shared/faces with dlib
(``python -m bench.indexing``) the three linkages tie at the calibrated cut 0.92
(homogeneity and completeness 1.0, 17 groups for 17 identities); at a looser cut
``single`` chains people together first (0.88: 9 groups, homogeneity 0.75, against
13-14 groups and 0.91-0.95 for average and complete; faces of one photo kept apart),
and ``complete`` splits a person as soon as one photo of them is unlike the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from config.errors import ConfigError

log = logging.getLogger(__name__)
LINKAGES = ("average", "complete", "single")
CANNOT_LINK = 1e9  # the distance of two faces seen together (single linkage may still chain them)


def unit_vectors(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def cluster_units(
    vectors: np.ndarray,
    similarity: float,
    linkage: str = "average",
    apart: np.ndarray | None = None,
) -> np.ndarray:
    """Cluster labels (0..k-1, in order of first appearance) of unit ``vectors`` (N, D):
    units closer than ``1 - similarity`` in cosine distance share a group, except pairs marked
    in the boolean ``apart`` (N, N): two faces seen at the same time are two people."""
    if linkage not in LINKAGES:
        raise ConfigError(f"linkage: expected one of {LINKAGES}, got {linkage!r}")
    if not -1.0 <= similarity <= 1.0:
        raise ConfigError(f"similarity: expected a cosine in [-1, 1], got {similarity!r}")
    n = len(vectors)
    if n == 0:
        return np.zeros((0,), np.int64)
    if n == 1:
        return np.zeros((1,), np.int64)
    from sklearn.cluster import AgglomerativeClustering  # type: ignore[import-untyped]

    x = unit_vectors(np.asarray(vectors, np.float64))
    distance = np.clip(1.0 - x @ x.T, 0.0, 2.0)
    if apart is not None:
        # far enough that no linkage's mean over two groups can bring a pair under the cut
        distance[apart] = CANNOT_LINK
    np.fill_diagonal(distance, 0.0)
    model = AgglomerativeClustering(
        n_clusters=None,
        metric="precomputed",
        linkage=linkage,
        distance_threshold=1.0 - similarity,
    )
    raw = model.fit_predict(distance)
    # renumber in order of first appearance, so the groups follow the order of the files
    order: dict[int, int] = {}
    return np.asarray([order.setdefault(int(x), len(order)) for x in raw], np.int64)


def cluster_faces(
    vectors: np.ndarray,
    tracks: Sequence[str],
    similarity: float,
    linkage: str = "average",
    seen: Sequence[tuple[str, int, int]] | None = None,
) -> np.ndarray:
    """Group label of every face: faces sharing a non-empty track id are one unit. ``seen``:
    per face (source, first frame, last frame) of its track (a photo: (file, 0, 0)); two units of
    one source seen at overlapping frames are two people and never share a group."""
    if len(tracks) != len(vectors):
        raise ConfigError(f"tracks: expected {len(vectors)} ids, got {len(tracks)}")
    if seen is not None and len(seen) != len(vectors):
        raise ConfigError(f"seen: expected {len(vectors)} spans, got {len(seen)}")
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
    apart = None
    if seen is not None:
        spans = [seen[m[0]] for m in members]
        apart = np.zeros((len(members), len(members)), bool)
        for i, (src_i, a_i, b_i) in enumerate(spans):
            for j in range(i):
                src_j, a_j, b_j = spans[j]
                apart[i, j] = apart[j, i] = src_i == src_j and a_i <= b_j and a_j <= b_i
    labels = cluster_units(units, similarity, linkage, apart)
    return labels[np.asarray(unit_of, np.int64)]
