"""What the API's routes need, built once per server process and passed to the app factory."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from config.settings import Settings
from facestream.apikeys import ApiKeys
from facestream.engine import FaceEngine
from facestream.services import Services
from workers.gallery.collections import Collections, Gallery

log = logging.getLogger(__name__)


@dataclass
class ApiContext:
    settings: Settings
    services: Services
    # builds the face engine; called once, on the first request that needs the models
    engine_factory: Callable[[Settings], FaceEngine] = FaceEngine
    _engine: FaceEngine | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def keys(self) -> ApiKeys:
        return ApiKeys(self.services.redis)

    @property
    def collections(self) -> Collections:
        return Collections(self.services.redis)

    def gallery(self, collection: str) -> Gallery:
        return self.services.gallery(collection)

    def engine(self) -> FaceEngine:
        """The models, loaded once per process (called from a worker thread, never the event
        loop: loading takes seconds)."""
        with self._lock:
            if self._engine is None:
                log.info("loading the face models")
                self._engine = self.engine_factory(self.settings)
            return self._engine
