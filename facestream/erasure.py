"""Erasure of a person or a whole collection: nothing facestream controls keeps them.

A person's vectors (checked gone by a strongly consistent query), their name
and keys in Redis, their name in the result records still in the results
stream (a stream entry cannot be edited, so the records naming them are
deleted, and those written with an unknown label later labelled as them), which
is also where tracks are read from; then Redis rewrites its AOF (the old log
still holds the deleted values) and Milvus compacts (deleted rows stay in
segments until then).
"""

from __future__ import annotations

import logging
import time

import msgpack
import redis
from redis.cluster import RedisCluster

from config.errors import StackError
from facestream import thumbnails
from facestream.indexing.unknown_review import labels_of_person
from facestream.services import Services
from workers import keys, result_streams
from workers.bus import FIELD
from workers.gallery.collections import DEFAULT, Collections
from workers.models.registry import MODELS
from workers.replies import stream_entries, text

log = logging.getLogger(__name__)
SCAN_COUNT = 1000


def erase_person(services: Services, collection: str, person_id: str, finish: bool = True) -> bool:
    """False when the collection has no such person."""
    gallery = services.gallery(collection)
    person = gallery.people.get(person_id)
    if person is None:
        return False
    for model in MODELS:
        index = gallery.index(model)
        index.delete_person(person_id)
        left = index.faces(person_id)
        if left:
            raise StackError(
                f"erasing {person_id}: Milvus still returns {len(left)} vectors of {model}"
            )
    gallery.people.remove(person_id, person.name)
    thumbnails.forget(services.redis, person_id)
    # unknown labels labelled as the person: the records written with them were of this person
    labels = labels_of_person(services.redis, collection, person_id)
    if labels:
        services.redis.hdel(keys.unknown_became(collection), *labels)
    _forget_in_results(services.redis, collection, {person.name, *labels}, {person_id})
    _forget_match_states(services.redis, collection)
    if finish:
        compact(services, [index.collection for index in map(gallery.index, MODELS)])
    log.info("erased a person of collection %s", collection)  # no id: logs live in the data dir
    return True


def erase_collection(services: Services, collection: str) -> None:
    """Every person, vector, unknown label, camera binding and key of a collection."""
    client = services.redis
    gallery = services.gallery(collection)
    people = gallery.people.all()
    for person in people:
        erase_person(services, collection, person.person_id, finish=False)
    for raw in client.smembers(keys.unknowns(collection)):
        client.delete(keys.unknown(text(raw)))
    client.delete(
        keys.unknowns(collection),
        keys.unknown_became(collection),
        gallery.people.by_id,
        gallery.people.by_name,
    )
    milvus = services.milvus
    dropped = []
    for name in gallery.milvus_collections():
        if milvus.has_collection(name):
            milvus.drop_collection(name)
            dropped.append(name)
    for camera, bound in client.hgetall(keys.CAMERA_COLLECTIONS).items():
        if text(bound) == collection:
            client.hdel(keys.CAMERA_COLLECTIONS, camera)
    from facestream.apikeys import ApiKeys

    registry = ApiKeys(client)
    for key in registry.all():
        if key.collection == collection:
            registry.revoke(key.key_id)
    from facestream.indexing.review import Review

    Review(client, collection).erase_all()  # faces found in index mode, with their thumbnails
    if collection != DEFAULT:
        Collections(client).forget(collection)
    compact(services, [])
    log.info(
        "erased collection %s (%d people, %d Milvus collections)",
        collection,
        len(people),
        len(dropped),
    )


def _cameras_of(client: redis.Redis, collection: str) -> set[str] | None:
    """Cameras that watch with other collections (their records are not this collection's)."""
    bound = {text(c): text(v) for c, v in client.hgetall(keys.CAMERA_COLLECTIONS).items()}
    return {c for c, v in bound.items() if v != collection}


def _forget_match_states(client: redis.Redis, collection: str) -> None:
    """Drop the matcher's stored state of the collection's cameras: its tracks hold the erased
    person's id and embeddings. A running matcher sees its version gone, reloads nothing and
    starts those cameras' tracks afresh (workers/match_state.py)."""
    others = _cameras_of(client, collection) or set()
    for raw in client.scan_iter(match=keys.per_camera_pattern("match"), count=SCAN_COUNT):
        if keys.camera_in(text(raw)) not in others:
            client.delete(raw)


def _names_record(record: dict, names: set[str], ids: set[str]) -> bool:
    return (
        record.get("name") in names
        or record.get("person_id") in ids
        or record.get("label") in names
    )


def _forget_in_results(client: redis.Redis, collection: str, names: set[str], ids: set[str]) -> int:
    """Delete the result records that name the person (on cameras of this collection), from
    every shard's results stream."""
    others = _cameras_of(client, collection) or set()
    return sum(
        _forget_in_stream(client, stream, others, names, ids) for stream in result_streams.streams()
    )


def _forget_in_stream(
    client: redis.Redis, stream: str, others: set[str], names: set[str], ids: set[str]
) -> int:
    removed, start = 0, "-"
    while True:
        batch = stream_entries(client.xrange(stream, min=start, max="+", count=SCAN_COUNT))
        if not batch:
            break
        doomed = []
        for eid, fields in batch:
            try:
                record = msgpack.unpackb(fields[FIELD], raw=False)
            except (KeyError, ValueError, msgpack.UnpackException):
                continue
            if record.get("camera") in others:
                continue
            if _names_record(record, names, ids):
                doomed.append(eid)
        if doomed:
            removed += int(client.xdel(stream, *doomed))
        last = text(batch[-1][0])
        ms, seq = last.split("-")
        start = f"{ms}-{int(seq) + 1}"
        if len(batch) < SCAN_COUNT:
            break
    if removed:
        # XDEL only flags an entry; its bytes stay in the stream's listpack (and so in the AOF
        # rewrite) until the stream is rebuilt without it
        client.eval(REBUILD_STREAM, 2, stream, f"{stream}:rebuild")  # one slot: {N} in both
        log.info("removed %d result records naming an erased person from %s", removed, stream)
    return removed


# Copy the surviving entries (same ids) into a new stream, keep the last id and the consumer
# groups' positions, and put it in place: one atomic step, so no record is added meanwhile.
REBUILD_STREAM = """
local src, tmp = KEYS[1], KEYS[2]
redis.call('DEL', tmp)
redis.call('XGROUP', 'CREATE', tmp, 'rebuild', '$', 'MKSTREAM')
redis.call('XGROUP', 'DESTROY', tmp, 'rebuild')
local start = '-'
while true do
  local batch = redis.call('XRANGE', src, start, '+', 'COUNT', 1000)
  if #batch == 0 then break end
  for _, entry in ipairs(batch) do
    redis.call('XADD', tmp, entry[1], unpack(entry[2]))
  end
  start = '(' .. batch[#batch][1]
end
local info = redis.call('XINFO', 'STREAM', src)
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then redis.call('XSETID', tmp, info[i + 1]) end
end
for _, group in ipairs(redis.call('XINFO', 'GROUPS', src)) do
  local name, last
  for i = 1, #group, 2 do
    if group[i] == 'name' then name = group[i + 1] end
    if group[i] == 'last-delivered-id' then last = group[i + 1] end
  end
  redis.call('XGROUP', 'CREATE', tmp, name, last)
end
redis.call('RENAME', tmp, src)
return 1
"""


def compact(services: Services, collections: list[str], wait_s: float = 30.0) -> None:
    """Rewrite Redis' AOF and compact Milvus, so what was deleted leaves the files too."""
    client = services.redis
    for name in collections:
        try:
            if services.milvus.has_collection(name):
                # flush: milvus-lite keeps deleted rows in its write-ahead log until then
                services.milvus.flush(name)
                services.milvus.compact(name)
        except Exception as exc:  # noqa: BLE001 - milvus-lite has no compaction to ask for
            log.debug("Milvus compact of %s: %s", name, exc)
    # a cluster keeps an AOF per master: each rewrites its own (the replies come per node)
    everywhere: dict = {}
    if isinstance(client, RedisCluster):
        everywhere["target_nodes"] = client.get_primaries()  # redis-py 8 mis-routes PRIMARIES
    try:
        client.bgrewriteaof(**everywhere)
    except redis.ResponseError as exc:  # a rewrite is already running: wait for it, then ours
        log.debug("BGREWRITEAOF: %s", exc)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        info = client.info("persistence", **everywhere)
        nodes = list(info.values()) if everywhere else [info]
        if not any(
            n.get("aof_rewrite_in_progress") or n.get("aof_rewrite_scheduled") for n in nodes
        ):
            return
        time.sleep(0.1)
    log.warning("Redis AOF rewrite still running after %.0f s", wait_s)
