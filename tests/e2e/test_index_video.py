"""Index mode on a real clip: hamilton_360p's faces tracked, best shots kept, grouped by identity.

Shots (../shared/README.md): 0-19 wide stage view, 20-81 Lin-Manuel Miranda in profile, 82-210
his frontal medium shot, 211-274 the audience (four faces).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import Settings
from facestream.engine import FaceEngine
from facestream.indexing.jobs import REVIEW, IndexJobs
from facestream.indexing.review import Review

pytestmark = pytest.mark.slow
FRONTAL, AUDIENCE = range(82, 211), range(211, 275)


def test_hamilton_frontal_shot_in_one_group_audience_in_their_own(
    settings: Settings, redis_client, milvus_client, shared_dir: Path
) -> None:
    clip = str((shared_dir / "media" / "hamilton_360p.mp4").resolve())
    engine = FaceEngine(settings)
    jobs = IndexJobs(redis_client)
    job = jobs.create([clip], engine.embedder.name, announce=False)
    status = jobs.run(job, engine, settings, 0.92)
    assert status.state == REVIEW and not status.failed
    groups = Review(redis_client).groups()
    group_of = {f.cid: g.group for g in groups for f in g.faces}
    faces = [f for g in groups for f in g.faces]
    frontal = {group_of[f.cid] for f in faces if f.candidate.frame in FRONTAL}
    assert len(frontal) == 1, f"the frontal shot spread over groups {frontal}"
    tracks: dict[str, set[str]] = {}
    for f in faces:
        assert f.candidate.track, "a video face belongs to a track"
        tracks.setdefault(f.candidate.track, set()).add(group_of[f.cid])
    assert all(len(g) == 1 for g in tracks.values()), "a track is never split across groups"
    audience = {group_of[f.cid] for f in faces if f.candidate.frame in AUDIENCE}
    assert len(audience) >= 3, f"the audience's four faces: groups {audience}"
    for g in groups:
        frames = [f.candidate.frame for f in g.faces]
        if g.group in audience:  # an audience member's group holds nobody from the stage
            assert all(fr in AUDIENCE for fr in frames), (g.group, frames)
    assert frontal.isdisjoint(audience)
    # faces seen at the same time are different people: their tracks never share a group
    spans = {f.candidate.track: (f.candidate.first_frame, f.candidate.last_frame) for f in faces}
    for a, (a0, a1) in spans.items():
        for b, (b0, b1) in spans.items():
            if a < b and a0 <= b1 and b0 <= a1:
                assert tracks[a] != tracks[b], (a, b)
