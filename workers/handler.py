"""The contract between the runtime and a stage: ``Handler``, with its hooks declared as no-ops.

A stage subclasses ``Handler``, names its ``kind`` and consumer ``group``, and
implements ``input_streams`` and ``handle``; it overrides only the hooks it
needs. The runtime (workers/runtime.py) calls every hook on every handler.
"""

from __future__ import annotations

from typing import Any

from workers.messages import FrameMsg

Output = tuple[str, Any]  # (stream, FrameMsg or a plain dict for fs:results)


class NotYet(Exception):  # noqa: N818 - a verdict on the message, not an error of the stage
    """Raised by ``handle``: the message cannot be handled yet (an earlier frame of its camera
    has not come; the gallery is away during a file run). The runtime keeps the entry pending
    and hands it to ``handle`` again shortly, from memory: waiting spends no delivery and never
    dead-letters it."""


class Handler:
    kind: str = ""
    group: str = ""
    # a stage that must see each camera's frames in order: at start, it first takes over every
    # entry pending in its group (held by a process of its kind that died), before new ones
    takes_over_pending: bool = False

    def input_streams(self) -> list[str]:
        """The streams to read now (the set of cameras may change while the worker runs)."""
        raise NotImplementedError

    def handle(self, msg: FrameMsg) -> list[Output]:
        """One message in, its outputs out; a MessageError dead-letters the entry."""
        raise NotImplementedError

    def warm_up(self) -> None:
        """Once before the first read (a model's first pass is slow)."""

    def prepare(self, payloads: list[bytes]) -> None:
        """Before the entries of one read are handled: a chance to batch their work."""

    def stale(self, msg: FrameMsg) -> FrameMsg:
        """A live frame older than its ``max_age_s``: what to handle instead (default: itself)."""
        return msg

    def idle(self) -> list[Output]:
        """After every poll, with or without entries: outputs not tied to one input."""
        return []

    def commit(self, msg: FrameMsg, outputs: list[Output]) -> bool:
        """Publish ``outputs`` and mark ``msg`` done in one step of the stage's own (a stage whose
        state must move with its outputs); False: the runtime publishes, then calls ``committed``."""
        return False

    def committed(self, msg: FrameMsg) -> None:
        """After ``msg``'s outputs are published, before its entry is acked."""

    def health(self) -> dict:
        """Figures for the health key, e.g. ``problem``: a service this stage cannot reach."""
        return {}
