"""The detector's own MTCNN networks and box helpers give what facenet-pytorch's give.

``workers/models/mtcnn_nets.py`` holds facenet-pytorch's networks and helpers so that the
detector never imports torchvision; here each is checked against the original on real frames
(the original is imported in the test only).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")
detect_face = pytest.importorskip("facenet_pytorch.models.utils.detect_face")
facenet_mtcnn = pytest.importorskip("facenet_pytorch.models.mtcnn")

from workers.models import mtcnn_nets  # noqa: E402 - after the skips


@pytest.fixture(scope="module")
def frames(shared_dir: Path) -> list[np.ndarray]:
    """RGB frames: hamilton's wide stage view, a frontal close-up and the audience; one crowd."""
    out = []
    for clip, index in (
        ("hamilton_360p.mp4", 5),
        ("hamilton_360p.mp4", 150),
        ("crowd_1080p.mp4", 40),
    ):
        path = shared_dir / "media" / clip
        if not path.is_file():
            pytest.skip(f"missing {path}")
        cap = cv2.VideoCapture(str(path))
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, bgr = cap.read()
        cap.release()
        assert ok, f"{clip}: frame {index} unreadable"
        out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return out


def _tensor(rgb: np.ndarray, scale: float):
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (int(w * scale + 1), int(h * scale + 1)), interpolation=cv2.INTER_AREA)
    return (torch.from_numpy(small).permute(2, 0, 1)[None].float() - 127.5) * 0.0078125


def test_networks_and_weights_equal_facenet_pytorchs(frames) -> None:
    ours = (mtcnn_nets.PNet(), mtcnn_nets.RNet(), mtcnn_nets.ONet())
    theirs = (facenet_mtcnn.PNet(), facenet_mtcnn.RNet(), facenet_mtcnn.ONet())
    x = _tensor(frames[1], 0.3)
    crops24 = torch.nn.functional.interpolate(x, size=(24, 24))
    crops48 = torch.nn.functional.interpolate(x, size=(48, 48))
    with torch.inference_mode():
        for a, b, inp in zip(ours, theirs, (x, crops24, crops48), strict=True):
            for out_a, out_b in zip(a.eval()(inp), b.eval()(inp), strict=True):
                assert torch.equal(out_a, out_b)


def _candidates(frames, pnet) -> tuple:
    """Real PNet candidates over a pyramid of every frame: boxes, scores, frame indexes."""
    boxes, inds = [], []
    with torch.inference_mode():
        for i, rgb in enumerate(frames):
            for scale in (0.6, 0.3, 0.15):
                reg, probs = pnet(_tensor(rgb, scale))
                b, _ = mtcnn_nets.generate_boxes(reg, probs[:, 1], scale, 0.6)
                boxes.append(b)
                inds.append(torch.full((len(b),), i, dtype=torch.long))
    boxes, inds = torch.cat(boxes), torch.cat(inds)
    assert len(boxes) > 500, "expected many candidates from real frames"
    return boxes, inds


def test_generate_boxes_equals_facenet_pytorchs(frames) -> None:
    pnet = mtcnn_nets.PNet()
    with torch.inference_mode():
        reg, probs = pnet(_tensor(frames[2], 0.3))
        ours = mtcnn_nets.generate_boxes(reg, probs[:, 1], 0.3, 0.6)
        theirs = detect_face.generateBoundingBox(reg, probs[:, 1], 0.3, 0.6)
    for a, b in zip(ours, theirs, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("threshold", [0.5, 0.7])
def test_cpu_nms_keeps_what_torchvision_keeps(frames, threshold: float) -> None:
    from torchvision.ops.boxes import batched_nms

    boxes, inds = _candidates(frames, mtcnn_nets.PNet())
    ours = mtcnn_nets.batched_nms(boxes[:, :4], boxes[:, 4], inds, threshold)
    theirs = batched_nms(boxes[:, :4], boxes[:, 4], inds, threshold)
    assert sorted(ours.tolist()) == sorted(theirs.tolist())
    # best first, as torchvision returns them (the cascade's later stages take them in order)
    assert torch.equal(boxes[ours, 4], boxes[theirs, 4])


def test_min_nms_keeps_what_facenet_pytorchs_numpy_nms_keeps(frames) -> None:
    boxes, inds = _candidates(frames, mtcnn_nets.PNet())
    ours = mtcnn_nets.batched_nms(boxes[:, :4], boxes[:, 4], inds, 0.7, "Min")
    theirs = detect_face.batched_nms_numpy(boxes[:, :4], boxes[:, 4], inds, 0.7, "Min")
    assert ours.tolist() == theirs.tolist()


def test_detector_process_does_not_import_torchvision() -> None:
    from tests.unit.test_import_footprint import loaded_after

    loaded = loaded_after(
        "from workers.models.mtcnn import MtcnnDetector\n"
        "import numpy as np\n"
        "MtcnnDetector('cpu').detect(np.zeros((120, 160, 3), np.uint8))\n"
    )
    assert "torch" in loaded
    assert not {"torchvision", "facenet_pytorch", "sympy"} & loaded
