"""`--collection` on the command line: enroll, people, identify and keys act on one collection;
the default collection stays what it was."""

from __future__ import annotations

import json
from pathlib import Path


def test_cli_collections(cli, empty_stack, examples_dir: Path, shared_dir: Path) -> None:
    data_dir, endpoints = empty_stack
    gallery = examples_dir / "gallery"
    done = cli(data_dir, endpoints, "--collection", "club", "enroll", "obama",
               str(gallery / "obama" / "obama.jpg"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    listed = cli(data_dir, endpoints, "--collection", "club", "people")
    assert "obama" in listed.stdout
    assert "obama" not in cli(data_dir, endpoints, "people").stdout  # default: nobody
    probe = str(shared_dir / "faces" / "probes" / "obama1.jpg")
    found = cli(data_dir, endpoints, "--collection", "club", "identify", "--json", probe)
    assert json.loads(found.stdout.splitlines()[0])["name"] == "obama", found.stderr
    typo = cli(data_dir, endpoints, "--collection", "clbu", "people")
    assert typo.returncode == 2 and "expected one of ['default', 'club']" in typo.stderr
    bad = cli(data_dir, endpoints, "--collection", "Bad-Name", "people")
    assert bad.returncode == 2 and "collection name: expected" in bad.stderr
    key = cli(data_dir, endpoints, "keys", "create", "--collection", "club", "--role", "read")
    assert key.returncode == 0 and key.stdout.startswith("fsk_"), key.stderr
    keys = cli(data_dir, endpoints, "keys", "list")
    assert "club" in keys.stdout and key.stdout.strip() not in keys.stdout
    key_id = key.stdout.split("_")[1]
    assert cli(data_dir, endpoints, "keys", "revoke", key_id).returncode == 0
    assert cli(data_dir, endpoints, "keys", "revoke", key_id).returncode == 1
    removed = cli(data_dir, endpoints, "--collection", "club", "people", "rm", "obama")
    assert removed.returncode == 0, removed.stderr
    assert "obama" not in cli(data_dir, endpoints, "--collection", "club", "people").stdout
