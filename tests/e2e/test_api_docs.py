"""The README's curl walk-through of the API runs as written: a real `facestream serve` process, keys from
the real CLI, the dlib models, the photos of examples/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_readme import ROOT, _env, _run, blocks
from tests.support.api_server import free_port

README = ROOT / "README.md"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_curl_walk_through_runs(tmp_path: Path, examples_dir: Path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "examples").symlink_to(examples_dir)
    env = _env(work) | {"PORT": str(free_port())}
    # the README test skips it (no-run): it needs a server of its own and jq
    runs = [b for b in blocks(README.read_text()) if "api-walk-through" in b.info.split()]
    assert len(runs) == 1 and "facestream serve" in runs[0].code
    done = _run(runs[0], work, env)
    assert done.returncode == 0, f"stdout:\n{done.stdout[-4000:]}\nstderr:\n{done.stderr[-4000:]}"
    lines = done.stdout.splitlines()
    assert lines[0] == '{"name":"family","people":0}', lines
    assert '{"image":"obama.jpg","enrolled":true}' in lines
    assert any(line.startswith('{"name":"obama","score"') for line in lines), lines
    assert "403" in lines  # the family key on the default collection
    assert ": connected" in done.stdout
