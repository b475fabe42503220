"""The model registry owns the model facts; a gallery of another model is named, not missed."""

from __future__ import annotations

import numpy as np
import pytest

from config.errors import ConfigError, MessageError
from config.settings import Settings
from facestream.gallery_ops import other_model_only
from workers.gallery import People
from workers.gallery.unknowns import unknowns_collection
from workers.models.registry import AUTO, CHOICES, FACENET, MODELS, spec


def test_every_model_has_its_own_collections_and_sane_thresholds() -> None:
    names = [s.collection() for s in MODELS.values()] + [
        s.collection("unknowns") for s in MODELS.values()
    ]
    assert len(set(names)) == len(names)
    assert all(n.replace("_", "").isalnum() for n in names)  # what Milvus accepts as a name
    for s in MODELS.values():
        assert -1.0 < s.unknown_below < s.threshold < 1.0, s.name
        assert str(s.dim) in s.collection() and s.family in s.collection()
        if s.family == "facenet":  # two weight sets: the weights are in the name
            assert s.weights.replace("-", "_") in s.collection()
    assert set(FACENET) | {"dlib"} == set(MODELS)
    assert all(set(order) == set(MODELS) for order in AUTO.values())
    assert set(CHOICES) == {"auto", "facenet", *MODELS}
    assert unknowns_collection("facenet-casia", 512) == "unknowns_facenet_casia_webface_512"
    with pytest.raises(ConfigError, match="expected dimension 512, got 128"):
        unknowns_collection("facenet-casia", 128)
    with pytest.raises(ConfigError, match="expected one of"):
        spec("facenet")  # plain 'facenet' is a setting, not a model: the registry knows its weights


def test_settings_accept_every_registry_choice_and_no_other() -> None:
    from typing import get_args

    from config.settings import EmbedderName

    assert set(get_args(EmbedderName)) == set(
        CHOICES
    )  # config cannot import workers: a test keeps them one
    for choice in CHOICES:
        assert Settings(embedder=choice).embedder == choice


def test_the_matcher_takes_dimension_and_cutoff_from_the_registry(redis_client) -> None:
    from unittest.mock import MagicMock

    from tracker.faces import Faces
    from workers.match import MatchHandler
    from workers.messages import FrameMeta, FrameMsg, Shots

    handler = MatchHandler(
        redis_client, People(redis_client), MagicMock(), Settings(), lambda m: spec(m).threshold
    )
    book = handler._new_book("facenet-casia")
    assert book.params.unknown_below == MODELS["facenet-casia"].unknown_below
    assert book.params.reid_min_similarity == MODELS["facenet-casia"].threshold
    meta = FrameMeta(
        camera="door", run="r1", seq=1, ts=0.1, capture_time=0.0, width=640, height=360
    )
    shots = Shots((0,), embeddings=np.zeros((1, 128), np.float32), model="facenet-casia")
    faces = Faces(
        np.array([[10, 10, 90, 90]], np.float32), np.ones(1, np.float32), track_ids=("t1",)
    )
    msg = FrameMsg(meta, faces=faces, shots=shots)
    with pytest.raises(MessageError, match=r"expected \(N, 512\) floats, got \(1, 128\)"):
        handler._check_embeddings(msg)
    msg = FrameMsg(
        meta,
        faces=faces,
        shots=Shots((0,), embeddings=np.zeros((1, 512), np.float32), model="facenet"),
    )
    with pytest.raises(MessageError, match="'shots.model': expected one of"):
        handler._check_embeddings(msg)


def test_a_gallery_of_another_model_is_reported_with_the_fix(redis_client) -> None:
    people = People(redis_client)
    assert (
        other_model_only(people, "facenet-casia") is None
    )  # nobody enrolled at all: nothing to say
    obama = people.get_or_create("obama")
    people.add_faces(obama, "dlib", 2)
    message = other_model_only(people, "facenet-casia")
    assert message is not None
    assert "nobody is enrolled with facenet-casia" in message and "2 face(s) of dlib" in message
    assert "--embedder facenet-casia enroll" in message and "--embedder dlib" in message
    assert other_model_only(people, "dlib") is None
    people.add_faces(people.get_or_create("biden"), "facenet-casia", 1)
    assert other_model_only(people, "facenet-casia") is None


def test_the_matcher_logs_once_that_the_gallery_holds_another_model(redis_client, caplog) -> None:
    from unittest.mock import MagicMock

    from workers.match import MatchHandler

    people = People(redis_client)
    people.add_faces(people.get_or_create("obama"), "dlib", 2)
    handler = MatchHandler(
        redis_client, people, MagicMock(), Settings(), lambda m: spec(m).threshold
    )
    with caplog.at_level("WARNING", logger="workers.match"):
        for _ in range(2):
            handler._models_seen.discard("dlib")  # dlib is enrolled: never reported
            handler._warn_other_model("dlib")
        assert not caplog.records
        for _ in range(2):
            if "facenet-casia" not in handler._models_seen:
                handler._models_seen.add("facenet-casia")
                handler._warn_other_model("facenet-casia")
    assert [r.getMessage() for r in caplog.records] == [other_model_only(people, "facenet-casia")]
    assert "nobody is enrolled with facenet-casia" in caplog.records[0].getMessage()
