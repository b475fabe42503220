"""Request and response bodies (the OpenAPI document is generated from these)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

COLLECTION = r"^[a-z][a-z0-9_]{0,31}$"
PERSON_ID = r"^p-[0-9a-f]{12}$"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CollectionIn(Body):
    name: str = Field(pattern=COLLECTION, description="letters a-z, digits, '_'; a letter first")


class CollectionOut(BaseModel):
    name: str
    people: int


class PersonIn(Body):
    name: str = Field(min_length=1, max_length=64, description="1-64 printable characters")


class PersonOut(BaseModel):
    id: str
    name: str
    faces: dict[str, int] = Field(default_factory=dict, description="embedding model -> faces")


class PeoplePage(BaseModel):
    people: list[PersonOut]
    total: int
    offset: int
    limit: int


class FaceOut(BaseModel):
    face_id: str
    model: str


class Candidate(BaseModel):
    person_id: str
    name: str | None
    score: float


class IdentifiedFace(BaseModel):
    bbox: list[float]
    name: str | None
    person_id: str | None
    score: float
    candidates: list[Candidate]


class IdentifyOut(BaseModel):
    image: str
    model: str
    threshold: float
    faces: list[IdentifiedFace]


class SearchOut(BaseModel):
    image: str
    model: str
    bbox: list[float]
    threshold: float = Field(description="the recognition threshold (results may be below it)")
    people: list[Candidate]
    note: str | None = None


UNKNOWN_LABEL = r"^unknown-[0-9a-f]{1,32}$"


class UnknownLabelIn(Body):
    name: str = Field(
        min_length=1, max_length=64, description="the person's name: a new person, or the one of it"
    )


class UnknownMergeIn(Body):
    others: list[str] = Field(
        min_length=1, max_length=100, description="unknown labels merged into the path's label"
    )


class UnknownLabelledOut(BaseModel):
    label: str
    person_id: str
    name: str
    enrolled: dict[str, int] = Field(description="embedding model -> vectors enrolled")
    vectors: int = Field(description="vectors the label had, over all models")
