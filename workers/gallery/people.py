"""People in Redis: a stable person id per name, and face counts per embedding model."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import redis

from config.errors import ConfigError
from workers import keys
from workers.replies import text, text_or_none


def check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 64 or not name.isprintable() or "/" in name:
        raise ConfigError(
            f"person name: expected 1-64 printable characters without '/', got {name!r}"
        )
    return name


@dataclass(frozen=True)
class Person:
    person_id: str
    name: str
    faces: dict[str, int]  # embedding model -> enrolled faces


class People:
    def __init__(self, client: redis.Redis, collection: str = "default"):
        self.redis = client
        self.collection = collection
        self.by_id = keys.people(collection)  # hash person_id -> name
        self.by_name = keys.people_by_name(collection)  # hash name -> person_id

    def get_or_create(self, name: str) -> str:
        name = check_name(name)
        new_id = "p-" + secrets.token_hex(6)
        # HSETNX makes concurrent enrolls of the same name agree on one id
        if self.redis.hsetnx(self.by_name, name, new_id):
            self.redis.hset(self.by_id, new_id, name)
            return new_id
        existing = self.redis.hget(self.by_name, name)
        if existing is None:  # removed between the two calls: try again
            return self.get_or_create(name)
        return text(existing)

    def find(self, name: str) -> str | None:
        pid = self.redis.hget(self.by_name, name.strip())
        return text_or_none(pid)

    def names(self, person_ids: list[str]) -> dict[str, str | None]:
        if not person_ids:
            return {}
        values = self.redis.hmget(self.by_id, person_ids)
        return {pid: text_or_none(v) for pid, v in zip(person_ids, values, strict=True)}

    def add_faces(self, person_id: str, model: str, count: int) -> None:
        self.redis.hincrby(keys.person_faces(person_id), model, count)

    def all(self) -> list[Person]:
        people = []
        for pid, name in sorted(self.redis.hgetall(self.by_id).items(), key=lambda kv: kv[1]):
            faces = {
                text(k): int(v) for k, v in self.redis.hgetall(keys.person_faces(text(pid))).items()
            }
            people.append(Person(text(pid), text(name), faces))
        return people

    def faces_per_model(self) -> dict[str, int]:
        """Enrolled faces per embedding model, over everybody."""
        counts: dict[str, int] = {}
        for person in self.all():
            for model, n in person.faces.items():
                counts[model] = counts.get(model, 0) + n
        return counts

    def rename(self, person_id: str, new_name: str) -> str:
        """The person's new name; ConfigError if it is taken by someone else or the id is unknown."""
        new_name = check_name(new_name)
        old = text_or_none(self.redis.hget(self.by_id, person_id))
        if old is None:
            raise KeyError(person_id)
        if old == new_name:
            return new_name
        if not self.redis.hsetnx(self.by_name, new_name, person_id):
            raise ConfigError(f"person name: expected a name nobody has, got {new_name!r} (taken)")
        pipe = self.redis.pipeline()
        pipe.hset(self.by_id, person_id, new_name)
        pipe.hdel(self.by_name, old)
        pipe.execute()
        return new_name

    def get(self, person_id: str) -> Person | None:
        name = text_or_none(self.redis.hget(self.by_id, person_id))
        if name is None:
            return None
        faces = {
            text(k): int(v) for k, v in self.redis.hgetall(keys.person_faces(person_id)).items()
        }
        return Person(person_id, name, faces)

    def remove(self, person_id: str, name: str) -> None:
        pipe = self.redis.pipeline()
        pipe.hdel(self.by_id, person_id)
        pipe.hdel(self.by_name, name)
        pipe.delete(keys.person_faces(person_id))
        pipe.execute()
