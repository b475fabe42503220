"""The one owner of what each embedding model is: dimension, thresholds, weights, collections.

An embedding model is an architecture *and* its weights: FaceNet trained on
CASIA-WebFace and FaceNet trained on VGGFace2 give vectors that must never be
compared, so each is its own entry, with its own Milvus collections and its
own calibrated thresholds. The entry's ``name`` is what an embedder reports,
what bus messages carry in their ``model`` field and what enrolled people
count their faces under.

Thresholds are cosine similarities of unit vectors, measured on ../shared/faces
with ``python -m bench.calibrate`` (same-person and different-person
distributions; bench/calibrate.py says how they are derived):

- ``threshold``: the lowest similarity that names a face; above every
  different-person pair measured, with a margin.
- ``unknown_below``: a track whose best mean similarity stays under this is
  nobody enrolled (gets an ``unknown-...`` label); under the threshold, with a
  gap where a track is neither named nor called unknown yet.
- ``split_below``: a track the tracker reacquired by motion is split when its
  next face is less like it than this: about where strangers are (different-person p99).
"""

from __future__ import annotations

from dataclasses import dataclass

from config.errors import ConfigError


@dataclass(frozen=True)
class ModelSpec:
    name: str  # registry key: embedder.name, FrameMsg.model, the people's face counts
    family: str  # the embedder class: "dlib" or "facenet"
    weights: str  # the weights' identity
    dim: int
    threshold: float
    unknown_below: float
    split_below: (
        float  # a track reacquired by motion whose next face is less similar than this splits
    )
    weights_file: str | None = (
        None  # FaceNet: file name in the torch hub cache (facenet-pytorch's names)
    )
    lfw: float | None = None  # published LFW accuracy of these weights

    def collection(self, kind: str = "faces") -> str:
        """Milvus collection of this model's vectors (``faces`` or ``unknowns``): named after the
        model, its weights and its dimension. A family with one weight set (dlib) keeps the name it
        had before weights were part of it, so galleries enrolled then stay found. Milvus names
        allow letters, digits and underscores only."""
        slug = self.family if self.name == self.family else f"{self.family}_{self.weights}"
        return f"{kind}_{slug.replace('-', '_')}_{self.dim}"


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        # dlib: same person >= 0.947, different people <= 0.919 (p99 0.894) on 34 faces of
        # ../shared/faces; derived threshold 0.923, kept at 0.92: the 360p hamilton clip's
        # same-person similarities reach down to 0.92, and 0.92 is above every different pair
        ModelSpec(
            "dlib",
            "dlib",
            "resnet-v1",
            128,
            threshold=0.92,
            unknown_below=0.89,
            split_below=0.85,
            lfw=0.9938,
        ),
        # facenet-casia (clip crop, 20 px margin): same person >= 0.547 (a half face; median
        # 0.746), different people <= 0.517 (p99 0.31) on 34 faces of ../shared/faces:
        # derived threshold 0.54
        ModelSpec(
            "facenet-casia",
            "facenet",
            "casia-webface",
            512,
            threshold=0.54,
            unknown_below=0.31,
            split_below=0.31,
            weights_file="20180408-102900-casia-webface.pt",
            lfw=0.9905,
        ),
        # facenet-vggface2: not measured here (its weights need a download): the threshold kept from
        # before (facenet-pytorch's examples), the cutoffs by analogy with facenet-casia
        ModelSpec(
            "facenet-vggface2",
            "facenet",
            "vggface2",
            512,
            threshold=0.60,
            unknown_below=0.40,
            split_below=0.40,
            weights_file="20180402-114759-vggface2.pt",
            lfw=0.9965,
        ),
    )
}
FACENET = ("facenet-vggface2", "facenet-casia")  # what plain 'facenet' means, first installed wins
# 'auto' per device kind, first installed wins; python -m bench.embedders measures the order:
# accuracy first (no wrong name; TAR at FAR 1e-3 on ../shared/faces), then speed. On ../shared,
# dlib and facenet-casia tie on accuracy (TAR 1.0, no wrong name on hamilton, recall 0.97), and on
# one CPU thread they cost the same per face one at a time (88 vs 91 ms): the CPU keeps dlib, the
# model every figure of the end-to-end tests was measured with (FaceNet halves the cost in batches
# of 16: 46 vs 84 ms). On CUDA FaceNet batches on the GPU; dlib-bin has no CUDA build. vggface2
# (LFW 0.9965) is not measured here, so it comes after the measured casia weights.
AUTO = {
    "cpu": ("dlib", "facenet-casia", "facenet-vggface2"),
    "cuda": ("facenet-casia", "facenet-vggface2", "dlib"),
}
CHOICES = ("auto", "dlib", "facenet", *FACENET)


def other_model_only(faces: dict[str, int], model: str) -> str | None:
    """Why a search with ``model`` finds nobody although people are enrolled, or None.

    ``faces``: enrolled faces per model name. Vectors of different models (or weights) live in
    different collections, so a gallery enrolled with one embedder is invisible to another: say so
    instead of naming nobody. The photos are not kept, so the fix is to enroll them again with this
    embedder, or to use theirs."""
    if not any(faces.values()) or faces.get(model, 0) > 0:
        return None
    held = ", ".join(f"{n} face(s) of {name}" for name, n in sorted(faces.items()) if n)
    theirs = max(faces, key=lambda name: faces[name])
    return (
        f"embedder: nobody is enrolled with {model}, the gallery holds {held}; enroll the "
        f"photos again with `--embedder {model} enroll ...`, or use `--embedder {theirs}`"
    )


def spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(
            f"embedding model: expected one of {sorted(MODELS)}, got {name!r}"
        ) from None


def dims(name: str) -> int:
    return spec(name).dim
