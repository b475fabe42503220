"""A small Server-Sent Events reader over httpx, for the API tests."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

import httpx


@dataclass
class SseClient:
    """Reads events in a thread until ``stop()`` or until ``max_events`` arrived."""

    url: str
    headers: dict
    max_events: int | None = None
    events: list[tuple[str, str, dict]] = field(default_factory=list)  # (id, event, data)
    connected: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> SseClient:
        self._thread.start()
        if not self.connected.wait(30):
            raise RuntimeError(f"no SSE connection to {self.url} within 30 s: {self.error}")
        return self

    def stop(self, wait: bool = True) -> None:
        """Ask the reader to end (it notices at its next line: an event or a 15 s keepalive)."""
        self._stop.set()
        if wait:
            self._thread.join(15)

    def done(self) -> bool:
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            with httpx.stream("GET", self.url, headers=self.headers, timeout=None) as response:
                response.raise_for_status()
                eid = kind = None
                data: list[str] = []
                for line in response.iter_lines():
                    if line.startswith(":"):
                        self.connected.set()
                    elif line.startswith("id: "):
                        eid = line[4:]
                    elif line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        data.append(line[6:])
                    elif line == "" and data:
                        self.events.append(
                            (eid or "", kind or "message", json.loads("\n".join(data)))
                        )
                        eid = kind = None
                        data = []
                    if self._stop.is_set() or (
                        self.max_events is not None and len(self.events) >= self.max_events
                    ):
                        return
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
            self.connected.set()
