"""``python -m facestream.keep_servers DATA_DIR``: the embedded servers of ``facestream up``, kept.

``up`` starts Valkey and milvus-lite and leaves them running after it exits; supervisord runs this
program next to the workers so that a server that dies is restarted like a worker would be: on
the same port or socket, over the same data (facestream/keeper.py). It follows the records in
``<data_dir>/stack``, so servers that another command restarts or ``up`` starts anew are picked up;
it never stops a server (``facestream down`` does, after supervisord has stopped this program).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from config.settings import Settings
from facestream import server_records
from facestream.keeper import CHECK_EVERY_S, ServerKeeper, server_alive
from facestream.stack import EmbeddedStack
from facestream.stopping import StopRequest

log = logging.getLogger("facestream.keep_servers")  # __main__ when run with -m
NAMES = ("redis", "milvus")


def keep(data_dir: Path, request: StopRequest) -> int:
    """Check the recorded servers until a stop is requested; the number of restarts."""
    stack = EmbeddedStack(Settings(data_dir=data_dir, redis_url=None, milvus_uri=None))
    keeper = ServerKeeper(stack.restart)
    stack_dir = Path(data_dir).expanduser().resolve() / "stack"
    while not request.requested:
        for name in NAMES:
            record = server_records.load_record(stack_dir / f"{name}.json")
            known = {s.name: s for s in keeper.servers()}.get(name)
            if record is None:
                continue  # external URLs, or stopped by `down`: nothing to keep
            if known is None or (known.pid != record.pid and server_alive(record)):
                # a server started or restarted by someone else (a new `up`, a `run`): follow it
                log.info("keeping embedded %s (pid %d) at %s", name, record.pid, record.url)
                keeper.watch(record)
        keeper.check()
        request.wait(CHECK_EVERY_S)
    return keeper.restarts


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m facestream.keep_servers DATA_DIR", file=sys.stderr)
        return 2
    logging.basicConfig(
        level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    with StopRequest() as request:
        restarts = keep(Path(args[0]), request)
    log.info("stopped after %d restart(s); the servers keep running", restarts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
