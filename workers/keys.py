"""Every Redis name facestream uses, in one place."""

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

# consumer groups, one per stage
GROUP_DETECT = "detect"
GROUP_TRACK = "track"
GROUP_EMBED = "embed"
GROUP_MATCH = "match"

# the gallery: people live in Redis, their vectors in Milvus
PEOPLE = f"{PREFIX}:people"  # hash person_id -> name
PEOPLE_BY_NAME = f"{PREFIX}:people:by-name"  # hash name -> person_id


def frames(camera: str) -> str:
    return f"{PREFIX}:frames:{camera}"


def camera_info(camera: str) -> str:
    """Hash: run id, source (credentials removed), fps, size, state, total frames once known."""
    return f"{PREFIX}:camera:{camera}"


def progress(camera: str, run: str) -> str:
    """Hash for one run of one camera: published, done, dropped:<reason> counters."""
    return f"{PREFIX}:progress:{camera}:{run}"


DONE_CHUNK = 1 << 16  # frames per done bitmap: 8 KiB each, so a bogus seq never allocates much


def done_bits(camera: str, run: str, seq: int) -> tuple[str, int]:
    """(bitmap key, bit) of a frame seq: makes 'done' idempotent under redelivery, and results too."""
    return f"{PREFIX}:done:{camera}:{run}:{seq // DONE_CHUNK}", seq % DONE_CHUNK


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
    return f"{PREFIX}:match:{camera}"


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
