"""Identify the faces of a photo, and look-alike search (read keys of the collection)."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, Depends, File, Query, Request, UploadFile

from facestream.api.auth import allow, caller, context
from facestream.api.models import Candidate, IdentifiedFace, IdentifyOut, SearchOut
from facestream.api.problems import Problem
from facestream.api.routes.collections import CollectionPath, existing
from facestream.api.uploads import read_upload
from facestream.apikeys import ApiKey
from tracker.identity import IdentityVote

router = APIRouter(prefix="/v1/collections/{collection}", tags=["recognition"])
CANDIDATES = 5  # per identified face: enough to see how close the runner-up was


def _prepare(request: Request, key: ApiKey, collection: str, image: UploadFile):
    ctx = context(request)
    allow(key, "read", collection)
    existing(request, collection)
    upload = read_upload(image, ctx.settings.api)
    engine = ctx.engine()
    model = engine.embedder.name
    gallery = ctx.gallery(collection)
    found = engine.faces_in_rgb(upload.rgb, upload.name)
    return ctx, upload, model, gallery, found


def _box(found, i: int) -> list[float]:
    w, h = found.width, found.height
    return [round(float(v), 1) for v in found.faces.xyxy[i].clip(0, [w, h, w, h])]


@router.post("/identify", response_model=IdentifyOut)
def identify(
    request: Request,
    collection: str = CollectionPath,
    image: UploadFile = File(description="a photo"),
    key: ApiKey = Depends(caller),
) -> IdentifyOut:
    ctx, upload, model, gallery, found = _prepare(request, key, collection, image)
    threshold = ctx.services.threshold(model)
    matches = gallery.index(model).search(found.embeddings, ctx.settings.match.top_k)
    names = gallery.people.names(sorted({pid for m in matches for pid in m}))
    faces = []
    for i, scores in enumerate(matches):
        # one photo is one observation: the same decision rule as a track's first embedding
        vote = IdentityVote(threshold, ctx.settings.match.margin)
        vote.add(scores)
        best = sorted(scores.items(), key=lambda kv: -kv[1])[:CANDIDATES]
        faces.append(
            IdentifiedFace(
                bbox=_box(found, i),
                name=names.get(vote.person_id) if vote.person_id else None,
                person_id=vote.person_id,
                score=round(float(vote.score), 4),
                candidates=[
                    Candidate(person_id=p, name=names.get(p), score=round(s, 4)) for p, s in best
                ],
            )
        )
    return IdentifyOut(image=upload.name, model=model, threshold=threshold, faces=faces)


@router.post("/search", response_model=SearchOut)
def search(
    request: Request,
    collection: str = CollectionPath,
    image: UploadFile = File(description="a photo; its largest face is searched"),
    k: int = Query(5, ge=1, le=100, description="how many people"),
    min_score: float = Query(-1.0, ge=-1.0, le=1.0, description="lowest similarity returned"),
    key: ApiKey = Depends(caller),
) -> SearchOut:
    ctx, upload, model, gallery, found = _prepare(request, key, collection, image)
    if len(found.faces) == 0:
        raise Problem(422, f"image {upload.name!r}: expected a face, found none", "image")
    i = int(np.argmax(found.faces.area))
    # several vectors per person: ask for more neighbours than people, keep each person's best
    (best,) = gallery.index(model).search(found.embeddings[i : i + 1], top_k=max(50, 10 * k))
    ranked = [(p, s) for p, s in sorted(best.items(), key=lambda kv: -kv[1]) if s >= min_score][:k]
    names = gallery.people.names([p for p, _ in ranked])
    note = f"{len(found.faces)} faces: searched the largest" if len(found.faces) > 1 else None
    return SearchOut(
        image=upload.name,
        model=model,
        bbox=_box(found, i),
        threshold=ctx.services.threshold(model),
        people=[Candidate(person_id=p, name=names.get(p), score=round(s, 4)) for p, s in ranked],
        note=note,
    )
