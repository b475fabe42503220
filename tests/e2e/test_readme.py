"""Every snippet of the README runs as written.

The README's fenced blocks are executed in order, as a reader would type them:
```` ```bash ````, ```` ```sh ```` and ```` ```python ```` blocks whole, and the
``$ `` lines of ```` ```console ```` blocks. ```` ```text ```` blocks are output
samples and are not run; neither is a block whose info string says ``no-run``
(``make test`` would run this test again, ``make demo`` repeats the snippets).
They run in a temporary working directory with ``examples/`` linked in, a
private data dir (``FACESTREAM_DATA_DIR``) and the venv's ``bin`` first on
``PATH``; whatever a snippet leaves running is stopped with ``facestream down``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = [
    README,
    ROOT / "CHANGELOG.md",
    ROOT / "bench" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
RUN = {"bash", "sh", "console", "python"}
SHOWN = {"text", "toml", "yaml", "json"}
# words about how this project was organised, which mean nothing to a reader
# our way of working stays out of the docs; "session" alone is a product word (Milvus's Session
# consistency, the web page's session cookie), so only the phrases that mean a working session
PROCESS_WORDS = re.compile(
    r"walking pipeline|done-when|\bissue[ -]\d+|\b(this|last|next|previous|later) session\b", re.I
)
BLOCK_TIMEOUT_S = 300


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence
    lang: str
    info: str
    code: str

    @property
    def runs(self) -> bool:
        return self.lang in RUN and "no-run" not in self.info.split()


def blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, in order."""
    found, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        opening = re.match(r"^(`{3,}|~{3,})\s*(.*)$", lines[i])
        if not opening:
            i += 1
            continue
        fence, info = opening.group(1), opening.group(2).strip()
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith(fence)), None)
        assert end is not None, f"README.md line {i + 1}: fence {fence!r} is never closed"
        code = "\n".join(lines[i + 1 : end]) + "\n"
        found.append(Block(i + 1, info.split()[0] if info else "", info, code))
        i = end + 1
    return found


def console_commands(code: str) -> str:
    """The commands of a console block: its ``$ `` lines (with ``\\`` continuations)."""
    commands, continuing = [], False
    for line in code.splitlines():
        if line.startswith("$ ") or continuing:
            commands.append(line[2:] if line.startswith("$ ") else line)
            continuing = line.rstrip().endswith("\\")
    return "\n".join(commands) + "\n"


def test_readme_size_and_fences():
    text = README.read_text()
    assert 150 <= len(text.splitlines()) <= 340, (
        f"README.md: expected 150-340 lines, got {len(text.splitlines())}; move detail to docs/"
    )
    found = blocks(text)
    unknown = [(b.line, b.info) for b in found if b.lang not in RUN | SHOWN]
    assert not unknown, (
        f"README.md: fences without a known language (expected {sorted(RUN | SHOWN)}): {unknown}"
    )
    assert any(b.runs and b.lang == "python" for b in found)
    assert any(b.runs and b.lang == "bash" for b in found)


def test_links_between_docs_resolve():
    for page in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (page.parent / target).exists(), (
                f"{page.relative_to(ROOT)}: link to {target}, which is missing"
            )


def test_no_process_vocabulary_in_the_docs():
    for page in DOCS:
        for n, line in enumerate(page.read_text().splitlines(), 1):
            found = PROCESS_WORDS.search(line)
            assert not found, (
                f"{page.relative_to(ROOT)}:{n}: expected no process words, got {found.group(0)!r}"
            )


def _env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    env["FACESTREAM_DATA_DIR"] = str(work / ".facestream")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # the `facestream` script must import this tree, wherever the venv was installed from
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def _run(block: Block, work: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    if block.lang == "python":
        cmd = [sys.executable, "-c", block.code]
    else:
        code = console_commands(block.code) if block.lang == "console" else block.code
        cmd = ["bash", "-euo", "pipefail", "-c", code]
    return subprocess.run(
        cmd, cwd=work, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S, check=False
    )


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_every_readme_snippet_runs(tmp_path: Path, examples_dir: Path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "examples").symlink_to(examples_dir)
    env = _env(work)
    transcript = []
    try:
        for block in (b for b in blocks(README.read_text()) if b.runs):
            done = _run(block, work, env)
            transcript.append(
                f"--- README.md line {block.line} ({block.lang}): exit {done.returncode}\n"
                f"{done.stdout[-3000:]}{done.stderr[-3000:]}"
            )
            assert done.returncode == 0, (
                f"README.md line {block.line}: expected the {block.lang} block to exit 0, got "
                f"{done.returncode}\n{block.code}\n"
                f"stdout:\n{done.stdout[-4000:]}\nstderr:\n{done.stderr[-4000:]}"
            )
        text = "\n".join(transcript)
        # what the README promises the reader will see
        assert "lin_manuel_miranda" in text, text[-6000:]
        assert (work / "results.jsonl").stat().st_size > 0
    finally:
        subprocess.run(
            ["facestream", "down"], cwd=work, env=env, capture_output=True, timeout=180, check=False
        )
        print("\n".join(transcript))
