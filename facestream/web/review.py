"""The Review page: unknown labels from the cameras (label one as a person, reject, merge), as
`facestream unknowns` does, and the groups of index jobs (label, reject, merge, move a face,
commit), as `facestream review` does."""

from __future__ import annotations

import logging
import re

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from config.errors import ConfigError
from facestream.api.auth import context
from facestream.api.problems import Problem
from facestream.indexing.review import Review
from facestream.indexing.unknown_review import UnknownReview
from facestream.web.pages import redirect_back, require_collection
from facestream.web.render import check_csrf, page, signed_in, visible_collections
from workers.gallery.unknowns import list_unknowns

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
CID = re.compile(r"^c-[A-Za-z0-9_-]{1,64}$")


@router.get("/review")
def review_home(request: Request) -> Response:
    session = signed_in(request)
    names = visible_collections(request, session)
    if not names:
        raise Problem(403, f"key {session.key.key_id}: expected a key with a collection")
    return RedirectResponse(f"/review/{names[0]}", status_code=303)


@router.get("/review/{collection}")
def review(request: Request, collection: str) -> Response:
    session = signed_in(request)
    require_collection(request, session, "read", collection)
    client = context(request).services.redis
    found = sorted(list_unknowns(client, collection), key=lambda u: -u.last_seen)
    return page(
        "review.html", request, title="Review", page="Review", session=session,
        collections=visible_collections(request, session), collection=collection,
        unknowns=found, groups=Review(client, collection).groups(),
    )  # fmt: skip


@router.get("/review/{collection}/faces/{cid}")
def face(request: Request, collection: str, cid: str) -> Response:
    session = signed_in(request)
    require_collection(request, session, "read", collection)
    if not CID.fullmatch(cid):
        raise Problem(422, f"face: expected a candidate id c-…, got {cid[:40]!r}", "cid")
    found = Review(context(request).services.redis, collection).store.candidates([cid])
    if not found or not found[0].candidate.thumbnail:
        raise Problem(404, f"face {cid!r}: not under review", "cid")
    return Response(found[0].candidate.thumbnail, media_type="image/jpeg")


@router.post("/review/{collection}/unknowns/{label}")
def unknown_action(
    request: Request, collection: str, label: str, csrf: str = Form(""),
    action: str = Form(""), name: str = Form("", max_length=100),
    others: str = Form("", max_length=2000),
) -> Response:  # fmt: skip
    session = signed_in(request)
    check_csrf(session, csrf)
    require_collection(request, session, "write", collection)
    ctx = context(request)
    reviewing = UnknownReview(ctx.gallery(collection), ctx.settings.index.best_per_person)
    try:
        if action == "label":
            report = reviewing.label(label, name)
            n = sum(report.enrolled.values())
            done = f"{label} enrolled as {report.name}: {n} faces"
        elif action == "reject":
            done = f"{label} rejected: {reviewing.reject(label)} faces dropped"
        elif action == "merge":
            reviewing.merge(label, others.split())
            done = f"merged into {label}"
        else:
            raise ConfigError(f"action: expected label, reject or merge, got {action!r}")
    except ConfigError as exc:
        return redirect_back(f"/review/{collection}", error=str(exc))
    return redirect_back(f"/review/{collection}", notice=done)


@router.post("/review/{collection}/groups/{group}")
def group_action(
    request: Request, collection: str, group: str, csrf: str = Form(""),
    action: str = Form(""), name: str = Form("", max_length=100),
    others: str = Form("", max_length=2000), face: str = Form("", max_length=80),
) -> Response:  # fmt: skip
    session = signed_in(request)
    check_csrf(session, csrf)
    require_collection(request, session, "write", collection)
    reviewing = Review(context(request).services.redis, collection)
    try:
        if action == "label":
            reviewing.label(group, name) if name.strip() else reviewing.unlabel(group)
            done = f"{group} labelled {name.strip()}" if name.strip() else f"{group} unlabelled"
        elif action == "reject":
            done = f"{group} rejected: {reviewing.reject(group)} faces dropped"
        elif action == "merge":
            reviewing.merge(group, others.split())
            done = f"merged into {group}"
        elif action == "move":
            reviewing.move(face.strip(), group)
            done = f"{face.strip()} moved to {group}"
        else:
            raise ConfigError(f"action: expected label, reject, merge or move, got {action!r}")
    except ConfigError as exc:
        return redirect_back(f"/review/{collection}", error=str(exc))
    return redirect_back(f"/review/{collection}", notice=done)


@router.post("/review/{collection}/commit")
def commit(request: Request, collection: str, csrf: str = Form("")) -> Response:
    session = signed_in(request)
    check_csrf(session, csrf)
    require_collection(request, session, "write", collection)
    ctx = context(request)
    gallery = ctx.gallery(collection)
    report = Review(ctx.services.redis, collection).commit(
        gallery.people, gallery.index, ctx.settings.index.best_per_person
    )
    names = ", ".join(f"{n} ({k})" for n, k in sorted(report.enrolled.items())) or "nobody"
    return redirect_back(
        f"/review/{collection}", notice=f"enrolled {names}; {report.left} groups left"
    )
