"""A ``TrackBook`` as plain values and back, exactly: what the matcher keeps across restarts.

Everything a book decides from is here: every track (its times, frames, owner,
running embedding, vote, pending check, labels) in the book's order, the
tracker-id aliases, the labels of ended tracks, and the counters. Floats stay
doubles and embeddings stay float32 arrays, so a restored book decides the next
frame exactly as the original would have. The book's parameters and its vote
factory are not state: the owner passes them again.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from config.errors import MessageError
from tracker.identity import IdentityVote
from tracker.track_book import BookParams, BookTrack, TrackBook, _Check

STATE_VERSION = 1


def _track(tr: BookTrack) -> list:
    check = tr.verify
    return [
        tr.display_id,
        tr.vote.state(),
        tr.first_ts,
        tr.last_ts,
        tr.first_frame,
        tr.last_frame,
        tr.owner,
        tr.embedding,
        tr.named,
        tr.unknown_label,
        tr.frames,
        tr.alive,
        tr.origin,
        None if check is None else [check.last_ts, check.last_frame, check.reference, check.left],
    ]


def _restore_track(row: list, make_vote: Callable[[], IdentityVote]) -> BookTrack:
    (display, vote, first_ts, last_ts, first_frame, last_frame, owner, emb, named, label) = row[:10]
    frames, alive, origin, check = row[10:]
    return BookTrack(
        display,
        make_vote().restore(vote),
        first_ts,
        last_ts,
        first_frame,
        last_frame,
        owner,
        embedding=None if emb is None else np.array(emb, np.float32),
        named=named,
        unknown_label=label,
        frames=frames,
        alive=alive,
        origin=origin,
        verify=None
        if check is None
        else _Check(check[0], check[1], np.array(check[2], np.float32), check[3]),
    )


def book_state(book: TrackBook) -> dict:
    """The book as plain values (numpy arrays for embeddings), for msgpack."""
    return {
        "v": STATE_VERSION,
        "tracks": [_track(tr) for tr in book.tracks.values()],
        "alias": dict(book._alias),  # this module is the book's other half
        "ended_labels": [list(e) for e in book.ended_labels],
        "reidentified": book.reidentified,
        "splits": book.splits,
    }


def restore_book(
    state: dict, make_vote: Callable[[], IdentityVote], params: BookParams | None = None
) -> TrackBook:
    """The book ``book_state`` described, with ``make_vote`` and ``params`` as its own."""
    if state.get("v") != STATE_VERSION:
        raise MessageError(
            f"track book state field 'v': expected {STATE_VERSION}, got {state.get('v')!r}"
        )
    book = TrackBook(make_vote, params)
    for row in state["tracks"]:
        tr = _restore_track(row, make_vote)
        book.tracks[tr.display_id] = tr
    book._alias.update(state["alias"])
    book.ended_labels = [(str(a), int(b), int(c)) for a, b, c in state["ended_labels"]]
    book.reidentified, book.splits = state["reidentified"], state["splits"]
    return book
