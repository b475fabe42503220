"""API keys over HTTP (admin keys): list, create, revoke; as `facestream keys`.

A key's secret is in the answer to its creation only; Redis keeps its SHA-256 (facestream/apikeys.py).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field

from facestream.api.auth import allow, caller, context
from facestream.api.models import COLLECTION, Body
from facestream.api.problems import Problem
from facestream.apikeys import ApiKey

router = APIRouter(prefix="/v1/keys", tags=["keys"])


class KeyIn(Body):
    role: Literal["read", "write", "admin"]
    collection: str | None = Field(
        None,
        pattern=COLLECTION,
        description="the collection of a read or write key; none for admin",
    )


class KeyOut(BaseModel):
    key_id: str
    role: str
    collection: str | None
    created: float  # epoch seconds


class NewKeyOut(KeyOut):
    key: str = Field(description="the key itself: shown in this answer only, never stored")


@router.get("", response_model=list[KeyOut])
def list_keys(request: Request, key: ApiKey = Depends(caller)) -> list[KeyOut]:
    allow(key, "admin", None)
    return [KeyOut(**vars(k)) for k in context(request).keys.all()]


@router.post("", status_code=201, response_model=NewKeyOut)
def create_key(body: KeyIn, request: Request, key: ApiKey = Depends(caller)) -> NewKeyOut:
    allow(key, "admin", None)
    if body.role == "admin" and body.collection is not None:
        raise Problem(
            422, "collection: an admin key has every collection; expected none", "collection"
        )
    if body.role != "admin":
        if body.collection is None:
            raise Problem(422, f"collection: a {body.role} key needs a collection", "collection")
        if not context(request).collections.exists(body.collection):
            raise Problem(404, f"collection {body.collection!r}: no such collection", "collection")
    record, secret = context(request).keys.create(body.role, body.collection)
    return NewKeyOut(**vars(record), key=secret)


@router.delete("/{key_id}", status_code=204)
def revoke_key(
    request: Request,
    key_id: str = Path(pattern=r"^k[0-9a-f]{8}$", description="a key's id (not the key)"),
    key: ApiKey = Depends(caller),
) -> Response:
    """Revoke a key: requests with it get 401 at once, and its web sessions end."""
    allow(key, "admin", None)
    if not context(request).keys.revoke(key_id):
        raise Problem(404, f"key {key_id}: no such key", "key_id")
    return Response(status_code=204)
