"""Is a server there and answering? Probes of Redis/Valkey and Milvus, and the one way the
project opens a Milvus client (its gRPC keepalive is part of staying connected).

:mod:`facestream.servers` starts and stops the embedded servers with these.
"""

from __future__ import annotations

import socket


def redis_ready(url: str, password: str | None = None) -> bool:
    import redis

    client = redis.Redis.from_url(
        url, socket_timeout=2, socket_connect_timeout=1, password=password
    )
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


# pymilvus pings every 10 s even on an idle channel; milvus-lite (and any gRPC server with the
# default 5-minute ping policy) answers an idle client's pings with GOAWAY "too_many_pings",
# and pymilvus's shared-channel recovery then fails the next MilvusClient() in that process
# (seen in CI). Ping only while calls are in flight, at the servers' default minimum; calls
# carry their own timeouts, so a dead server is still noticed.
MILVUS_GRPC_OPTIONS = {
    "grpc.keepalive_time_ms": 300_000,
    "grpc.keepalive_permit_without_calls": False,
}


def open_milvus_client(uri: str, timeout: float = 10, **options: object):
    """A ``MilvusClient`` on its own gRPC channel with idle-safe keepalive (see above)."""
    from pymilvus import MilvusClient

    return MilvusClient(
        uri=uri, timeout=timeout, dedicated=True, grpc_options=MILVUS_GRPC_OPTIONS, **options
    )


def milvus_ready(url: str, port: int) -> bool:
    """Listening, and answering a client: what a server that is starting is ready at."""
    if not milvus_listening(url, port):
        return False
    try:
        client = open_milvus_client(url, timeout=5)
        try:
            client.list_collections()
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - any failure means "not ready yet"
        return False
    return True


def milvus_listening(url: str, port: int) -> bool:
    try:
        if url.startswith("unix:"):
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(1)
                s.connect(url.removeprefix("unix:"))  # the file name ends in ":0" (start_milvus)
        else:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True
