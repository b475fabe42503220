"""One runtime for every worker kind: consume -> handle -> publish -> ack.

Delivery is at-least-once: an entry is acked only after its outputs are
published. Entries left pending by a dead consumer are reclaimed with
XAUTOCLAIM after ``claim_idle_ms``; an entry delivered more than
``max_deliveries`` times, or one that cannot be decoded, goes to the dead-letter
stream with the error and is acked, so one poison message never stops a stage.
SIGTERM/SIGINT finish the current batch and exit; a second signal exits at once.

A lost Redis (restart, network) is retried forever with capped exponential
backoff and jitter; after reconnecting, the worker first re-reads its own
pending entries (a batch cut short by the outage), and re-creates consumer
groups that a restart lost. Live frames older than their ``max_age_s`` are
handed to the handler's ``stale`` hook instead (counted when the hook changes
them), so a slow stage never falls further and further behind a live camera.
The hooks (``warm_up``, ``prepare``, ``stale``, ``idle``, ``commit``, ``committed``) are
declared, as no-ops, by ``workers.handler.Handler``.
"""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import dataclass
from typing import Any

import redis

from config.errors import MessageError
from config.sections import BusSettings
from workers import codec, health, keys, progress, queues
from workers.backoff import REDIS_DOWN, Backoff
from workers.bus import Bus, Entry
from workers.handler import Handler, NotYet, Output
from workers.held import Held
from workers.memory import release_free_memory
from workers.messages import FRAME, FrameMsg
from workers.metrics import StageObserver
from workers.replies import hash_fields
from workers.superseded import Superseded

log = logging.getLogger(__name__)
# how often the input streams are listed again: a camera added while we run is read within this
# (plus one blocking read); a SMEMBERS per half second per worker costs nothing
STREAM_REFRESH_S = 0.5


@dataclass
class Counters:
    processed: int = 0
    dead_letters: int = 0
    trimmed: int = 0
    errors: int = 0
    stale: int = 0
    superseded: int = 0  # entries of a run that a newer run of its camera replaced (discarded)
    reconnects: int = 0


class Worker:
    def __init__(
        self,
        bus: Bus,
        handler: Handler,
        settings: BusSettings,
        client: redis.Redis | None = None,
        consumer: str | None = None,
        observer: StageObserver | None = None,
    ):
        self.bus = bus
        self.observer = observer or StageObserver(
            handler.kind
        )  # Prometheus series + health-key figures
        self.handler = handler
        self.settings = settings  # the bus section: reads, claims, deliveries, health
        self.redis = client  # for health keys and counters; None in unit tests
        self.consumer = consumer or health.consumer_name()
        self.counters = Counters()
        self.stopping = False
        self._streams: list[str] = []
        self._next_refresh = 0.0
        self._next_claim = 0.0
        self._next_health = 0.0
        self._recover = False  # after a Redis outage: re-read our own pending entries first
        self._take_over = handler.takes_over_pending  # at start: a dead predecessor's entries first
        self._superseded = Superseded(client)
        self._held = Held()  # entries the handler cannot handle yet, tried again from memory

    # --- lifecycle -----------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        def on_signal(signum: int, _frame: Any) -> None:
            if self.stopping:
                log.warning("second signal: exiting now")
                raise SystemExit(128 + signum)
            log.info("signal %d: finishing the current batch, then exiting", signum)
            self.stopping = True

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    def run(self) -> None:
        started = time.monotonic()
        self.handler.warm_up()
        log.info("%s worker warmed up in %.2f s", self.handler.kind, time.monotonic() - started)
        log.info("%s worker %s started", self.handler.kind, self.consumer)
        backoff = Backoff(0.2, self.settings.redis_retry_max_s)
        while not self.stopping:
            try:
                self.step()
                backoff.reset()
            except REDIS_DOWN as exc:
                self._lost_redis(exc, backoff)
            except redis.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                log.warning("consumer group gone (Redis restarted without it?): creating it again")
                self._streams, self._next_refresh = [], 0.0
        try:
            self._flush_stats()
            if self.redis is not None:
                health.clear(self.redis, self.handler.kind, self.consumer)
        except REDIS_DOWN:
            log.warning("Redis unreachable at shutdown: health key left to expire")
        log.info("%s worker %s stopped (%s)", self.handler.kind, self.consumer, self.counters)

    def _lost_redis(self, exc: Exception, backoff: Backoff) -> None:
        delay = backoff.next_delay()
        self.counters.reconnects += 1
        log.warning(
            "Redis unreachable (%s: %s): retrying in %.1f s (attempt %d)",
            type(exc).__name__,
            exc,
            delay,
            backoff.attempts,
        )
        self._recover = True
        self._streams, self._next_refresh = [], 0.0
        deadline = time.monotonic() + delay
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.1, delay))

    def step(self) -> int:
        """One poll of the bus; returns how many entries were handled."""
        now = time.monotonic()
        if now >= self._next_refresh:
            self._refresh_streams()
            self._next_refresh = now + STREAM_REFRESH_S
        entries: list[Entry] = []
        claimed = False
        if self._take_over and self._streams:
            for stream in self._streams:
                entries += self.bus.claim_idle(
                    stream, self.handler.group, self.consumer, 0, self.settings.read_count
                )
            claimed = self._take_over = bool(entries)
            if entries:
                log.warning("took over %d entries pending at start", len(entries))
        if not entries and now >= self._next_claim:
            self._next_claim = now + self.settings.claim_idle_ms / 2000
            for stream in self._streams:
                entries += self.bus.claim_idle(
                    stream,
                    self.handler.group,
                    self.consumer,
                    self.settings.claim_idle_ms,
                    self.settings.read_count,
                )
            if entries:
                claimed = True
                log.warning("reclaimed %d idle pending entries", len(entries))
        if not entries and self._streams and self._recover:
            entries = self.bus.read(
                self._streams,
                self.handler.group,
                self.consumer,
                self.settings.read_count,
                0,
                own_pending=True,
            )
            claimed = bool(entries)
            self._recover = bool(entries)  # until our pending list is empty
        if not entries and self._streams:
            entries = self.bus.read(
                self._streams,
                self.handler.group,
                self.consumer,
                self.settings.read_count,
                self.settings.block_ms,
            )
        elif not self._streams:
            time.sleep(self.settings.block_ms / 1000)
        self._superseded.new_batch()
        self._prepare(entries)
        for entry in entries:
            self._process(entry, check_deliveries=claimed)
            self._maybe_heartbeat()  # a batch of slow frames must not outlive the health key's TTL
        self._retry_held(bool(entries))
        self._publish(self.handler.idle())
        self._maybe_heartbeat()
        return len(entries)

    def _retry_held(self, progressed: bool) -> None:
        """Held entries again, in the order they came, for as long as handling one frees more."""
        while due := self._held.due(progressed):
            before = self.counters.processed
            for entry in due:
                self._process(entry)
            progressed = self.counters.processed > before
            if not progressed:
                return

    def _maybe_heartbeat(self) -> None:
        now = time.monotonic()
        if now >= self._next_health:
            self._heartbeat()
            release_free_memory()  # freed tensors' pages back to the OS: RSS stays flat (workers/memory.py)
            self._next_health = now + health.refresh_s(self.settings.health_ttl_s)

    def _prepare(self, entries: list[Entry]) -> None:
        """The handler sees a whole read at once (batched inference); handle() still runs per entry."""
        if not entries:
            return
        try:
            self.handler.prepare([e.payload for e in entries if e.payload is not None])
        except Exception:  # the per-entry path still runs, and retries/dead-letters as usual
            log.exception(
                "%s: batch preparation failed; handling entries one by one", self.handler.kind
            )

    # --- one entry --------------------------------------------------------------------
    def _process(self, entry: Entry, check_deliveries: bool = False) -> None:
        group = self.handler.group
        if entry.payload is None:
            # trimmed by MAXLEN while pending: nothing to process, nothing to retry
            self.counters.trimmed += 1
            self.observer.dropped("trimmed")
            self.bus.ack(entry.stream, group, [entry.id])
            return
        # only a reclaimed entry can have been delivered before: skip the XPENDING round trip otherwise
        if (
            check_deliveries
            and self.bus.deliveries(entry.stream, group, entry.id) > self.settings.max_deliveries
        ):
            self._dead_letter(entry, f"delivered more than {self.settings.max_deliveries} times")
            return
        try:
            msg = FrameMsg.from_bytes(entry.payload)
        except (
            Exception
        ) as exc:  # MessageError by contract; anything else is a decoder bug, still poison
            self._dead_letter(
                entry, str(exc) if isinstance(exc, MessageError) else f"{type(exc).__name__}: {exc}"
            )
            return
        if self._superseded(msg):  # a killed run's leftover: never processed into a newer run
            self.counters.superseded += 1
            self.observer.dropped("superseded")
            self.bus.ack(entry.stream, group, [entry.id])
            return
        started = time.monotonic()
        msg = self._unless_stale(msg)
        try:
            outputs = self.handler.handle(msg)
        except MessageError as exc:
            self._dead_letter(entry, str(exc))
            return
        except NotYet as exc:  # pending still; tried again from memory, no delivery spent
            self._held.hold(entry, str(exc))
            return
        except REDIS_DOWN:
            raise  # not the message's fault: the run loop reconnects, the entry stays pending
        except Exception:
            # left pending on purpose: reclaimed and retried, dead-lettered after max_deliveries
            self.counters.errors += 1
            self.observer.error()
            log.exception(
                "%s failed on %s %s (camera %s seq %d)",
                self.handler.kind,
                entry.stream,
                entry.id,
                msg.camera,
                msg.seq,
            )
            return
        try:
            if not self.handler.commit(msg, outputs):
                self._publish(outputs)
                self.handler.committed(msg)
        except REDIS_DOWN:
            raise
        except NotYet as exc:  # redone against a newer state (another matcher's), which holds it
            self._held.hold(entry, str(exc))
            return
        except Exception as exc:  # an output that cannot be encoded or counted: the input's fault
            log.exception("%s: outputs of %s %s failed", self.handler.kind, entry.stream, entry.id)
            self._dead_letter(entry, f"outputs failed: {type(exc).__name__}: {exc}")
            return
        self.bus.ack(entry.stream, group, [entry.id])
        self.counters.processed += 1
        self.observer.handled(msg, outputs, time.monotonic() - started)

    def _unless_stale(self, msg: FrameMsg) -> FrameMsg:
        if (
            msg.max_age_s is None
            or msg.status != FRAME
            or time.time() - msg.capture_time <= msg.max_age_s
        ):
            return msg
        instead = self.handler.stale(msg)
        if instead is not msg:  # a stage that handles stale frames as usual counts none
            self.counters.stale += 1
        return instead

    def _publish(self, outputs: list[Output]) -> None:
        items: list[tuple[str, bytes, int | None]] = []
        for stream, out in outputs:
            payload = out.to_bytes() if isinstance(out, FrameMsg) else codec.encode(out)
            maxlen = (
                self.settings.results_maxlen
                if stream in keys.every_shard(keys.RESULTS)
                else self.settings.stream_maxlen
            )
            items.append((stream, payload, maxlen))
        if len(items) > 1:  # one round trip for a frame's records
            self.bus.publish_many(items)
        elif items:
            [(only, data, limit)] = items
            self.bus.publish(only, data, maxlen=limit)

    def _dead_letter(self, entry: Entry, error: str) -> None:
        log.error("dead-lettering %s %s: %s", entry.stream, entry.id, error)
        self.bus.publish(
            keys.DEAD,
            codec.encode(
                {
                    "stream": entry.stream,
                    "group": self.handler.group,
                    "id": entry.id,
                    "error": error,
                    "consumer": self.consumer,
                    "time": time.time(),
                    "payload": entry.payload or b"",
                }
            ),
            maxlen=self.settings.stream_maxlen,
        )
        self.bus.ack(entry.stream, self.handler.group, [entry.id])
        self.counters.dead_letters += 1
        self.observer.dead_letter()
        if self.redis is not None and entry.payload:
            # a frame that will never reach the matcher is accounted for here, so a file run ends
            reason = f"dead_letter:{self.handler.kind}"
            progress.count_dead_letter(self.redis, entry.payload, reason)

    # --- housekeeping -------------------------------------------------------------------
    def _refresh_streams(self) -> None:
        streams = self.handler.input_streams()
        for stream in set(streams) - set(self._streams):
            self.bus.ensure_group(stream, self.handler.group)
        self._streams = streams

    def _heartbeat(self) -> None:
        if self.redis is None:
            return
        self.observer.queues(
            [g for s in self._streams for g in queues.groups(self.redis, s, self.handler.group)]
        )
        health.beat(
            self.redis,
            self.handler.kind,
            self.consumer,
            self.settings.health_ttl_s,
            **self.counters.__dict__,
            **self.observer.summary(),
            **self.handler.health(),
        )
        self._flush_stats()

    def _flush_stats(self) -> None:
        if self.redis is not None:
            self.redis.hset(
                keys.stats(f"{self.handler.kind}:{self.consumer}"),
                mapping=hash_fields(self.counters.__dict__),
            )
