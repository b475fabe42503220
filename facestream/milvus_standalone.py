"""A real Milvus standalone server on this machine, from the PyPI package ``milvus`` (2.3.5).

For the tests (one server per test session) and for users who want to try facestream against a
real Milvus without Docker: ``python -m facestream.milvus_standalone --data-dir DIR``.

The package's own launcher has defects that this module works around:

- its embedded etcd always takes the peer port 2380 (and client port 2379), so a second
  instance on the host dies; we hand it an etcd config through ``ETCD_CONFIG_PATH``;
- SIGTERM with a loaded collection waits up to 30 min for the query node to drain;
  ``QUERYNODE_GRACEFULSTOPTIMEOUT`` bounds that, and we SIGKILL after ``STOP_TIMEOUT_S``;
- it ignores most keyword options: we set them on its config object;
- its health check answers before a collection can be loaded: we probe by creating and
  loading one;
- it unpacks 245 MB of binaries into every data directory: we unpack them once into a shared
  directory (under a lock, atomically) and run the binary from there.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib.util
import logging
import lzma
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from config.errors import StackError

log = logging.getLogger(__name__)

VERSION = "2.3.5"
ROOT_TOKEN = "root:Milvus"  # Milvus's built-in superuser and its default password
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 3.0
PROBE_COLLECTION = "facestream_probe"


def default_bin_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "facestream" / f"milvus-{VERSION}" / "bin"


def _package_dir() -> Path:
    found = importlib.util.find_spec("milvus")
    if found is None or not found.submodule_search_locations:
        raise StackError(
            f"the Milvus server package is not installed: expected the module 'milvus' "
            f"(pip install milvus=={VERSION}, part of the test extra)"
        )
    return Path(list(found.submodule_search_locations)[0])


def unpack_binaries(bin_dir: Path | None = None) -> Path:
    """Unpack the package's xz-compressed server and libraries into ``bin_dir`` once; later calls
    (and other processes) reuse them. Each file is written under a temp name and renamed, under
    a file lock, so that a running server's binary is never overwritten in place."""
    bin_dir = bin_dir or default_bin_dir()
    bin_dir.mkdir(parents=True, exist_ok=True)
    packed = _package_dir() / "data" / "bin"
    with open(bin_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for source in sorted(packed.glob("*.lzma")):
            target = bin_dir / source.name.removesuffix(".lzma")
            stamp = target.with_name(target.name + ".md5")
            digest = hashlib.md5(source.read_bytes()).hexdigest()
            if target.exists() and stamp.exists() and stamp.read_text() == digest:
                continue
            tmp = target.with_name(target.name + ".tmp")
            with lzma.open(source) as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            tmp.chmod(0o755)
            os.replace(tmp, target)
            stamp.write_text(digest)
    return bin_dir


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class MilvusStandalone:
    """A running server: ``uri`` and ``token`` are what a client needs."""

    data_dir: Path
    port: int
    uri: str
    token: str | None
    proc: subprocess.Popen = field(repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid


def _write_config(data_dir: Path, auth: bool, port: int | None, tls: dict | None) -> tuple:
    from milvus import MilvusServerConfig  # the package's template engine and port picker

    config = MilvusServerConfig(data_dir=str(data_dir))
    if port is not None:
        config.update(proxy_port=port)
    config.set("authorization_enabled", auth)
    config.set("etcd_log_level", "warn")
    if tls:
        config.set("tls_mode", 1)
        config.set("server_pem_path", str(tls["cert"]))
        config.set("server_key_path", str(tls["key"]))
        config.set("ca_pem_path", str(tls["ca"]))
    config.resolve()
    etcd_port = int(config.get("etcd_port"))
    peer = f"http://127.0.0.1:{_free_port()}"
    client = f"http://127.0.0.1:{etcd_port}"
    etcd_yaml = data_dir / "configs" / "etcd.yaml"
    etcd_yaml.write_text(
        f"name: default\ndata-dir: {data_dir / 'data' / 'etcd.data'}\n"
        f"listen-peer-urls: {peer}\ninitial-advertise-peer-urls: {peer}\n"
        f"initial-cluster: default={peer}\n"
        f"listen-client-urls: {client}\nadvertise-client-urls: {client}\n"
    )
    return int(config.get("proxy_port")), etcd_yaml


def start(
    data_dir: Path,
    *,
    auth: bool = True,
    port: int | None = None,
    bin_dir: Path | None = None,
    tls: dict | None = None,
    timeout_s: float = START_TIMEOUT_S,
) -> MilvusStandalone:
    """Start a server with its data in ``data_dir`` on free ports (``port`` for the gRPC one if
    given); return once a collection can be created and loaded. ``tls``: paths ``cert``, ``key``,
    ``ca`` (one-way TLS)."""
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    bins = unpack_binaries(bin_dir)
    grpc_port, etcd_yaml = _write_config(data_dir, auth, port, tls)
    env = dict(
        os.environ,
        DEPLOY_MODE="STANDALONE",
        METRICS_PORT=str(_free_port()),
        MILVUS_RUN_DIR=str(data_dir / "run"),
        MILVUSCONF=str(data_dir / "configs"),
        ETCD_CONFIG_PATH=str(etcd_yaml),
        QUERYNODE_GRACEFULSTOPTIMEOUT="5",
        LD_LIBRARY_PATH=":".join(filter(None, [str(bins), os.environ.get("LD_LIBRARY_PATH")])),
    )
    logs = data_dir / "logs"
    logs.mkdir(exist_ok=True)
    with open(logs / "milvus-stdout.log", "wb") as out:
        proc = subprocess.Popen(
            [str(bins / "milvus"), "run", "standalone"],
            cwd=data_dir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    scheme = "https" if tls else "http"
    server = MilvusStandalone(
        data_dir, grpc_port, f"{scheme}://localhost:{grpc_port}", ROOT_TOKEN if auth else None, proc
    )
    try:
        _wait_ready(server, timeout_s, tls)
    except BaseException:
        stop(server)
        raise
    log.info("Milvus %s standalone up at %s (pid %d)", VERSION, server.uri, server.pid)
    return server


def _probe(server: MilvusStandalone, tls: dict | None) -> None:
    from facestream.server_probes import open_milvus_client

    options: dict = {"token": server.token} if server.token else {}
    if tls:
        options["server_pem_path"] = str(tls["ca"])
    client = open_milvus_client(server.uri, timeout=10, **options)
    try:
        if client.has_collection(PROBE_COLLECTION):
            client.drop_collection(PROBE_COLLECTION)
        client.create_collection(PROBE_COLLECTION, dimension=2)
        client.load_collection(PROBE_COLLECTION)
        client.drop_collection(PROBE_COLLECTION)
    finally:
        client.close()


def _wait_ready(server: MilvusStandalone, timeout_s: float, tls: dict | None) -> None:
    deadline, last = time.monotonic() + timeout_s, "no answer"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise StackError(
                f"Milvus standalone exited with code {server.proc.returncode} while starting; "
                f"see {server.data_dir / 'logs' / 'milvus-stdout.log'}"
            )
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
            _probe(server, tls)
            return
        except Exception as exc:  # noqa: BLE001 - anything means "not ready yet"
            last = str(exc)[:200]
        time.sleep(1.0)
    raise StackError(
        f"Milvus standalone at {server.uri}: not ready after {timeout_s:.0f} s "
        f"(expected a collection to load; last error: {last})"
    )


def stop(server: MilvusStandalone, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``: its graceful stop can hang on a loaded
    collection, and its data is either thrown away (tests) or flushed already (rocksmq WAL)."""
    proc = server.proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("Milvus standalone pid %d ignored SIGTERM: killing it", proc.pid)
            proc.kill()
            proc.wait(5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m facestream.milvus_standalone",
        description=f"Run a real Milvus {VERSION} standalone server (auth on) until Ctrl-C.",
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="its data and logs")
    parser.add_argument("--port", type=int, help="gRPC port (default: the first free from 19530)")
    parser.add_argument("--no-auth", action="store_true", help="no authentication (local only!)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    server = start(args.data_dir, auth=not args.no_auth, port=args.port)
    print(f"Milvus at {server.uri}  token: {server.token or '(none)'}  pid {server.pid}")
    print(f"e.g. FACESTREAM_MILVUS_URI={server.uri} FACESTREAM_MILVUS_TOKEN={server.token}")
    try:
        server.proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop(server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
