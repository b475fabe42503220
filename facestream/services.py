"""Wiring: settings + endpoints -> clients, gallery and the handler of each worker kind.

The only place where concrete classes are chosen; everything else gets its
dependencies passed in.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import TYPE_CHECKING, cast

import redis
from redis.cluster import RedisCluster

if TYPE_CHECKING:
    from pymilvus import MilvusClient

    from workers.gallery.collections import Gallery
    from workers.gallery.vectors import VectorIndex

from config.errors import ConfigError, StackError
from config.redact import redact_url, register, register_url, scrub
from config.settings import Settings
from facestream import server_probes
from facestream.stack import Endpoints
from facestream.stopping import StopRequest
from workers import keys
from workers.bus import RedisStreamBus
from workers.gallery.people import People
from workers.models.registry import spec
from workers.replies import texts

log = logging.getLogger(__name__)
WORKER_KINDS = ("detect", "track", "embed", "match")


def redis_options(url: str, ca_file: Path | None = None) -> dict:
    """Keyword arguments for ``redis.Redis.from_url``: TLS for ``rediss://`` (CA file optional)."""
    options: dict = {"socket_connect_timeout": 5, "health_check_interval": 30}
    if url.startswith("rediss://") and ca_file is not None:
        options["ssl_ca_certs"] = str(ca_file)
    return options


def connect_redis(url: str, ca_file: Path | None = None, cluster: bool = False) -> redis.Redis:
    """A checked client; ``redis://[user:password@]host``, ``rediss://`` (TLS) or ``unix://`` URLs;
    with ``cluster``, the URL names one node of a Redis Cluster and the client finds the rest."""
    register_url(url)
    if cluster:
        # the same commands as one server's client, routed by key slot (workers/keys.py puts
        # whatever one script or read touches in one slot); typed as one for the callers
        client = cast(redis.Redis, RedisCluster.from_url(url, **redis_options(url, ca_file)))
    else:
        client = redis.Redis.from_url(url, **redis_options(url, ca_file))
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        raise StackError(f"Redis at {redact_url(url)}: not reachable ({scrub(str(exc))})") from None
    return client


def connect_redis_async(url: str, ca_file: Path | None = None, cluster: bool = False):
    """An asyncio client (the server's event streams), unchecked: its first command says."""
    import redis.asyncio as aioredis  # the asyncio client is the HTTP server's only

    options = redis_options(url, ca_file)
    if cluster:
        return cast(aioredis.Redis, aioredis.RedisCluster.from_url(url, **options))
    return aioredis.Redis.from_url(url, **options)


def milvus_options(settings: Settings) -> dict:
    """Keyword arguments for ``MilvusClient``: token, and TLS for https:// URIs or a CA file."""
    options: dict = {}
    if settings.milvus_token is not None:
        options["token"] = settings.milvus_token.get_secret_value()
    if settings.milvus_tls_ca_file is not None:
        options.update(secure=True, server_pem_path=str(settings.milvus_tls_ca_file))
    if settings.milvus_tls_server_name:
        options["server_name"] = settings.milvus_tls_server_name
    return options


def connect_milvus(uri: str, options: dict | None = None) -> MilvusClient:
    options = options or {}
    register_url(uri)
    register(options.get("token"))
    try:
        return server_probes.open_milvus_client(uri, timeout=10, **options)
    except Exception as exc:  # pymilvus raises MilvusException and gRPC errors
        from workers.gallery.vectors import refusal  # pymilvus is loaded by now

        reason = refusal(exc)  # pymilvus words a rejected token as "server unavailable"
        if reason is not None:
            raise StackError(
                f"Milvus at {redact_url(uri)}: refused the client: expected a valid token "
                f"(FACESTREAM_MILVUS_TOKEN, user:password), got {scrub(reason)}"
            ) from None
        raise StackError(
            f"Milvus at {redact_url(uri)}: not reachable ({scrub(str(exc))})"
        ) from None


class Services:
    """Lazily opened clients for one process."""

    def __init__(self, settings: Settings, endpoints: Endpoints, collection: str = "default"):
        self.settings = settings
        self.endpoints = endpoints
        self.collection = collection  # what people, index() and unknowns() act on
        self._redis: redis.Redis | None = None
        self._milvus: MilvusClient | None = None
        self._galleries: dict[str, Gallery] = {}

    @property
    def redis(self) -> redis.Redis:
        if self._redis is None:
            self._redis = connect_redis(
                self.endpoints.redis_url,
                self.settings.redis_tls_ca_file,
                self.settings.redis_cluster,
            )
        return self._redis

    @property
    def milvus(self) -> MilvusClient:
        if self._milvus is None:
            self._milvus = connect_milvus(self.endpoints.milvus_uri, milvus_options(self.settings))
        return self._milvus

    @property
    def bus(self) -> RedisStreamBus:
        return RedisStreamBus(self.redis)

    def gallery(self, collection: str | None = None) -> Gallery:
        """The people, vectors and unknown faces of a collection (default: this process's)."""
        name = collection or self.collection
        if name not in self._galleries:
            from workers.gallery.collections import Gallery

            self._galleries[name] = Gallery(self.redis, lambda: self.milvus, name, self.threshold)
        return self._galleries[name]

    @property
    def people(self) -> People:
        return self.gallery().people

    def index(self, model: str) -> VectorIndex:
        return self.gallery().index(model)

    def unknowns(self, model: str):
        """The unknown faces' collection of a model (stable ``unknown-...`` labels)."""
        return self.gallery().unknowns(model)

    def threshold(self, model: str) -> float:
        return self.settings.match.threshold or spec(model).threshold

    def cameras(self) -> list[str]:
        return sorted(texts(self.redis.smembers(keys.CAMERAS)))

    def handler(self, kind: str):
        """The stage handler of a worker kind, with its models loaded."""
        s = self.settings
        if kind == "detect":
            from workers.detect import DetectHandler
            from workers.models.device import resolve_device
            from workers.models.mtcnn import MtcnnDetector

            device = resolve_device(s.device, s.torch_threads)
            detector = MtcnnDetector(
                device,
                s.detect.min_face_px,
                s.detect.max_side_px,
                s.detect.min_confidence,
                half=s.gpu_half,
            )
            batch = s.detect.batch_frames or (8 if device.startswith("cuda") else 1)
            return DetectHandler(
                detector,
                self.cameras,
                s.jpeg_quality,
                every_n=s.detect.every_n,
                cut_threshold=s.scene_cut_threshold,
                batch_frames=batch,
                max_every_n=s.detect.max_every_n,
                lag_budget_s=s.detect.lag_budget_ms / 1000,
            )
        if kind == "track":
            from workers.track import TrackHandler
            from workers.track_state import TrackState

            state = TrackState(self.redis, s.bus.stream_maxlen)
            return TrackHandler(s.track, s.embed, s.scene_cut_threshold, state=state)
        if kind == "embed":
            from workers.embed import EmbedHandler
            from workers.models.device import resolve_device
            from workers.models.loader import load_embedder

            device = resolve_device(s.device, s.torch_threads)
            embedder = load_embedder(s, device)
            # the shots of several frames in one model call: what a GPU needs, and FaceNet on a
            # CPU costs half as much per face in batches of 16 (python -m bench.embedders); dlib
            # does not batch
            batched = device.startswith("cuda") or embedder.spec.family == "facenet"
            return EmbedHandler(embedder, batch_frames=8 if batched else 1)
        if kind == "match":
            from workers.gallery.collections import Collections
            from workers.match import MatchHandler
            from workers.match_state import MatchState

            registry = Collections(self.redis)
            return MatchHandler(
                self.redis,
                self.people,
                self.index,
                s,
                lambda m: spec(m).threshold,
                self.unknowns,
                MatchState(self.redis, s.bus.results_maxlen),
                gallery_of=lambda camera: self.gallery(registry.of_camera(camera)),
            )
        raise ConfigError(f"worker kind: expected one of {WORKER_KINDS}, got {kind!r}")


def run_worker(kind: str, settings: Settings, endpoints: Endpoints) -> None:
    from workers import metrics
    from workers.runtime import Worker

    services = Services(settings, endpoints)
    handler = services.handler(kind)
    observer = metrics.StageObserver(kind)
    port = metrics.serve(settings.metrics_host, settings.metrics_port)
    if port is not None:
        host = settings.metrics_host
        observer.endpoint = (
            f"{socket.gethostname() if host in ('0.0.0.0', '::', '') else host}:{port}"
        )
    worker = Worker(services.bus, handler, settings.bus, client=services.redis, observer=observer)

    def finish_the_batch() -> None:  # in the signal handler: a flag the worker's loop reads
        worker.stopping = True

    with StopRequest(on_request=finish_the_batch):  # the same two-step stop as every command
        worker.run()
