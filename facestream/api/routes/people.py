"""People of a collection and their faces (write keys of the collection, or admin)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Path, Query, Request, Response, UploadFile

from facestream import thumbnails
from facestream.api.auth import allow, caller, context
from facestream.api.gate import judge
from facestream.api.models import PERSON_ID, FaceOut, PeoplePage, PersonIn, PersonOut
from facestream.api.problems import Problem
from facestream.api.routes.collections import CollectionPath, existing
from facestream.api.uploads import read_uploads
from facestream.apikeys import ApiKey
from workers.gallery.collections import Gallery
from workers.gallery.people import Person

router = APIRouter(prefix="/v1/collections/{collection}/people", tags=["people"])
PersonPath = Path(pattern=PERSON_ID, description="a person id (p-<12 hex digits>)")


def _gallery(request: Request, key: ApiKey, role: str, collection: str) -> Gallery:
    allow(key, role, collection)
    existing(request, collection)
    return context(request).gallery(collection)


def _person(gallery: Gallery, person_id: str) -> Person:
    person = gallery.people.get(person_id)
    if person is None:
        raise Problem(404, f"person {person_id!r}: not in collection {gallery.name!r}", "person_id")
    return person


def _out(person: Person) -> PersonOut:
    return PersonOut(id=person.person_id, name=person.name, faces=person.faces)


@router.get("", response_model=PeoplePage)
def list_people(
    request: Request,
    collection: str = CollectionPath,
    offset: int = Query(0, ge=0, le=1_000_000),
    limit: int = Query(50, ge=1, le=500),
    key: ApiKey = Depends(caller),
) -> PeoplePage:
    everyone = _gallery(request, key, "read", collection).people.all()
    page = [_out(p) for p in everyone[offset : offset + limit]]
    return PeoplePage(people=page, total=len(everyone), offset=offset, limit=limit)


@router.post("", status_code=201, response_model=PersonOut)
def create_person(
    body: PersonIn,
    request: Request,
    collection: str = CollectionPath,
    key: ApiKey = Depends(caller),
) -> PersonOut:
    people = _gallery(request, key, "write", collection).people
    if people.find(body.name) is not None:
        raise Problem(409, f"name {body.name!r}: a person of this name exists already", "name")
    person_id = people.get_or_create(body.name)
    return PersonOut(id=person_id, name=body.name.strip())


@router.get("/{person_id}", response_model=PersonOut)
def get_person(
    request: Request,
    collection: str = CollectionPath,
    person_id: str = PersonPath,
    key: ApiKey = Depends(caller),
) -> PersonOut:
    return _out(_person(_gallery(request, key, "read", collection), person_id))


@router.patch("/{person_id}", response_model=PersonOut)
def rename_person(
    body: PersonIn,
    request: Request,
    collection: str = CollectionPath,
    person_id: str = PersonPath,
    key: ApiKey = Depends(caller),
) -> PersonOut:
    gallery = _gallery(request, key, "write", collection)
    _person(gallery, person_id)
    gallery.people.rename(person_id, body.name)
    return _out(_person(gallery, person_id))


@router.delete("/{person_id}", status_code=204)
def delete_person(
    request: Request,
    collection: str = CollectionPath,
    person_id: str = PersonPath,
    key: ApiKey = Depends(caller),
) -> Response:
    from facestream.erasure import erase_person

    gallery = _gallery(request, key, "write", collection)
    _person(gallery, person_id)
    erase_person(context(request).services, collection, person_id)
    return Response(status_code=204)


@router.post("/{person_id}/faces")
def add_faces(
    request: Request,
    collection: str = CollectionPath,
    person_id: str = PersonPath,
    image: list[UploadFile] = File(description="one or more photos of the person"),
    force: bool = Query(False, description="enroll faces the quality gate refuses"),
    key: ApiKey = Depends(caller),
) -> dict:
    ctx = context(request)
    gallery = _gallery(request, key, "write", collection)
    _person(gallery, person_id)
    uploads = read_uploads(image, ctx.settings.api)  # every file checked before any model runs
    engine = ctx.engine()
    model = engine.embedder.name
    index = gallery.index(model)
    verdicts = []
    for upload in uploads:
        found = engine.faces_in_rgb(upload.rgb, upload.name)
        verdict = judge(upload.rgb, found.faces, ctx.settings.api)
        row: dict = {"image": upload.name, "faces_found": len(found.faces)}
        if verdict is None:
            verdicts.append(row | {"enrolled": False, "reasons": ["no face found"]})
            continue
        row.update(bbox=verdict.bbox, quality=verdict.measures)
        if len(found.faces) > 1:
            row["note"] = f"{len(found.faces)} faces: the largest was taken"
        if verdict.refused and not force:
            verdicts.append(row | {"enrolled": False, "reasons": verdict.refused})
            continue
        (face_id,) = index.insert(person_id, found.embeddings[verdict.index : verdict.index + 1])
        gallery.people.add_faces(person_id, model, 1)
        thumbnails.store(
            ctx.services.redis, person_id, str(face_id), thumbnails.cut(upload.rgb, verdict.bbox)
        )
        row.update(enrolled=True, face_id=str(face_id), model=model)
        if verdict.refused:
            row["forced_past"] = verdict.refused
        verdicts.append(row)
    return {"person_id": person_id, "images": verdicts}


@router.get("/{person_id}/faces", response_model=list[FaceOut])
def list_faces(
    request: Request,
    collection: str = CollectionPath,
    person_id: str = PersonPath,
    key: ApiKey = Depends(caller),
) -> list[FaceOut]:
    from workers.models.registry import MODELS

    gallery = _gallery(request, key, "read", collection)
    person = _person(gallery, person_id)
    return [
        FaceOut(face_id=str(face_id), model=model)
        for model in MODELS
        if person.faces.get(model)
        for face_id in gallery.index(model).faces(person_id)
    ]


@router.delete("/{person_id}/faces/{face_id}", status_code=204)
def delete_face(
    request: Request,
    collection: str = CollectionPath,
    person_id: str = PersonPath,
    face_id: int = Path(ge=0, le=2**63 - 1, description="a face id from GET .../faces"),
    key: ApiKey = Depends(caller),
) -> Response:
    from workers.models.registry import MODELS

    gallery = _gallery(request, key, "write", collection)
    person = _person(gallery, person_id)
    for model in MODELS:
        if person.faces.get(model) and gallery.index(model).delete_face(person_id, face_id):
            gallery.people.add_faces(person_id, model, -1)
            thumbnails.forget(context(request).services.redis, person_id, str(face_id))
            return Response(status_code=204)
    raise Problem(404, f"face {face_id}: not a face of {person_id}", "face_id")
