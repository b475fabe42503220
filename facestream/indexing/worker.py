"""Index worker processes: take jobs from the ``keys.INDEX_JOBS`` stream and run them.

Any number of these share the consumer group ``index``. A job can take minutes,
so while one runs a thread keeps its stream entry fresh (XCLAIM to itself); an
entry left idle longer than ``bus.claim_idle_ms`` belongs to a worker that died
(SIGKILL, a lost host) and the next free worker claims it and resumes the job:
files already done are skipped and candidate ids are stable, so nothing is
duplicated (jobs.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis

from config.errors import FacestreamError
from config.settings import Settings
from facestream.engine import FaceEngine
from facestream.indexing.candidates import Suggester
from facestream.indexing.jobs import IndexJobs
from workers import keys
from workers.health import consumer_name
from workers.replies import stream_reply, text, text_map

log = logging.getLogger(__name__)


class IndexWorker:
    def __init__(
        self,
        client: redis.Redis,
        engine: FaceEngine,
        settings: Settings,
        threshold: float,
        suggester_for: Callable[[str], Suggester | None],
        consumer: str | None = None,
    ):
        self.redis = client
        self.engine = engine
        self.settings = settings
        self.threshold = threshold
        self.suggester_for = suggester_for  # collection -> its gallery's suggester
        self.consumer = consumer or consumer_name()
        self.stopping = False
        try:
            client.xgroup_create(keys.INDEX_JOBS, keys.GROUP_INDEX, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def run(self) -> None:
        log.info("index worker %s: waiting for jobs on %s", self.consumer, keys.INDEX_JOBS)
        while not self.stopping:
            self.step()

    def step(self) -> bool:
        """Run one job (a dead worker's first); False when none came within the block time."""
        entry = self._claim() or self._read()
        if entry is None:
            return False
        entry_id, fields = entry
        collection, job = fields.get("collection", "default"), fields.get("job", "")
        beat = threading.Event()
        keeper = threading.Thread(target=self._keep, args=(entry_id, beat), daemon=True)
        keeper.start()
        try:
            status = IndexJobs(self.redis, collection).run(
                job,
                self.engine,
                self.settings,
                self.threshold,
                self.suggester_for(collection),
            )
            log.info(
                "index job %s/%s: %d file(s), %d face(s), %d group(s), %d skipped",
                collection,
                job,
                status.total,
                status.candidates,
                status.groups,
                len(status.failed),
            )
        except FacestreamError as exc:  # a job that cannot run (gone, another embedder)
            log.error("index job %s/%s: %s", collection, job, exc)
        finally:
            beat.set()
            keeper.join()
        self.redis.xack(keys.INDEX_JOBS, keys.GROUP_INDEX, entry_id)
        return True

    def _claim(self) -> tuple[str, dict[str, str]] | None:
        reply = self.redis.xautoclaim(
            keys.INDEX_JOBS,
            keys.GROUP_INDEX,
            self.consumer,
            min_idle_time=self.settings.bus.claim_idle_ms,
            start_id="0-0",
            count=1,
        )
        claimed = reply[1] if len(reply) > 1 else []
        for entry_id, fields in claimed:
            if fields:  # a trimmed entry comes back empty
                log.warning("index job entry %s: claimed from a dead worker", text(entry_id))
                return text(entry_id), text_map(fields)
            self.redis.xack(keys.INDEX_JOBS, keys.GROUP_INDEX, entry_id)
        return None

    def _read(self) -> tuple[str, dict[str, str]] | None:
        reply = self.redis.xreadgroup(
            keys.GROUP_INDEX,
            self.consumer,
            {keys.INDEX_JOBS: ">"},
            count=1,
            block=self.settings.bus.block_ms,
        )
        for _stream, entries in stream_reply(reply):
            for entry_id, fields in entries:
                return text(entry_id), text_map(fields)
        return None

    def _keep(self, entry_id: str, done: threading.Event) -> None:
        """While the job runs: reset its entry's idle time so that no other worker claims it."""
        every_s = self.settings.bus.claim_idle_ms / 3000
        while not done.wait(every_s):
            try:
                self.redis.xclaim(
                    keys.INDEX_JOBS,
                    keys.GROUP_INDEX,
                    self.consumer,
                    min_idle_time=0,
                    message_ids=[entry_id],
                    justid=True,
                )
            except redis.RedisError as exc:
                log.warning("index job entry %s: could not keep it claimed: %s", entry_id, exc)


def run_index_worker(settings: Settings, endpoints) -> None:
    from facestream.services import Services
    from facestream.stopping import StopRequest

    services = Services(settings, endpoints)
    engine = FaceEngine(settings)
    model = engine.embedder.name
    suggesters: dict[str, Suggester] = {}

    def suggester_for(collection: str) -> Suggester:  # each job suggests from its own collection
        if collection not in suggesters:
            gallery = services.gallery(collection)
            suggesters[collection] = Suggester(
                gallery.people,
                gallery.index(model),
                services.threshold(model),
                settings.match.margin,
            )
        return suggesters[collection]

    worker = IndexWorker(services.redis, engine, settings, services.threshold(model), suggester_for)

    def finish_the_job() -> None:  # a stop lets the job in hand finish; a second one aborts
        worker.stopping = True

    with StopRequest(on_request=finish_the_job):
        worker.run()
