"""Facestream on a real Milvus server (the ``milvus`` package's standalone, auth on): refused
clients get a clear error, searches see this client's writes at once (Session consistency), the
index follows the gallery's size, and the server stops by PID within seconds."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from config.errors import ConfigError, StackError
from facestream import milvus_standalone
from facestream.server_probes import open_milvus_client
from facestream.services import connect_milvus
from workers.gallery import VectorIndex
from workers.gallery import vectors as vectors_module
from workers.gallery.vectors import index_type_of


def unit(rng: np.random.Generator, n: int, dim: int = 32) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("token", ["root:wrong-password", "nobody:secret123", None])
def test_a_rejected_token_is_named_not_called_unreachable(milvus_server, token) -> None:
    options = {"token": token} if token else {}
    with pytest.raises(StackError) as info:
        connect_milvus(milvus_server.uri, options)
    message = str(info.value)
    assert "refused the client" in message and "unauthenticated" in message, message
    assert "not reachable" not in message
    assert "wrong-password" not in message and "secret123" not in message  # no secret in errors


def test_a_user_without_privileges_gets_a_clear_error(milvus_server) -> None:
    root = open_milvus_client(milvus_server.uri, token=milvus_server.token)
    name = "faces_rights_32"
    try:
        if "reader" not in root.list_users():
            root.create_user("reader", "reader-pass-1")
        VectorIndex(root, name, 32).add("p-a", unit(np.random.default_rng(0), 1))
        reader = open_milvus_client(milvus_server.uri, token="reader:reader-pass-1")
        index = VectorIndex(reader, name, 32)
        # the first refusal is loading the collection (searching needs it loaded)
        with pytest.raises(
            ConfigError, match=rf"Milvus refused .* collection {name}: .* privilege"
        ):
            index.search(unit(np.random.default_rng(1), 1))
        with pytest.raises(ConfigError, match="got permission denied: Privilege"):
            VectorIndex(reader, name, 32).add("p-b", unit(np.random.default_rng(2), 1))
        reader.close()
    finally:
        root.drop_collection(name)
        root.drop_user("reader")
        root.close()


def test_enroll_then_identify_by_the_same_client_finds_the_face_at_once(milvus_on_both) -> None:
    """No wait between the insert and the search: Session consistency carries this client's last
    write timestamp; a fresh face is found every time, on both servers."""
    rng = np.random.default_rng(3)
    index = VectorIndex(milvus_on_both, "faces_session_32", 32)
    index.add("p-seed", unit(rng, 1))
    for i in range(5):
        face = unit(rng, 1)
        index.add(f"p-{i}", face)
        [scores] = index.search(face, top_k=1)
        assert scores == {f"p-{i}": pytest.approx(1.0, abs=1e-4)}
        index.delete_person(f"p-{i}")
        [after] = index.search(face, top_k=3)
        assert f"p-{i}" not in after  # erasure holds for the next search too


ENROLL_ELSEWHERE = """
import sys, numpy as np
from facestream.server_probes import open_milvus_client
from workers.gallery import VectorIndex
uri, token, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
v = np.random.default_rng(seed).standard_normal((1, 32)).astype(np.float32)
VectorIndex(open_milvus_client(uri, token=token), "faces_elsewhere_32", 32).add(
    "p-new", v / np.linalg.norm(v)
)
"""
VISIBLE_WITHIN_S = 5.0  # the bound docs/milvus.md states: observed (~1 s), not a server guarantee


def test_a_face_enrolled_by_another_process_is_found_within_the_bound(milvus_server) -> None:
    """The matcher's process has no session timestamp for another process's insert: its search
    sees the face once the query node has consumed it (measured ~1 s on a loaded 2-core host)."""
    client = open_milvus_client(milvus_server.uri, token=milvus_server.token)
    index = VectorIndex(client, "faces_elsewhere_32", 32)
    index.add("p-old", unit(np.random.default_rng(6), 1))
    v = np.random.default_rng(7).standard_normal((1, 32)).astype(np.float32)
    v /= np.linalg.norm(v)
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    argv = [sys.executable, "-c", ENROLL_ELSEWHERE, milvus_server.uri, milvus_server.token, "7"]
    subprocess.run(argv, env=env, check=True, timeout=60)
    enrolled = time.monotonic()
    while "p-new" not in index.search(v, top_k=1)[0]:
        assert time.monotonic() - enrolled < VISIBLE_WITHIN_S, "not found within the bound"
        time.sleep(0.02)
    print(f"\nfound {1e3 * (time.monotonic() - enrolled):.0f} ms after the other process's insert")
    client.drop_collection(index.collection)
    client.close()


def test_searches_do_not_wait_for_the_time_tick(milvus_server) -> None:
    """Strong waits for the next time tick (200 ms on a real server); Session does not."""
    client = open_milvus_client(milvus_server.uri, token=milvus_server.token)
    rng = np.random.default_rng(4)
    index = VectorIndex(client, "faces_latency_32", 32)
    index.add("p-a", unit(rng, 100))
    queries = unit(rng, 32)

    def p50(level: str) -> float:
        times = []
        for _ in range(8):
            t = time.perf_counter()
            client.search(
                index.collection,
                data=queries.tolist(),
                limit=10,
                search_params={"metric_type": "IP"},
                consistency_level=level,
            )
            times.append(time.perf_counter() - t)
        return float(np.median(times))

    session, strong = p50("Session"), p50("Strong")
    print(
        f"\nbatch of 32, 100 vectors: Session p50 {session * 1e3:.1f} ms, Strong {strong * 1e3:.1f} ms"
    )
    assert session < strong and session < 0.1
    client.drop_collection(index.collection)
    client.close()


def test_the_index_follows_the_gallery_size(milvus_on_both, monkeypatch) -> None:
    monkeypatch.setattr(vectors_module, "FLAT_MAX_ROWS", 50)
    rng = np.random.default_rng(5)
    index = VectorIndex(milvus_on_both, "faces_grow_32", 32)
    small = unit(rng, 40)
    index.add("p-small", small)
    assert index_type_of(milvus_on_both, index.collection) == "FLAT"
    big = unit(rng, 30)
    index.add("p-big", big)  # 70 vectors: past the FLAT limit
    assert index_type_of(milvus_on_both, index.collection) == "HNSW"
    [a, b] = index.search(np.stack([small[3], big[7]]), top_k=5)
    assert a["p-small"] == pytest.approx(1.0, abs=1e-4)
    assert b["p-big"] == pytest.approx(1.0, abs=1e-4)


def test_a_stopped_server_leaves_no_process_and_its_port_free(tmp_path) -> None:
    server = milvus_standalone.start(tmp_path / "m", auth=False)
    pid, port = server.pid, server.port
    started = time.monotonic()
    milvus_standalone.stop(server)
    assert time.monotonic() - started < milvus_standalone.STOP_TIMEOUT_S + 2
    assert server.proc.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # nothing listens there any more
    shutil.rmtree(server.data_dir)


def _self_signed(tmp_path):
    """A CA and a server certificate for localhost signed by it (PEM files)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("facestream test CA"))
        .issuer_name(name("facestream test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = {
        "ca": tmp_path / "ca.pem",
        "cert": tmp_path / "server.pem",
        "key": tmp_path / "key.pem",
    }
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def test_tls_with_the_settings_ca_file(tmp_path) -> None:
    """A TLS server (tlsMode 1) reached through facestream's own client options: the CA file
    from the settings; without it the client cannot connect."""
    from config.settings import Settings
    from facestream.services import milvus_options

    tls = _self_signed(tmp_path)
    server = milvus_standalone.start(tmp_path / "m", auth=True, tls=tls)
    try:
        assert server.uri.startswith("https://")
        settings = Settings(
            data_dir=tmp_path / "data",
            milvus_uri=server.uri,
            milvus_token=server.token,
            milvus_tls_ca_file=tls["ca"],
        )
        client = connect_milvus(server.uri, milvus_options(settings))
        index = VectorIndex(client, "faces_tls_32", 32)
        face = unit(np.random.default_rng(8), 1)
        index.add("p-a", face)
        assert index.search(face, top_k=1)[0] == {"p-a": pytest.approx(1.0, abs=1e-4)}
        client.close()
        with pytest.raises(StackError):  # plain-text gRPC to a TLS port
            connect_milvus(server.uri.replace("https://", "http://"), {"token": server.token})
    finally:
        milvus_standalone.stop(server)
        shutil.rmtree(server.data_dir, ignore_errors=True)  # ~270 MB of etcd and rocksmq files
