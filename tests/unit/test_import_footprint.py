"""Processes that run no model load no torch, and only those that search Milvus load pymilvus.

torch holds ~470 MiB of resident memory per process and pymilvus (with pandas) ~90 MiB; each
check runs in a fresh interpreter, where ``sys.modules`` says what an import really pulled in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def loaded_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """Top-level packages in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    script = (
        code
        + "\nimport json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "module", ["workers.track", "workers.match", "workers.runtime", "facestream.cli", "ingest.host"]
)
def test_modules_of_model_free_processes_do_not_import_torch(module: str) -> None:
    loaded = loaded_after(f"import {module}")
    assert "torch" not in loaded, f"importing {module} loaded torch"


@pytest.mark.parametrize(
    "module",
    # the `run` command imports the last three; it asks Redis, never Milvus
    [
        "workers.track",
        "workers.detect",
        "facestream.cli",
        "facestream.gallery_ops",
        "facestream.runner",
        # the HTTP API: `up` keeps it running; it loads pymilvus on the first search only
        "facestream.api.app",
        "facestream.keep_servers",
    ],
)
def test_only_the_matcher_and_enrollment_import_pymilvus(module: str) -> None:
    loaded = loaded_after(f"import {module}")
    assert not {"pymilvus", "pandas"} & loaded, f"importing {module} loaded pymilvus/pandas"


def test_the_tracker_and_matcher_handlers_are_built_without_torch() -> None:
    # both handlers need Redis (the tracker's and the matcher's state), the matcher Milvus too,
    # so their modules and the registry the matcher reads stand in for them
    code = (
        "from config.settings import load_settings\n"
        "from facestream.services import Services\n"
        "from facestream.stack import Endpoints\n"
        "import workers.match, workers.models.registry, workers.track, workers.track_state\n"
        "s = load_settings(data_dir='/nonexistent', redis_url='redis://127.0.0.1:1',"
        " milvus_uri='http://127.0.0.1:1')\n"
        "Services(s, Endpoints(s.redis_url, s.milvus_uri))\n"
    )
    assert "torch" not in loaded_after(code)


def test_cpu_device_is_resolved_without_torch() -> None:
    code = (
        "from workers.models.device import resolve_device\n"
        "assert resolve_device('cpu', 1) == 'cpu'\n"
        # devices hidden: torch could not see a GPU either, so 'auto' needs no torch to say so
        "assert resolve_device('auto', 1) == 'cpu'\n"
    )
    assert "torch" not in loaded_after(code, {"CUDA_VISIBLE_DEVICES": ""})


def test_thread_count_reaches_torch_when_a_model_imports_it() -> None:
    code = (
        "from workers.models.device import resolve_device, torch_module\n"
        "resolve_device('cpu', 1)\n"
        "assert torch_module().get_num_threads() == 1\n"
    )
    assert "torch" in loaded_after(code, {"OMP_NUM_THREADS": "2"})


@pytest.mark.parametrize(
    "module", ["facestream.cli", "workers.detect", "workers.embed", "workers.match"]
)
def test_only_the_tracker_imports_scipy(module: str) -> None:
    # every process imports the face type from tracker/; the assignment solver is the tracker's
    assert "scipy" not in loaded_after(f"import {module}"), f"importing {module} loaded scipy"
