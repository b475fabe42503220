"""A real worker process with a slow handler, for the shutdown tests: python -m tests.support.slow_worker URL SLEEP_S."""

from __future__ import annotations

import logging
import sys
import time

import redis

from config.settings import Settings
from workers.bus import RedisStreamBus
from workers.handler import Handler
from workers.runtime import Worker

IN, OUT, GROUP = "fs:test:in", "fs:test:out", "slow"


class SlowHandler(Handler):
    kind = "slow"
    group = GROUP

    def __init__(self, sleep_s: float):
        self.sleep_s = sleep_s

    def input_streams(self) -> list[str]:
        return [IN]

    def handle(self, msg):
        time.sleep(self.sleep_s)
        return [(OUT, msg)]


def main() -> None:
    logging.basicConfig(level="INFO", stream=sys.stderr)
    client = redis.Redis.from_url(sys.argv[1])
    settings = Settings(redis_url=sys.argv[1], milvus_uri="http://unused:1", bus={"block_ms": 100})
    worker = Worker(
        RedisStreamBus(client),
        SlowHandler(float(sys.argv[2])),
        settings.bus,
        client=client,
        consumer="slow-worker",
    )
    worker.install_signal_handlers()
    worker.run()


if __name__ == "__main__":
    main()
