"""The gallery: people (id -> name) in Redis, their face vectors in Milvus.

``VectorIndex`` is imported on first use: pymilvus (and the pandas it imports) costs ~90 MiB
and over a second of start-up, and only the processes that search or enroll need it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workers.gallery.people import People

if TYPE_CHECKING:
    from workers.gallery.vectors import VectorIndex

__all__ = ["People", "VectorIndex"]


def __getattr__(name: str):
    if name == "VectorIndex":
        from workers.gallery.vectors import VectorIndex

        return VectorIndex
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
