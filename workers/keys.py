"""Every Redis name facestream uses, in one place.

Shards (docs/scaling.md): with ``bus.shards`` above 1, each camera belongs to one shard, and
what one step of a stage touches for that camera (its frames, progress ledger, done bits,
tracker and matcher state, and the stage and results streams its frames go through) carries
the shard's hash tag ``{N}``, so that on a Redis Cluster it all lives in one slot (Lua scripts
and MULTI may only touch one) while the shards spread over the masters. One shard, the
default, keeps the historical names: ``fs:frames:<camera>``, ``fs:detected``, ``fs:results``.
"""

import zlib

PREFIX = "fs"

DETECTED = f"{PREFIX}:detected"  # detector -> tracker
TRACKED = f"{PREFIX}:tracked"  # tracker -> embedder (every frame; crops only where worth embedding)
EMBEDDED = f"{PREFIX}:embedded"  # embedder -> matcher
RESULTS = f"{PREFIX}:results"  # matcher -> users: named tracks + lifecycle events
DEAD = f"{PREFIX}:dead"  # dead letters from every stage
EVENTS = (
    f"{PREFIX}:events"  # camera state changes: connecting, streaming, stalled, reconnecting, ended
)
CAMERAS = f"{PREFIX}:cameras"  # set of camera names that have a frames stream
CAMERA_SOURCES = (
    f"{PREFIX}:camera-sources"  # hash name -> source URL, managed by `facestream cameras add/rm`
)

# the stage and results streams above are one per shard: ``in_shard_of(DETECTED, camera)`` is
# where a camera's detections go, ``every_shard(DETECTED)`` what the trackers read


class _Layout:
    """How many shards this deployment has: a deployment-wide fact, like PREFIX, set once per
    process from the settings (``use_shards``) before any name is made."""

    shards = 1


def use_shards(shards: int) -> None:
    if shards < 1:
        raise ValueError(f"shards: expected 1 or more, got {shards}")
    _Layout.shards = shards


def shard_count() -> int:
    return _Layout.shards


def shard_of(camera: str) -> int:
    """A camera's shard: stable across processes and restarts (CRC-32 of its name)."""
    return zlib.crc32(camera.encode()) % _Layout.shards


def _tag(shard: int) -> str:
    return "" if _Layout.shards == 1 else f"{{{shard}}}:"


def _camera_key(kind: str, camera: str) -> str:
    """``fs:<kind>:<camera>``, or ``fs:<kind>:{N}:<camera>`` when sharded; camera names have no
    ':' (config/cameras.py), so the camera is always a key's last part (``camera_in``)."""
    return f"{PREFIX}:{kind}:{_tag(shard_of(camera))}{camera}"


def camera_in(key: str) -> str:
    """The camera of a per-camera key made here (frames, camera_info, match_state, track_state)."""
    return key.rsplit(":", 1)[-1]


def in_shard_of(stream: str, camera: str) -> str:
    """A shard's copy of a stage or results stream (one of the names above): the camera's."""
    return stream if _Layout.shards == 1 else f"{stream}:{{{shard_of(camera)}}}"


def every_shard(stream: str) -> list[str]:
    """Every shard's copy of a stage or results stream, in shard order."""
    if _Layout.shards == 1:
        return [stream]
    return [f"{stream}:{{{n}}}" for n in range(_Layout.shards)]


def per_camera_pattern(kind: str) -> str:
    """SCAN pattern of every camera's ``kind`` key (``track``, ``match``, ``frames``...)."""
    return f"{PREFIX}:{kind}:*"


# consumer groups, one per stage
GROUP_DETECT = "detect"
GROUP_TRACK = "track"
GROUP_EMBED = "embed"
GROUP_MATCH = "match"

# the gallery: people live in Redis, their vectors in Milvus
PEOPLE = f"{PREFIX}:people"  # hash person_id -> name
PEOPLE_BY_NAME = f"{PREFIX}:people:by-name"  # hash name -> person_id


def frames(camera: str) -> str:
    return _camera_key("frames", camera)


def camera_info(camera: str) -> str:
    """Hash: run id, source (credentials removed), fps, size, state, total frames once known."""
    return _camera_key("camera", camera)


def progress(camera: str, run: str) -> str:
    """Hash for one run of one camera: published, done, dropped:<reason> counters."""
    return f"{_camera_key('progress', camera)}:{run}"


DONE_CHUNK = 1 << 16  # frames per done bitmap: 8 KiB each, so a bogus seq never allocates much


def done_bits(camera: str, run: str, seq: int) -> tuple[str, int]:
    """(bitmap key, bit) of a frame seq: makes 'done' idempotent under redelivery, and results too."""
    return f"{_camera_key('done', camera)}:{run}:{seq // DONE_CHUNK}", seq % DONE_CHUNK


def person_faces(person_id: str) -> str:
    """Hash model -> number of enrolled faces."""
    return f"{PREFIX}:person:{person_id}:faces"


def health(kind: str, consumer: str) -> str:
    return f"{PREFIX}:health:{kind}:{consumer}"


def health_pattern(kind: str = "*") -> str:
    return f"{PREFIX}:health:{kind}:*"


def stats(kind: str) -> str:
    """Hash of counters per stage: processed, dead_letters, trimmed, errors..."""
    return f"{PREFIX}:stats:{kind}"


# unknown people: stable labels for faces nobody enrolled (vectors in Milvus `unknowns_<model>_<dim>`)
UNKNOWNS = f"{PREFIX}:unknowns"  # set of labels


def unknown(label: str) -> str:
    """Hash: first_seen, last_seen (epoch s), tracks, faces, cameras (comma-separated)."""
    return f"{PREFIX}:unknown:{label}"


def match_state(camera: str) -> str:
    """Hash: the matcher's state of a camera (``state``, msgpack) and its version ``v``."""
    return _camera_key("match", camera)


def track_state(camera: str) -> str:
    """Hash: the tracker's state of a camera (``state``, msgpack) and its version ``v``."""
    return _camera_key("track", camera)


# collections: each is a gallery of its own. The collection `default` keeps the names above
# (fs:people, fs:unknowns, ...) so that a gallery enrolled before collections existed is `default`.
COLLECTIONS = f"{PREFIX}:collections"  # set of collection names besides `default`
CAMERA_COLLECTIONS = f"{PREFIX}:camera-collections"  # hash camera -> the collection it watches with
API_KEYS = f"{PREFIX}:api-keys"  # hash sha256(secret) -> key record (JSON); never the secret


def collection_prefix(collection: str) -> str:
    """Prefix of a collection's own Redis names; `default` has the historical unprefixed ones."""
    return PREFIX if collection == "default" else f"{PREFIX}:c:{collection}"


def people(collection: str) -> str:
    return f"{collection_prefix(collection)}:people"


def people_by_name(collection: str) -> str:
    return f"{collection_prefix(collection)}:people:by-name"


def unknowns(collection: str) -> str:
    return f"{collection_prefix(collection)}:unknowns"


# index mode: faces found in photos and videos, waiting for a person's review (per collection)
INDEX_JOBS = f"{PREFIX}:index:jobs"  # stream of jobs to run: collection, job (group "index")
GROUP_INDEX = "index"


def index_job(collection: str, job: str) -> str:
    """Hash: state, model, created, total, done, failed, candidates, groups."""
    return f"{PREFIX}:index:{collection}:job:{job}"


def index_job_files(collection: str, job: str) -> str:
    """Hash file path -> '' (to do), 'done:<faces>' or 'error:<why>', in the job's order."""
    return f"{PREFIX}:index:{collection}:job:{job}:files"


def index_job_candidates(collection: str, job: str) -> str:
    """Set of the candidate ids a job found."""
    return f"{PREFIX}:index:{collection}:job:{job}:candidates"


def index_jobs_of(collection: str) -> str:
    """Sorted set of a collection's job ids by creation time."""
    return f"{PREFIX}:index:{collection}:jobs"


def index_candidate(collection: str, cid: str) -> str:
    """Hash: job, source, frame, time_s, bbox, quality, model, embedding, thumbnail (JPEG), track,
    suggested, score, group."""
    return f"{PREFIX}:index:{collection}:candidate:{cid}"


def index_groups(collection: str) -> str:
    """Sorted set of the groups under review, by group number."""
    return f"{PREFIX}:index:{collection}:groups"


def index_group(collection: str, group: str) -> str:
    """Hash: job, name (the label given in review, '' while none)."""
    return f"{PREFIX}:index:{collection}:group:{group}"


def index_group_faces(collection: str, group: str) -> str:
    """Set of the candidate ids in a group."""
    return f"{PREFIX}:index:{collection}:group:{group}:faces"


def index_next_group(collection: str) -> str:
    """Counter: group numbers are never reused within a collection."""
    return f"{PREFIX}:index:{collection}:next-group"


def index_pattern(collection: str) -> str:
    """Every key of a collection's index mode (erasing a collection)."""
    return f"{PREFIX}:index:{collection}:*"


def unknown_became(collection: str) -> str:
    """Hash label -> what an unknown label became in review: a person id (labelled) or the label
    it was merged into; records written with the label are read with that person's name."""
    return f"{collection_prefix(collection)}:unknown-became"
