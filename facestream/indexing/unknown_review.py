"""Review of the unknown labels the cameras gave: label one as a person, reject one, merge some.

Labelling ``unknown-…`` as a person enrolls the label's most typical vectors (the
ones closest to its mean: a stray view wrongly given the label is the least
typical) into the person's faces, so the matcher names that face from then on;
the label leaves the unknown faces (Milvus rows and Redis counts) so it is never
handed out again. Records already written with the label stay as they are (a
stream entry cannot be edited): ``fs:…:unknown-became`` remembers what the label
became, and readers name those records through :func:`label_names`. A merged
label points at the label it went into, so labelling that one later names both.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import redis

from config.errors import ConfigError
from workers import keys
from workers.gallery.collections import DEFAULT, Gallery
from workers.gallery.people import People
from workers.models.registry import MODELS
from workers.replies import HashFields, text, text_map

if TYPE_CHECKING:
    from workers.gallery.unknowns import Unknown

log = logging.getLogger(__name__)
LABEL = re.compile(r"^unknown-[0-9a-f]{1,32}$")
MAX_HOPS = 64  # merges chain labels; a longer chain than this is a loop, never followed for ever


class LabelMissing(ConfigError):
    """No such unknown label in the collection (an API answers 404)."""


class LabelGone(ConfigError):
    """The label was labelled or merged already (an API answers 409)."""


@dataclass
class LabelReport:
    label: str
    person_id: str
    name: str
    enrolled: dict[str, int] = field(default_factory=dict)  # model -> vectors enrolled
    vectors: int = 0  # vectors the label had (all models)


def check_label(label: object) -> str:
    if not isinstance(label, str) or not LABEL.fullmatch(label):
        raise ConfigError(
            f"label: expected an unknown label like unknown-1a2b3c4d ({LABEL.pattern}), "
            f"got {label!r}"
        )
    return label


def _where(label: str) -> str:
    return f"label == {json.dumps(label)}"


class UnknownReview:
    def __init__(self, gallery: Gallery, best_per_person: int):
        self.gallery = gallery
        self.redis: redis.Redis = gallery.redis
        self.best = best_per_person
        self.became = keys.unknown_became(gallery.name)

    def check(self, label: object) -> str:
        """The label, when it is one of the collection's unknown labels now."""
        label = check_label(label)
        if self.redis.sismember(keys.unknowns(self.gallery.name), label):
            return label
        target = self.redis.hget(self.became, label)
        if target is not None:
            went = text(target)
            what = f"merged into {went}" if went.startswith("unknown-") else "labelled as a person"
            raise LabelGone(f"label {label!r}: expected an unknown label, got one already {what}")
        raise LabelMissing(
            f"label {label!r}: not an unknown label of collection {self.gallery.name!r}"
        )

    def _models(self) -> list[str]:
        """Models whose unknown faces' collection exists in Milvus."""
        milvus = self.gallery.milvus
        return [m for m in MODELS if milvus.has_collection(self.gallery.unknowns(m).collection)]

    def _rows(self, model: str, label: str) -> list[dict]:
        unknowns = self.gallery.unknowns(model)
        unknowns.ensure()
        # Strong: rows inserted by the matcher a moment ago are seen (and so moved or deleted too)
        return self.gallery.milvus.query(
            unknowns.collection,
            filter=_where(label),
            output_fields=["id", "vector"],
            consistency_level="Strong",
        )

    def _delete(self, model: str, labels: Iterable[str]) -> None:
        collection = self.gallery.unknowns(model).collection
        quoted = ", ".join(json.dumps(label) for label in sorted(labels))
        self.gallery.milvus.delete(collection, filter=f"label in [{quoted}]")
        # a delete by filter does not move the session timestamp: a Strong read waits for it
        self.gallery.milvus.query(
            collection, filter=f"label in [{quoted}]", limit=1, consistency_level="Strong"
        )

    def _forget(self, labels: Iterable[str]) -> None:
        labels = list(labels)
        pipe = self.redis.pipeline()
        pipe.srem(keys.unknowns(self.gallery.name), *labels)
        pipe.delete(*(keys.unknown(label) for label in labels))
        pipe.execute()

    def label(self, label: str, name: str) -> LabelReport:
        """Make the label a person (new, or the one of that name): its most typical vectors become
        the person's faces, and the label is no longer an unknown one."""
        label = self.check(label)
        people: People = self.gallery.people
        person_id = people.get_or_create(name)
        report = LabelReport(label, person_id, people.names([person_id])[person_id] or name)
        for model in self._models():
            rows = self._rows(model, label)
            if not rows:
                continue
            report.vectors += len(rows)
            chosen = most_typical(np.asarray([r["vector"] for r in rows], np.float32), self.best)
            added = self.gallery.index(model).add(person_id, chosen)
            people.add_faces(person_id, model, added)
            report.enrolled[model] = added
        # the person has the vectors now: the label may go
        self.redis.hset(self.became, label, person_id)
        for model in self._models():
            self._delete(model, [label])
        self._forget([label])
        log.info(
            "unknown label %s labelled: %s vector(s) enrolled of %d",
            label,
            sum(report.enrolled.values()),
            report.vectors,
        )
        return report

    def reject(self, label: str) -> int:
        """Forget the label: its vectors and counts, and what earlier merges pointed at it.
        Returns the vectors deleted."""
        label = self.check(label)
        deleted = 0
        for model in self._models():
            deleted += len(self._rows(model, label))
            self._delete(model, [label])
        self._forget([label])
        aliases = [a for a, t in self._became().items() if t == label]
        if aliases:
            self.redis.hdel(self.became, *aliases)
        log.info("unknown label %s rejected: %d vector(s) deleted", label, deleted)
        return deleted

    def merge(self, into: str, others: list[str]) -> Unknown:
        """One label for the faces of ``into`` and ``others`` (two labels found to be one face):
        the others' vectors and counts move into ``into``; the others go."""
        into = self.check(into)
        if not others or into in others or len(set(others)) != len(others):
            raise ConfigError(
                f"others: expected distinct labels other than {into!r}, got {list(others)}"
            )
        others = [self.check(o) for o in others]
        for model in self._models():
            moved = [
                {"label": into, "vector": r["vector"]}
                for other in others
                for r in self._rows(model, other)
            ]
            if moved:
                self.gallery.milvus.insert(self.gallery.unknowns(model).collection, moved)
            self._delete(model, others)
        counts = [text_map(self.redis.hgetall(keys.unknown(x))) for x in [into, *others]]
        firsts = [float(c["first_seen"]) for c in counts if float(c.get("first_seen", 0))]
        cameras = sorted({cam for c in counts for cam in c.get("cameras", "").split(",") if cam})
        merged: HashFields = {
            "tracks": sum(int(c.get("tracks", 0)) for c in counts),
            "faces": sum(int(c.get("faces", 0)) for c in counts),
            "first_seen": min(firsts) if firsts else 0.0,
            "last_seen": max(float(c.get("last_seen", 0)) for c in counts),
            "cameras": ",".join(cameras),
        }
        pipe = self.redis.pipeline()
        pipe.hset(keys.unknown(into), mapping=merged)
        pipe.hset(self.became, mapping={o: into for o in others})
        pipe.execute()
        self._forget(others)
        log.info("merged %d unknown label(s) into %s", len(others), into)
        from workers.gallery.unknowns import list_unknowns  # pymilvus: only where vectors move

        return next(u for u in list_unknowns(self.redis, self.gallery.name) if u.label == into)

    def _became(self) -> dict[str, str]:
        return text_map(self.redis.hgetall(self.became))


def most_typical(vectors: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` unit vectors closest to their mean direction, most typical first."""
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if norm == 0.0:
        return vectors[:n]
    order = np.argsort(-(vectors @ (mean / norm)), kind="stable")
    return vectors[order[:n]]


def resolve(became: dict[str, str], label: str) -> str | None:
    """The person id a label became (through merges), or None."""
    seen = 0
    target = became.get(label)
    while target is not None and target.startswith("unknown-") and seen < MAX_HOPS:
        target, seen = became.get(target), seen + 1
    return target if target is not None and not target.startswith("unknown-") else None


def label_names(client: redis.Redis, collection: str) -> dict[str, str]:
    """Label -> the name of the person it became, for every label labelled (or merged into one
    labelled) whose person still exists."""
    became = text_map(client.hgetall(keys.unknown_became(collection)))
    person_of = {label: resolve(became, label) for label in became}
    ids = sorted({p for p in person_of.values() if p})
    names = People(client, collection).names(ids)
    return {
        label: name
        for label, p in person_of.items()
        if p is not None and (name := names.get(p)) is not None
    }


def labels_of_person(client: redis.Redis, collection: str, person_id: str) -> list[str]:
    """Every label that became the person (directly or through merges)."""
    became = text_map(client.hgetall(keys.unknown_became(collection)))
    return sorted(label for label in became if resolve(became, label) == person_id)


def name_records(client: redis.Redis, records: Iterable[dict]) -> list[dict]:
    """Face records as a reader should see them: one written with an unknown label since
    labelled as a person carries that person's name (as its ``name`` and ``label``), read in the
    collection its camera watches with."""
    bound = text_map(client.hgetall(keys.CAMERA_COLLECTIONS))
    names: dict[str, dict[str, str]] = {}  # collection -> label -> name, read once each
    out = []
    for r in records:
        label = r.get("label")
        if not r.get("name") and isinstance(label, str) and label.startswith("unknown-"):
            collection = bound.get(str(r.get("camera")), DEFAULT)
            if collection not in names:
                names[collection] = label_names(client, collection)
            name = names[collection].get(label)
            if name is not None:
                r = {**r, "name": name, "label": name}
        out.append(r)
    return out
