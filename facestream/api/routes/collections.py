"""Collections: list, create, erase (admin keys)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request, Response

from facestream.api.auth import allow, caller, context
from facestream.api.models import COLLECTION, CollectionIn, CollectionOut
from facestream.api.problems import Problem
from facestream.apikeys import ApiKey

router = APIRouter(prefix="/v1/collections", tags=["collections"])
CollectionPath = Path(pattern=COLLECTION, description="a collection name")


def existing(request: Request, collection: str) -> None:
    if not context(request).collections.exists(collection):
        raise Problem(404, f"collection {collection!r}: no such collection", "collection")


@router.get("", response_model=list[CollectionOut])
def list_collections(request: Request, key: ApiKey = Depends(caller)) -> list[CollectionOut]:
    ctx = context(request)
    names = ctx.collections.names()
    if key.role != "admin":  # a tenant's key sees its own collection only
        names = [n for n in names if n == key.collection]
    return [CollectionOut(name=n, people=len(ctx.gallery(n).people.all())) for n in names]


@router.post("", status_code=201, response_model=CollectionOut)
def create_collection(
    body: CollectionIn, request: Request, key: ApiKey = Depends(caller)
) -> CollectionOut:
    allow(key, "admin", None)
    if not context(request).collections.create(body.name):
        raise Problem(409, f"collection {body.name!r}: exists already", "name")
    return CollectionOut(name=body.name, people=0)


@router.delete("/{collection}", status_code=204)
def delete_collection(
    request: Request, collection: str = CollectionPath, key: ApiKey = Depends(caller)
) -> Response:
    from facestream.erasure import erase_collection

    allow(key, "admin", None)
    existing(request, collection)
    erase_collection(context(request).services, collection)
    return Response(status_code=204)
