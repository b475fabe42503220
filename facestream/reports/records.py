"""Where reports read result records from: saved JSON-lines files, or the results stream."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgpack

from config.errors import ConfigError
from workers import result_streams
from workers.bus import FIELD

log = logging.getLogger(__name__)


def read_jsonl(path: Path) -> Iterator[dict]:
    """The records of a ``run --out`` file; a line that is not a JSON object is an error that
    names the file and the line (a report from half a file would be silently wrong)."""
    if not path.is_file():
        raise ConfigError(f"results file {path}: expected a JSON-lines file, got no such file")
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"results file {path}, line {n}: expected a JSON object, got {exc}"
                ) from None
            if not isinstance(record, dict):
                raise ConfigError(
                    f"results file {path}, line {n}: expected a JSON object, "
                    f"got {type(record).__name__}"
                )
            yield record


def read_stream(client) -> Iterator[dict]:
    """Every record still held by the results streams (their retention is ``bus.results_maxlen``
    each), every shard's, in id order."""
    for _stream, eid, fields in result_streams.scan(client):
        try:
            yield msgpack.unpackb(fields[FIELD], raw=False)
        except (KeyError, ValueError, msgpack.ExtraData) as exc:
            log.warning("skipping unreadable result %s: %s", eid, exc)


def faces(records: Iterable[dict], camera: str | None = None, run: str | None = None) -> list[dict]:
    """The face records (not lifecycle events) of one camera and one run, when given."""
    return [
        r
        for r in records
        if "event" not in r
        and (camera is None or r.get("camera") == camera)
        and (run is None or r.get("run") == run)
    ]
