"""Per-camera identity of tracks, after the embedder: votes, running embeddings, lost-and-found.

The tracker runs before the embedder (DESIGN.md section 2), so when a face
comes back somewhere its motion cannot explain (it left the frame, or stayed
hidden too long) the tracker can only start a new track. The first embedding
of that new track arrives here; if it matches the running embedding of a
track last seen at most ``reid_window_s`` ago, and not at the same time as the
new one, the new tracker id becomes an alias and its faces are reported under
the old track id: the lost track comes back under its old id. So that a track
is announced as ended only once, a track the tracker ended is kept (not
``alive``) for ``reid_window_s`` and only then returned by ``expire``.

The opposite mistake happens too: a track lost behind another face is taken
up by motion, but by a different person (the tracker, before the embedder,
has only the boxes). So when a tracker id reappears after ``reacquire_gap_s``
unseen, its next embedding is checked against the track's running embedding;
below ``split_below`` the face is split off onto a new track (which may then
be found to be an older one), and the old track waits to be found again.

The book is the one owner of identity across a track's life: which reported
track a tracker id belongs to (``get``), who the track is (its vote), when that
is announced (``announce``) and whether it is nobody enrolled (``is_unknown``).
A reported track (``BookTrack``) goes through these states::

    seen(new tracker id) -> LIVE: owned by a tracker id, reported under display_id
    LIVE --embedded: young, looks like a track lost or ended lately--> merged into it (gone)
    LIVE --embedded: reacquired after a gap, looks like someone else--> split: the face
         starts a new LIVE track; this one is WAITING (no owner)
    LIVE --end(owner) by the tracker--> WAITING (alive=False), for reid_window_s
    WAITING --a young track is found to be it (the young one merges into it)--> LIVE
    WAITING --expire: reid_window_s unseen, or finish()--> ENDED (the 'end' event)

Everything here follows the order of frames only (no wall clock, no other
process), so the outcome is the same however many detectors ran.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from config.sections import MatchSettings, TrackSettings
from tracker.identity import IdentityVote

logger = logging.getLogger(__name__)
# a tracker id unseen this long and back may follow someone else now: the book checks its next
# faces, and the shot picker (tracker/shots.py) gives it first shots again so that there are faces
REACQUIRE_GAP_S = 0.3


@dataclass
class BookParams:
    reid_window_s: float = TrackSettings().reid_window_s  # how long an ended track may come back
    reid_min_similarity: float = (
        0.92  # cosine between the new face and the old track's running embedding
    )
    reid_margin: float = 0.02  # over the second-best old track
    reid_young_s: float = 1.0  # a new track may be found to be an old one during its first second
    check_faces: int = 3  # embeddings checked after a track is reacquired by motion
    momentum: float = 0.8  # running embedding = m * old + (1 - m) * new
    # an 'unknown' verdict needs this many embeddings
    unknown_min_observations: int = MatchSettings().unknown_min_observations
    unknown_below: float = 0.89  # ... all with a best mean under this (calibrated: see README)
    reacquire_gap_s: float = REACQUIRE_GAP_S  # a tracker id unseen this long and back: check it
    split_below: float = 0.85  # ... and split it off when it is less similar than this to the track


@dataclass
class _Check:
    """A track reacquired by motion: its next faces must look like it did before the gap."""

    last_ts: float  # before the gap
    last_frame: int
    reference: np.ndarray  # its running embedding before the gap
    left: int  # embeddings still to check


@dataclass
class BookTrack:
    display_id: str  # the id reported in results
    vote: IdentityVote
    first_ts: float
    last_ts: float
    first_frame: int
    last_frame: int
    owner: str  # the tracker id currently reporting under display_id
    embedding: np.ndarray | None = field(default=None, repr=False)
    named: str | None = None  # person id announced in the last 'identified' event
    unknown_label: str | None = None
    frames: int = 0
    alive: bool = True  # False once the tracker ended its owner; it may still come back
    origin: str = (
        ""  # the tracker id it was created for (a track may look for a lost one only then)
    )
    verify: _Check | None = field(default=None, repr=False)  # reacquired by motion: faces to check


@dataclass
class Embedded:
    """What one embedding did to the book."""

    track: BookTrack  # the face's track: maybe an older one it was found to be
    identity_changed: bool  # its vote's person changed
    merged: BookTrack | None = None  # the young track merged into ``track`` (now gone), if any
    split_from: BookTrack | None = (
        None  # the track this face was split off from (it waits to be found)
    )


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float32).reshape(-1)
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


class TrackBook:
    """Maps tracker ids to reported tracks and keeps each track's evidence."""

    def __init__(self, make_vote: Callable[[], IdentityVote], params: BookParams | None = None):
        self.make_vote = make_vote
        self.params = params or BookParams()
        self.tracks: dict[str, BookTrack] = {}  # display id -> track
        self._alias: dict[str, str] = {}  # tracker id -> display id
        self.reidentified = 0
        self.splits = 0
        # labels of ended tracks, as (label, first frame, last frame): a track still in the book may
        # have been on screen with them, so their labels stay forbidden to it (``labels_beside``)
        self.ended_labels: list[tuple[str, int, int]] = []

    def get(self, tracker_id: str) -> BookTrack | None:
        display = self._alias.get(tracker_id)
        return self.tracks.get(display) if display is not None else None

    def seen(self, tracker_id: str, frame: int, ts: float) -> tuple[BookTrack, bool]:
        """The track a face of ``tracker_id`` belongs to at ``frame``; True when it starts here."""
        tr = self.get(tracker_id)
        display = tracker_id
        if tr is not None and tr.owner != tracker_id:
            if tr.last_frame < frame:
                # the tracker took up its old id again by motion, and the new id its face had been found
                # to be is not in this frame: the tracker let that one go, the track is the old id's again
                tr.owner, tr.alive = tracker_id, True
                self._check_next_faces(tr)  # by motion only
            else:  # both ids in one frame: two faces, the old id's is someone else
                tr, display = None, f"{tracker_id}.{frame}"
        started = tr is None
        if tr is None:
            tr = self._new_track(display, tracker_id, frame, ts)
        elif ts - tr.last_ts >= self.params.reacquire_gap_s and tr.embedding is not None:
            self._check_next_faces(tr)
        tr.last_ts, tr.last_frame = max(tr.last_ts, ts), max(tr.last_frame, frame)
        tr.frames += 1
        return tr, started

    def embedded(self, tracker_id: str, vector: np.ndarray, scores: dict[str, float]) -> Embedded:
        """One embedding (and its gallery scores) of a face of ``tracker_id``, already ``seen``."""
        tr = self.get(tracker_id)
        if tr is None:
            raise KeyError(f"tracker id {tracker_id!r}: embedded before seen")
        v = _unit(vector)
        merged = split_from = None
        check = tr.verify
        if check is not None:
            check.left -= 1
            if check.left <= 0:
                tr.verify = None
            if (
                len(check.reference) == len(v)
                and float(check.reference @ v) < self.params.split_below
            ):
                tr.verify = None
                split_from, tr = tr, self._split(tr, tracker_id, check)
        # a young track may be a lost one back: its first faces (entering at the border, turned) can be
        # poor; once it has a name of its own it stays what it is (a merge then would be an id switch)
        if (
            tr.origin == tracker_id
            and tr.owner == tracker_id
            and tr.last_ts - tr.first_ts <= self.params.reid_young_s
            and tr.vote.person_id is None
        ):
            old = self._lost_match(tr, v)
            if old is not None:
                self._merge(tr, old)
                merged, tr = tr, old
        tr.embedding = (
            v
            if tr.embedding is None
            else _unit(self.params.momentum * tr.embedding + (1 - self.params.momentum) * v)
        )
        changed = tr.vote.add(scores, self.people_beside(tr))
        person = tr.vote.person_id
        if changed and person is not None:
            # it took the person from the faces beside it that were them with a lower score
            for other in self._beside(tr):
                if other.vote.person_id == person:
                    other.vote.forfeit(person)
        return Embedded(tr, changed, merged, split_from)

    def announce(self, tr: BookTrack) -> str | None:
        """The person to announce as who ``tr`` is, once per change of person; None: nothing new."""
        person = tr.vote.person_id
        if person is None or person == tr.named:
            return None
        tr.named = person
        return person

    def is_unknown(self, tr: BookTrack) -> bool:
        """Enough evidence that the track is nobody enrolled (a calibrated 'unknown')."""
        p = self.params
        return (
            tr.vote.person_id is None
            and tr.vote.observations >= p.unknown_min_observations
            and tr.vote.score < p.unknown_below
        )

    def end(self, tracker_ids: list[str] | tuple[str, ...]) -> None:
        """The tracker ended these ids: their tracks may still come back for ``reid_window_s``."""
        for tid in tracker_ids:
            display = self._alias.pop(tid, None)
            tr = self.tracks.get(display) if display is not None else None
            if (
                tr is not None and tr.owner == tid
            ):  # else its track lives on under another tracker id
                tr.alive = False

    def expire(self, now_ts: float) -> list[BookTrack]:
        """Tracks ended by the tracker that can no longer come back: they end now."""
        out = [
            tr
            for tr in self.tracks.values()
            if not tr.alive and now_ts - tr.last_ts > self.params.reid_window_s
        ]
        for tr in out:
            del self.tracks[tr.display_id]
            if tr.unknown_label is not None:
                self.ended_labels.append((tr.unknown_label, tr.first_frame, tr.last_frame))
        if self.ended_labels:  # only tracks that started before an ended one ended can overlap it
            first = min((tr.first_frame for tr in self.tracks.values()), default=None)
            self.ended_labels = [
                e for e in self.ended_labels if first is not None and e[2] >= first
            ]
        return out

    def finish(self) -> list[BookTrack]:
        out = list(self.tracks.values())
        self.tracks.clear()
        self._alias.clear()
        self.ended_labels.clear()
        return out

    def people_beside(self, tr: BookTrack) -> dict[str, float]:
        """The people that the camera's other tracks overlapping ``tr`` in time are, each with the
        best score of a track that is them: ``tr`` cannot be one of them as well."""
        held: dict[str, float] = {}
        for other in self._beside(tr):
            person = other.vote.person_id
            if person is not None:
                held[person] = max(held.get(person, -1.0), other.vote.score)
        return held

    def _beside(self, tr: BookTrack) -> list[BookTrack]:
        """The camera's other tracks that overlap ``tr`` in time (on screen together with it)."""
        return [
            other
            for other in self.tracks.values()
            if other is not tr
            and other.first_frame <= tr.last_frame
            and tr.first_frame <= other.last_frame
        ]

    def labels_beside(self, tr: BookTrack) -> set[str]:
        """Unknown labels ``tr`` must not get: those of the camera's other tracks that overlap it in
        time. Two faces on screen together are two people (a cannot-link constraint), however alike
        their embeddings look."""
        out = {other.unknown_label for other in self._beside(tr) if other.unknown_label is not None}
        out.update(
            label
            for label, first, last in self.ended_labels
            if first <= tr.last_frame and tr.first_frame <= last
        )
        return out

    # ------------------------------------------------------------------------------------
    def _new_track(self, display: str, tracker_id: str, frame: int, ts: float) -> BookTrack:
        tr = BookTrack(
            display, self.make_vote(), ts, ts, frame, frame, owner=tracker_id, origin=tracker_id
        )
        self.tracks[display] = tr
        self._alias[tracker_id] = display
        return tr

    def _check_next_faces(self, tr: BookTrack) -> None:
        if tr.embedding is not None and tr.verify is None:
            tr.verify = _Check(
                tr.last_ts, tr.last_frame, tr.embedding.copy(), self.params.check_faces
            )

    def _split(self, tr: BookTrack, tracker_id: str, check: _Check) -> BookTrack:
        """``tracker_id`` now follows someone else than ``tr``: a new track for it; ``tr`` may come back.

        The faces reported under ``tr`` since the gap stay reported; the track goes back to how it
        was before the gap (its last sighting, its appearance) and waits to be found."""
        frame, ts = tr.last_frame, tr.last_ts
        logger.debug(
            "track %s: tracker id %s took up a different face by frame %d: split off",
            tr.display_id,
            tracker_id,
            frame,
        )
        tr.last_ts, tr.last_frame, tr.embedding = check.last_ts, check.last_frame, check.reference
        tr.owner, tr.alive = "", False
        new = self._new_track(f"{tracker_id}.{frame}", tracker_id, frame, ts)
        new.frames = 1
        self.splits += 1
        return new

    def _lost_match(self, new: BookTrack, v: np.ndarray) -> BookTrack | None:
        p = self.params
        candidates = [
            tr
            for tr in self.tracks.values()
            if tr is not new
            and tr.embedding is not None
            and len(tr.embedding) == len(v)
            and tr.last_ts < new.first_ts
            and new.first_ts - tr.last_ts <= p.reid_window_s
        ]
        if not candidates:
            return None
        sims = np.array([float(tr.embedding @ v) for tr in candidates])
        above = [i for i in np.argsort(-sims) if sims[i] >= p.reid_min_similarity]
        if not above:
            return None
        # several old tracks of one person (an earlier shot, an earlier visit): the latest one; but two
        # different people close to each other is no evidence at all
        people = {candidates[i].vote.person_id for i in above}
        best, second = (
            sims[above[0]],
            max((sims[i] for i in range(len(sims)) if i != above[0]), default=-1.0),
        )
        if len(people) == 1 and None not in people:
            return max((candidates[i] for i in above), key=lambda tr: tr.last_ts)
        return candidates[above[0]] if best - second >= p.reid_margin else None

    def _merge(self, new: BookTrack, old: BookTrack) -> None:
        logger.debug(
            "track %s is %s again (last seen %.2f s before)",
            new.owner,
            old.display_id,
            new.first_ts - old.last_ts,
        )
        del self.tracks[new.display_id]
        self._alias[new.owner] = old.display_id
        old.owner = new.owner
        old.alive = True
        old.last_ts, old.last_frame = (
            max(old.last_ts, new.last_ts),
            max(old.last_frame, new.last_frame),
        )
        old.frames += new.frames
        self.reidentified += 1
