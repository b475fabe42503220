"""The gallery: people (id -> name) in Redis, their face vectors in Milvus."""

from workers.gallery.people import People
from workers.gallery.vectors import VectorIndex

__all__ = ["People", "VectorIndex"]
