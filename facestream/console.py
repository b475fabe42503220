"""The CLI's two consoles and its escaping rule: every command prints through these.

Its own module so that the commands and the parser both import it from below,
instead of the commands importing the parser's module that dispatches to them.
"""

from __future__ import annotations

import sys

from rich.console import Console
from rich.markup import escape

# piped output (files, CI logs, tests) gets wide tables instead of names folded at 80 columns
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160)


def esc(value: object) -> str:
    """User text (names, paths, errors) printed literally, never read as rich markup, and with
    control characters shown as escapes (``\\x1b[31m`` as text, not a terminal command)."""
    return escape(printable(str(value)))


def printable(text: str) -> str:
    """Non-printable characters as Python writes them in a repr; newlines and tabs kept."""
    return "".join(c if c.isprintable() or c in "\n\t" else repr(c)[1:-1] for c in text)
