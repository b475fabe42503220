"""Naming an unknown face label: its vectors become a person's gallery faces.

The matcher keeps every unknown face it labels in the collection's unknowns collection in Milvus
(one row per track: label, vector). Naming a label moves up to ``best_per_person`` of those
vectors into the gallery under the name (a new person, or more faces of an existing one) and
forgets the label: its vectors and its record. The cameras recognise the person from then on.
"""

from __future__ import annotations

import json
import logging

import numpy as np

from config.errors import ConfigError
from facestream.services import Services
from workers import keys
from workers.models.registry import MODELS

log = logging.getLogger(__name__)


def name_unknown(
    services: Services, collection: str, label: str, name: str, most: int
) -> tuple[str, int]:
    """(person id, faces enrolled); ConfigError when the label is not one of the collection's."""
    client = services.redis
    if not client.sismember(keys.unknowns(collection), label):
        raise ConfigError(f"label: expected an unknown label of {collection!r}, got {label!r}")
    gallery = services.gallery(collection)
    person_id = gallery.people.get_or_create(name)
    where = f"label == {json.dumps(label)}"
    enrolled = 0
    for model in MODELS:
        unknowns = gallery.unknowns(model)
        if not services.milvus.has_collection(unknowns.collection):
            continue
        unknowns.ensure()
        rows = services.milvus.query(unknowns.collection, filter=where, output_fields=["vector"])
        if not rows:
            continue
        vectors = np.asarray([r["vector"] for r in rows[:most]], np.float32)
        added = gallery.index(model).add(person_id, vectors)
        gallery.people.add_faces(person_id, model, added)
        services.milvus.delete(unknowns.collection, filter=where)
        enrolled += added
    pipe = client.pipeline()
    pipe.srem(keys.unknowns(collection), label)
    pipe.delete(keys.unknown(label))
    pipe.execute()
    log.info("named an unknown label of %s: %d face(s)", collection, enrolled)
    return person_id, enrolled
