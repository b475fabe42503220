"""The matcher's state across restarts, on real Redis + milvus-lite: a matcher replaced at any
frame (a killed process) reports exactly what one undisturbed matcher reports."""

from __future__ import annotations

import numpy as np
import pytest

from tests.integration.test_match_identity import ADA, STRANGER, handler, msg, unit
from workers import codec, keys
from workers.match import MatchHandler
from workers.match_state import MatchState


def stateful(redis_client, milvus_client, settings) -> MatchHandler:
    return handler(
        redis_client, milvus_client, settings, MatchState(redis_client, settings.bus.results_maxlen)
    )


def frames(camera: str) -> list:
    """Ada and a stranger; the tracker loses ada (t1) at frame 6, she is back as t3 at frame 9;
    the stranger's track ends for good; then the end of stream."""
    out = []
    for seq in range(6):
        out.append(
            msg(
                camera,
                seq,
                ["t1", "t2"],
                [unit(100 + seq, base=ADA, noise=0.03), unit(200 + seq, base=STRANGER, noise=0.03)],
            )
        )
    out.append(msg(camera, 6, ["t2"], ended=["t1"]))
    out.append(msg(camera, 7, ["t2"], [unit(207, base=STRANGER, noise=0.03)]))
    out.append(msg(camera, 8, [], ended=["t2"]))
    for seq in range(9, 12):
        out.append(msg(camera, seq, ["t3"], [unit(300 + seq, base=ADA, noise=0.03)]))
    out.append(msg(camera, 12, [], ts=40.0))  # far past the re-id window: t2 ends
    out.append(msg(camera, 13, [], kind="eos", ts=40.1))
    return out


def results(redis_client, camera: str) -> list[dict]:
    rows = [codec.decode(f[b"m"]) for _, f in redis_client.xrange(keys.RESULTS)]
    rows = [r for r in rows if r["camera"] == camera]
    labels: dict[str, str] = {}
    for r in rows:  # labels are random per new stranger: compare them by order of appearance
        r.pop("camera")
        r.pop("capture_time", None)
        if (r.get("label") or "").startswith("unknown-"):
            r["label"] = labels.setdefault(r["label"], f"unknown-{len(labels)}")
    return rows


def process(h: MatchHandler, m) -> None:
    """What the runtime does with one entry: handle, then commit (publish + done + state)."""
    outputs = h.handle(m)
    assert h.commit(m, outputs)


@pytest.mark.parametrize("kill_at", [3, 7, 10])
def test_a_matcher_replaced_mid_run_reports_what_an_undisturbed_one_does(
    redis_client, milvus_client, settings, kill_at: int
) -> None:
    h = stateful(redis_client, milvus_client, settings)
    for m in frames("calm"):
        process(h, m)
    h = stateful(redis_client, milvus_client, settings)
    for m in frames("killed"):
        if m.seq == kill_at:
            h.handle(m)  # killed after handling, before its commit: nothing of it is kept
            h = stateful(redis_client, milvus_client, settings)
        process(h, m)
        if m.seq == kill_at:  # killed after the commit, before the ack: the redelivery is a no-op
            h = stateful(redis_client, milvus_client, settings)
            assert h.handle(m) == [] and h.commit(m, [])
    calm, killed = results(redis_client, "calm"), results(redis_client, "killed")
    assert killed == calm
    events = [(r["event"], r["track_id"]) for r in calm if "event" in r]
    assert events.count(("start", "t1")) == events.count(("end", "t1")) == 1
    assert ("start", "t3") not in events and ("end", "t2") in events
    assert {r["name"] for r in calm if r.get("track_id") == "t1" and "event" not in r} == {"ada"}
    progress = redis_client.hgetall(keys.progress("killed", "r1"))
    assert int(progress[b"done"]) == 13 and progress[b"finished"] == b"1"


def test_without_kept_state_a_replaced_matcher_forgets(redis_client, milvus_client, settings):
    """The failure the state prevents: a matcher restarted with memory only starts t1 again."""
    h = handler(redis_client, milvus_client, settings)
    out = []
    for m in frames("c")[:8]:
        if m.seq == 4:
            h = handler(redis_client, milvus_client, settings)
        out += [r for _, r in h.handle(m)]
        h.committed(m)
    starts = [r["track_id"] for r in out if r.get("event") == "start"]
    assert starts.count("t1") == 2  # what a restart did before the state was kept
    assert np.isfinite([r["score"] for r in out]).all()
