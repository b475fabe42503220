"""Unknown labels under review (write keys): label one as a person, reject one, merge some.

Listing them is ``GET /v1/unknowns`` (routes/live.py, read keys). The label is
resolved in the collection of ``?collection=`` (default: the key's own, or
``default`` for an admin key).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from config.errors import ConfigError
from facestream.api.auth import allow, caller, context
from facestream.api.models import (
    COLLECTION,
    UNKNOWN_LABEL,
    UnknownLabelIn,
    UnknownLabelledOut,
    UnknownMergeIn,
)
from facestream.api.problems import Problem
from facestream.api.routes.collections import existing
from facestream.api.routes.live import UnknownOut
from facestream.apikeys import ApiKey
from facestream.indexing.unknown_review import LabelGone, LabelMissing, UnknownReview
from workers.gallery.collections import DEFAULT

router = APIRouter(prefix="/v1/unknowns", tags=["unknowns"])
LabelPath = Path(pattern=UNKNOWN_LABEL, description="an unknown label (unknown-<hex>)")
CollectionQuery = Query(
    None, pattern=COLLECTION, description="default: the key's collection ('default' for admin)"
)


def _review(request: Request, key: ApiKey, collection: str | None) -> UnknownReview:
    collection = collection or (key.collection if key.role != "admin" else None) or DEFAULT
    allow(key, "write", collection)
    existing(request, collection)
    ctx = context(request)
    return UnknownReview(ctx.gallery(collection), ctx.settings.index.best_per_person)


def _refused(exc: LabelMissing | LabelGone, field: str) -> Problem:
    return Problem(404 if isinstance(exc, LabelMissing) else 409, str(exc), field)


@router.post("/{label}/label", response_model=UnknownLabelledOut)
def label_unknown(
    body: UnknownLabelIn,
    request: Request,
    label: str = LabelPath,
    collection: str | None = CollectionQuery,
    key: ApiKey = Depends(caller),
) -> UnknownLabelledOut:
    """The label becomes a person (new, or the one of that name): its most typical vectors are
    enrolled, its past tracks carry the name, and the label is no longer handed out."""
    review = _review(request, key, collection)
    try:
        got = review.label(label, body.name)
    except (LabelMissing, LabelGone) as exc:
        raise _refused(exc, "label") from None
    except ConfigError as exc:  # the path's label is checked by its pattern: this is the name
        raise Problem(422, str(exc), "name") from None
    return UnknownLabelledOut(**got.__dict__)


@router.delete("/{label}", status_code=204)
def reject_unknown(
    request: Request,
    label: str = LabelPath,
    collection: str | None = CollectionQuery,
    key: ApiKey = Depends(caller),
) -> Response:
    """Forget the label: its vectors and counts."""
    review = _review(request, key, collection)
    try:
        review.reject(label)
    except (LabelMissing, LabelGone) as exc:
        raise _refused(exc, "label") from None
    return Response(status_code=204)


@router.post("/{label}/merge", response_model=UnknownOut)
def merge_unknowns(
    body: UnknownMergeIn,
    request: Request,
    label: str = LabelPath,
    collection: str | None = CollectionQuery,
    key: ApiKey = Depends(caller),
) -> UnknownOut:
    """The faces of ``others`` become the label's (two labels found to be one face)."""
    review = _review(request, key, collection)
    try:
        review.check(label)  # the path's label first: a missing one is the path's fault
    except (LabelMissing, LabelGone) as exc:
        raise _refused(exc, "label") from None
    try:
        merged = review.merge(label, body.others)
    except (LabelMissing, LabelGone) as exc:
        raise _refused(exc, "others") from None
    except ConfigError as exc:
        raise Problem(422, str(exc), "others") from None
    return UnknownOut(**{**merged.__dict__, "cameras": list(merged.cameras)})
