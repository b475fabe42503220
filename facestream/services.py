"""Wiring: settings + endpoints -> clients, gallery and the handler of each worker kind.

The only place where concrete classes are chosen; everything else gets its
dependencies passed in.
"""

from __future__ import annotations

import logging

import redis
from pymilvus import MilvusClient

from config.errors import ConfigError, StackError
from config.settings import Settings
from facestream.stack import Endpoints
from workers import keys
from workers.bus import RedisStreamBus
from workers.gallery import People, VectorIndex
from workers.models.loader import collection_name, embedder_dims

log = logging.getLogger(__name__)
WORKER_KINDS = ("detect", "track", "embed", "match")
DEFAULT_THRESHOLDS = {"dlib": 0.92, "facenet": 0.6}  # the embedders' default_threshold, without loading them


def connect_redis(url: str) -> redis.Redis:
    client = redis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise StackError(f"Redis at {url}: not reachable ({exc})") from exc
    return client


def connect_milvus(uri: str) -> MilvusClient:
    try:
        return MilvusClient(uri=uri, timeout=10)
    except Exception as exc:  # pymilvus raises MilvusException and gRPC errors
        raise StackError(f"Milvus at {uri}: not reachable ({exc})") from exc


class Services:
    """Lazily opened clients for one process."""

    def __init__(self, settings: Settings, endpoints: Endpoints):
        self.settings = settings
        self.endpoints = endpoints
        self._redis: redis.Redis | None = None
        self._milvus: MilvusClient | None = None
        self._indexes: dict[str, VectorIndex] = {}

    @property
    def redis(self) -> redis.Redis:
        if self._redis is None:
            self._redis = connect_redis(self.endpoints.redis_url)
        return self._redis

    @property
    def milvus(self) -> MilvusClient:
        if self._milvus is None:
            self._milvus = connect_milvus(self.endpoints.milvus_uri)
        return self._milvus

    @property
    def bus(self) -> RedisStreamBus:
        return RedisStreamBus(self.redis)

    @property
    def people(self) -> People:
        return People(self.redis)

    def index(self, model: str) -> VectorIndex:
        if model not in self._indexes:
            dim = embedder_dims(model)
            self._indexes[model] = VectorIndex(self.milvus, collection_name(model, dim), dim)
        return self._indexes[model]

    def threshold(self, model: str) -> float:
        return self.settings.match_threshold or DEFAULT_THRESHOLDS[model]

    def cameras(self) -> list[str]:
        return sorted(c.decode() for c in self.redis.smembers(keys.CAMERAS))

    def handler(self, kind: str):
        """The stage handler of a worker kind, with its models loaded."""
        s = self.settings
        if kind == "detect":
            from workers.detect import DetectHandler
            from workers.models.device import resolve_device
            from workers.models.mtcnn import MtcnnDetector

            device = resolve_device(s.device, s.torch_threads)
            detector = MtcnnDetector(device, s.min_face_px, s.detect_max_side_px, s.detect_min_confidence,
                                     half=s.gpu_half)
            batch = s.detect_batch_frames or (8 if device.startswith("cuda") else 1)
            return DetectHandler(detector, self.cameras, s.jpeg_quality, every_n=s.detect_every_n,
                                 cut_threshold=s.scene_cut_threshold, batch_frames=batch,
                                 max_every_n=s.detect_max_every_n, lag_budget_s=s.detect_lag_budget_ms / 1000)
        if kind == "track":
            from workers.track import TrackHandler

            return TrackHandler(s)
        if kind == "embed":
            from workers.embed import EmbedHandler
            from workers.models.device import resolve_device
            from workers.models.loader import load_embedder

            device = resolve_device(s.device, s.torch_threads)
            return EmbedHandler(load_embedder(s, device), batch_frames=8 if device.startswith("cuda") else 1)
        if kind == "match":
            from workers.match import MatchHandler

            return MatchHandler(self.redis, self.people, self.index, s, lambda m: DEFAULT_THRESHOLDS[m])
        raise ConfigError(f"worker kind: expected one of {WORKER_KINDS}, got {kind!r}")


def run_worker(kind: str, settings: Settings, endpoints: Endpoints) -> None:
    from workers.runtime import Worker

    services = Services(settings, endpoints)
    handler = services.handler(kind)
    worker = Worker(services.bus, handler, settings, client=services.redis)
    worker.install_signal_handlers()
    worker.run()
