"""Index jobs: a record in Redis with per-file progress, resumable by any process.

A job lists its files up front (state ``queued``); running it takes each file not
yet done, writes its candidates and marks the file done in one transaction, so a
process killed mid-job loses at most the file it was on and a rerun writes the
same candidate ids again (``candidate_id``): nothing is duplicated. A file that
cannot be read is marked with the reason and skipped. When every file is done the
job's candidates are clustered into review groups in one transaction
(state ``review``). Jobs are also announced on a stream (``keys.INDEX_JOBS``) for
worker processes to pick up (facestream/indexing/worker.py).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import redis

from config.errors import ConfigError, FacestreamError
from config.settings import Settings
from facestream.engine import FaceEngine
from facestream.indexing.candidates import Candidate, Suggester, photo_candidates
from facestream.indexing.clustering import cluster_faces
from facestream.indexing.sources import kind_of
from facestream.indexing.store import ReviewStore, candidate_fields
from workers import keys
from workers.replies import text, text_map

log = logging.getLogger(__name__)
QUEUED, RUNNING, REVIEW = "queued", "running", "review"
DONE_PREFIX, ERROR_PREFIX = "done:", "error:"

# (file, index of the file, files in all): called before each file
Progress = Callable[[str, int, int], None]


@dataclass
class JobStatus:
    job: str
    state: str
    model: str
    total: int
    done: int  # files finished, failed ones included
    candidates: int
    groups: int
    failed: dict[str, str] = field(default_factory=dict)  # file -> why it was skipped
    notes: dict[str, str] = field(default_factory=dict)  # file -> something worth saying


class IndexJobs:
    def __init__(self, client: redis.Redis, collection: str = "default"):
        self.redis = client
        self.collection = collection
        self.store = ReviewStore(client, collection)

    def create(self, files: list[str], model: str, announce: bool = True) -> str:
        """A queued job over ``files`` (see sources.expand) whose faces ``model`` embeds."""
        if not files:
            raise ConfigError("index: expected at least one photo or video, got none")
        job = "j-" + secrets.token_hex(6)
        c = self.collection
        now = time.time()
        pipe = self.redis.pipeline()
        pipe.hset(
            keys.index_job(c, job),
            mapping={"state": QUEUED, "model": model, "created": now, "total": len(files)},
        )
        pipe.hset(keys.index_job_files(c, job), mapping={f: "" for f in files})
        pipe.zadd(keys.index_jobs_of(c), {job: now})
        if announce:
            pipe.xadd(keys.INDEX_JOBS, {"collection": c, "job": job})
        pipe.execute()
        return job

    def status(self, job: str) -> JobStatus:
        c = self.collection
        info = text_map(self.redis.hgetall(keys.index_job(c, job)))
        if not info:
            raise ConfigError(f"job: expected an index job of collection {c!r}, got {job!r}")
        files = text_map(self.redis.hgetall(keys.index_job_files(c, job)))
        failed = {f: s[len(ERROR_PREFIX) :] for f, s in files.items() if s.startswith(ERROR_PREFIX)}
        notes = {
            f: s.split(":", 2)[2]
            for f, s in files.items()
            if s.startswith(DONE_PREFIX) and s.split(":", 2)[2:] != [""]
        }
        return JobStatus(
            job=job,
            state=info["state"],
            model=info["model"],
            total=int(info["total"]),
            done=sum(1 for s in files.values() if s),
            candidates=int(self.redis.scard(keys.index_job_candidates(c, job))),
            groups=int(info.get("groups", 0)),
            failed=failed,
            notes=notes,
        )

    def jobs(self) -> list[str]:
        found = cast(list[bytes], self.redis.zrange(keys.index_jobs_of(self.collection), 0, -1))
        return [text(j) for j in found]

    def todo(self, job: str) -> list[str]:
        files = text_map(self.redis.hgetall(keys.index_job_files(self.collection, job)))
        return [f for f, s in files.items() if not s]

    def run(
        self,
        job: str,
        engine: FaceEngine,
        settings: Settings,
        threshold: float,
        suggester: Suggester | None = None,
        progress: Progress | None = None,
    ) -> JobStatus:
        """Index the files not done yet, then group the job's candidates (idempotent)."""
        status = self.status(job)
        if status.model != engine.embedder.name:
            raise ConfigError(
                f"job {job}: expected the embedder {status.model!r} it was created with, "
                f"got {engine.embedder.name!r}"
            )
        if status.state == REVIEW:
            return status
        c = self.collection
        self.redis.hset(keys.index_job(c, job), "state", RUNNING)
        files = text_map(self.redis.hgetall(keys.index_job_files(c, job)))
        for n, path in enumerate(files, 1):
            if files[path]:
                continue
            if progress:
                progress(path, n, len(files))
            try:
                found, note = self._candidates(engine, path, settings, suggester)
            except FacestreamError as exc:
                log.warning("index job %s: skipped %s: %s", job, path, exc)
                self.redis.hset(keys.index_job_files(c, job), path, ERROR_PREFIX + str(exc))
                continue
            self._save(job, path, found, engine.embedder.name, note)
        self.group(job, threshold, settings.index.linkage)
        return self.status(job)

    def _candidates(
        self, engine: FaceEngine, path: str, settings: Settings, suggester: Suggester | None
    ) -> tuple[list[Candidate], str]:
        """A file's candidates, and a note worth reporting ('' when none)."""
        if kind_of(path) != "video":
            return photo_candidates(engine, path, suggester), ""
        from facestream.indexing.video import video_candidates

        got = video_candidates(
            engine, path, settings.index, settings.track, settings.scene_cut_threshold, suggester
        )
        note = ""
        if got.declared and got.frames < got.declared:
            note = f"read {got.frames} of the {got.declared} frames it declares (truncated?)"
        return got.candidates, note

    def _save(self, job: str, path: str, found: list[Candidate], model: str, note: str) -> None:
        c = self.collection
        pipe = self.redis.pipeline()  # MULTI/EXEC: the file's faces and its 'done' together
        for cand in found:
            pipe.hset(keys.index_candidate(c, cand.cid), mapping=candidate_fields(cand, job, model))
            pipe.sadd(keys.index_job_candidates(c, job), cand.cid)
        pipe.hset(keys.index_job_files(c, job), path, f"{DONE_PREFIX}{len(found)}:{note}")
        pipe.execute()

    def group(self, job: str, threshold: float, linkage: str) -> int:
        """Cluster the job's candidates into review groups once; returns the groups made."""
        c = self.collection
        if text(self.redis.hget(keys.index_job(c, job), "state") or b"") == REVIEW:
            return 0
        faces = self.store.job_candidates(job)
        groups: dict[int, list[str]] = {}
        if faces:
            vectors = np.stack([f.candidate.embedding for f in faces])
            labels = cluster_faces(
                vectors,
                [f.candidate.track for f in faces],
                threshold,
                linkage,
                [f.candidate.seen for f in faces],
            )
            for face, label in zip(faces, labels.tolist(), strict=True):
                groups.setdefault(label, []).append(face.cid)
        names = self.store.new_group_ids(len(groups))
        pipe = self.redis.pipeline()
        for name, cids in zip(names, groups.values(), strict=True):
            self.store.add_group(pipe, name, job, cids)
        pipe.hset(keys.index_job(c, job), mapping={"state": REVIEW, "groups": len(groups)})
        pipe.execute()
        log.info("index job %s: %d face(s) in %d group(s)", job, len(faces), len(groups))
        return len(groups)
