"""Review of the grouped candidates: list, label, reject, move, merge, and commit.

Commit enrolls each labelled person's best faces (by quality, ``best_per_person``)
into the gallery and then deletes the labelled groups with every thumbnail and
embedding in them; rejecting deletes at once. Unlabelled groups stay for later.
Faces never leave Redis except as the vectors commit enrolls.

Unknown labels from cameras becoming reviewable plugs in here: a source of groups
whose candidates carry the label's best shots (``Candidate`` records like these).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import redis

from config.errors import ConfigError
from facestream import thumbnails
from facestream.indexing.store import ReviewStore, StoredCandidate
from workers import keys
from workers.gallery.people import check_name

if TYPE_CHECKING:  # pymilvus (with pandas, ~90 MiB) loads where a gallery is searched
    from workers.gallery import People, VectorIndex

log = logging.getLogger(__name__)


@dataclass
class GroupView:
    group: str
    name: str  # the label given in review; '' while none
    suggested: str  # the enrolled person most of its faces match; '' when none
    faces: list[StoredCandidate]  # best quality first

    @property
    def size(self) -> int:
        return len(self.faces)

    @property
    def best(self) -> StoredCandidate:
        return self.faces[0]


@dataclass
class CommitReport:
    enrolled: dict[str, int] = field(default_factory=dict)  # name -> faces enrolled
    dropped: int = 0  # candidates of the committed groups deleted (enrolled ones included)
    left: int = 0  # groups still waiting for a label


def _suggestion(faces: list[StoredCandidate]) -> str:
    votes = Counter(f.candidate.suggested for f in faces if f.candidate.suggested)
    if not votes:
        return ""
    name, n = votes.most_common(1)[0]
    return name if n * 2 > len(faces) else ""  # a majority of the group, not just a plurality


class Review:
    def __init__(self, client: redis.Redis, collection: str = "default"):
        self.store = ReviewStore(client, collection)
        self.redis = client

    def groups(self) -> list[GroupView]:
        return [self.group(g) for g in self.store.group_ids()]

    def group(self, group: str) -> GroupView:
        self.store.check_group(group)
        faces = self.store.candidates(self.store.group_faces(group))
        faces.sort(key=lambda f: (-f.candidate.quality, f.cid))
        return GroupView(group, self.store.group_name(group), _suggestion(faces), faces)

    def label(self, group: str, name: str) -> None:
        """Name a group: a new person, or an enrolled one (by the same name) at commit."""
        self.store.check_group(group)
        name = check_name(name)
        self.redis.hset(keys.index_group(self.store.collection, group), "name", name)

    def unlabel(self, group: str) -> None:
        self.store.check_group(group)
        self.redis.hset(keys.index_group(self.store.collection, group), "name", "")

    def reject(self, group: str) -> int:
        """Drop a group and its faces (thumbnails included) now; returns the faces dropped."""
        view = self.group(group)
        pipe = self.redis.pipeline()
        self.store.drop_candidates(pipe, view.faces)
        self.store.drop_group(pipe, group)
        pipe.execute()
        self._forget()
        return view.size

    def reject_face(self, cid: str) -> None:
        """Drop one face; its group goes too when it was the last one."""
        (face,) = self.store.candidates([self.store.check_face(cid)])
        pipe = self.redis.pipeline()
        self._leave(pipe, face)
        self.store.drop_candidates(pipe, [face])
        pipe.execute()
        self._forget()

    def move(self, cid: str, group: str) -> None:
        """Move one face to another group (``new``: a group of its own)."""
        (face,) = self.store.candidates([self.store.check_face(cid)])
        c = self.store.collection
        pipe = self.redis.pipeline()
        self._leave(pipe, face)
        if group == "new":
            (fresh,) = self.store.new_group_ids(1)
            self.store.add_group(pipe, fresh, face.job, [cid])
        else:
            self.store.check_group(group)
            pipe.sadd(keys.index_group_faces(c, group), cid)
            pipe.hset(keys.index_candidate(c, cid), "group", group)
        pipe.execute()

    def merge(self, into: str, others: list[str]) -> None:
        """Move every face of ``others`` into ``into``; their groups go. ``into`` keeps its label,
        or takes the first other label when it has none."""
        self.store.check_group(into)
        if not others or into in others:
            raise ConfigError(f"merge: expected other groups than {into!r}, got {others}")
        c = self.store.collection
        pipe = self.redis.pipeline()
        name = self.store.group_name(into)
        for other in others:
            self.store.check_group(other)
            cids = self.store.group_faces(other)
            name = name or self.store.group_name(other)
            if cids:
                pipe.sadd(keys.index_group_faces(c, into), *cids)
            for cid in cids:
                pipe.hset(keys.index_candidate(c, cid), "group", into)
            self.store.drop_group(pipe, other)
        pipe.hset(keys.index_group(c, into), "name", name)
        pipe.execute()

    def _leave(self, pipe: redis.client.Pipeline, face: StoredCandidate) -> None:
        """Take a face out of its group, dropping the group when it empties."""
        if not face.group:
            return
        pipe.srem(keys.index_group_faces(self.store.collection, face.group), face.cid)
        if self.store.group_faces(face.group) == [face.cid]:
            self.store.drop_group(pipe, face.group)

    def commit(
        self, people: People, index_for: Callable[[str], VectorIndex], best_per_person: int
    ) -> CommitReport:
        """Enroll every labelled group's best faces and delete those groups."""
        report = CommitReport()
        by_name: dict[str, list[GroupView]] = {}
        for view in self.groups():
            if view.name:
                by_name.setdefault(view.name, []).append(view)
            else:
                report.left += 1
        for name, views in by_name.items():
            faces = sorted(
                (f for v in views for f in v.faces), key=lambda f: (-f.candidate.quality, f.cid)
            )
            chosen = faces[:best_per_person]
            person_id = people.get_or_create(name)
            for model in sorted({f.model for f in chosen}):
                of_model = [f for f in chosen if f.model == model]
                vectors = np.stack([f.candidate.embedding for f in of_model])
                face_ids = index_for(model).insert(person_id, vectors)
                people.add_faces(person_id, model, len(face_ids))
                report.enrolled[name] = report.enrolled.get(name, 0) + len(face_ids)
                # the face library shows enrolled faces: the review's thumbnail becomes theirs
                for face_id, f in zip(face_ids, of_model, strict=True):
                    thumbnails.store(self.redis, person_id, str(face_id), f.candidate.thumbnail)
            # the vectors (and the enrolled faces' thumbnails) are in; nothing else of these faces stays
            pipe = self.redis.pipeline()
            self.store.drop_candidates(pipe, faces)
            for v in views:
                self.store.drop_group(pipe, v.group)
            pipe.execute()
            report.dropped += len(faces)
            log.info("enrolled %s: %d of %d face(s)", name, len(chosen), len(faces))
        if by_name:
            self._forget()
        return report

    def erase_person(self, name: str) -> int:
        """A person erased from the gallery: groups labelled with the name go (faces and all), and
        no face under review keeps the name as a suggestion. Returns the faces dropped."""
        dropped = 0
        for view in self.groups():
            if view.name == name:
                dropped += self.reject(view.group)
                continue
            c = self.store.collection
            pipe = self.redis.pipeline()
            for f in view.faces:
                if f.candidate.suggested == name:
                    pipe.hset(keys.index_candidate(c, f.cid), mapping={"suggested": "", "score": 0})
            pipe.execute()
        return dropped

    def erase_all(self) -> int:
        """A collection erased: every job, candidate and group of its index mode; returns the keys
        deleted."""
        found = list(self.redis.scan_iter(keys.index_pattern(self.store.collection), count=500))
        for start in range(0, len(found), 500):
            self.redis.delete(*found[start : start + 500])
        if found:
            self._forget()
        return len(found)

    def _forget(self) -> None:
        """Deleted thumbnails also leave the Redis AOF (a rewrite keeps only what is live)."""
        try:
            self.redis.bgrewriteaof()
        except redis.ResponseError as exc:  # one already running, or a managed Redis refuses
            log.warning("deleted faces stay in the Redis AOF until it is rewritten: %s", exc)
