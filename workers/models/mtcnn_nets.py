"""MTCNN's three networks and the box helpers of its cascade, without torchvision.

The networks and helpers are facenet-pytorch's (MIT licence, Tim Esler; ``models/mtcnn.py``
and ``models/utils/detect_face.py``, version 2.6), and so are the weights, read from the files
that ship inside its wheel. They live here because importing anything from the
``facenet_pytorch`` package runs its ``__init__``, which imports torchvision (and with it
sympy and PIL): ~170 MiB of resident memory and a second or more of start-up in the detector,
for one function (``batched_nms``). On a CPU the cascade's non-maximum suppression is done in
numpy with torchvision's rule; on a GPU torchvision's kernel is used (imported there only).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch  # model code: imported by the detector only (its thread count: device.torch_module)
from torch import nn

from config.errors import ModelError


def weights_path(name: str) -> Path:
    """``pnet.pt``, ``rnet.pt`` or ``onet.pt`` in the installed facenet-pytorch wheel."""
    spec = importlib.util.find_spec("facenet_pytorch")
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root) / "data" / name
        if path.is_file():
            return path
    raise ModelError(
        f"MTCNN weights: expected {name} in the facenet-pytorch package's data folder, "
        f"found {'no facenet-pytorch' if spec is None else 'none'} (pip install facenet-pytorch)"
    )


def _load(net: nn.Module, name: str) -> nn.Module:
    net.load_state_dict(torch.load(weights_path(name), map_location="cpu", weights_only=True))
    return net.eval()


class PNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, kernel_size=3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, kernel_size=3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, kernel_size=3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)
        self.softmax4_1 = nn.Softmax(dim=1)
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)
        _load(self, "pnet.pt")

    def forward(self, x):
        x = self.prelu1(self.conv1(x))
        x = self.pool1(x)
        x = self.prelu2(self.conv2(x))
        x = self.prelu3(self.conv3(x))
        return self.conv4_2(x), self.softmax4_1(self.conv4_1(x))


class RNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, kernel_size=3)
        self.prelu1 = nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(28, 48, kernel_size=3)
        self.prelu2 = nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(48, 64, kernel_size=2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.softmax5_1 = nn.Softmax(dim=1)
        self.dense5_2 = nn.Linear(128, 4)
        _load(self, "rnet.pt")

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = x.permute(0, 3, 2, 1).contiguous()
        x = self.prelu4(self.dense4(x.view(x.shape[0], -1)))
        return self.dense5_2(x), self.softmax5_1(self.dense5_1(x))


class ONet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3)
        self.prelu1 = nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.prelu2 = nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(64, 64, kernel_size=3)
        self.prelu3 = nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4 = nn.Conv2d(64, 128, kernel_size=2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.softmax6_1 = nn.Softmax(dim=1)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)
        _load(self, "onet.pt")

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = x.permute(0, 3, 2, 1).contiguous()
        x = self.prelu5(self.dense5(x.view(x.shape[0], -1)))
        return self.dense6_2(x), self.dense6_3(x), self.softmax6_1(self.dense6_1(x))


# --- the cascade's box helpers ----------------------------------------------------------------


def bbreg(boxes, reg):
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    b1 = boxes[:, 0] + reg[:, 0] * w
    b2 = boxes[:, 1] + reg[:, 1] * h
    b3 = boxes[:, 2] + reg[:, 2] * w
    b4 = boxes[:, 3] + reg[:, 3] * h
    boxes[:, :4] = torch.stack([b1, b2, b3, b4]).permute(1, 0)
    return boxes


def generate_boxes(reg, probs, scale: float, thresh: float):
    """PNet's output map -> candidate boxes (x1, y1, x2, y2, score, 4 offsets) and frame indexes."""
    stride, cellsize = 2, 12
    reg = reg.permute(1, 0, 2, 3)
    mask = probs >= thresh
    mask_inds = mask.nonzero()
    image_inds = mask_inds[:, 0]
    score = probs[mask]
    reg = reg[:, mask].permute(1, 0)
    bb = mask_inds[:, 1:].type(reg.dtype).flip(1)
    q1 = ((stride * bb + 1) / scale).floor()
    q2 = ((stride * bb + cellsize - 1 + 1) / scale).floor()
    return torch.cat([q1, q2, score.unsqueeze(1), reg], dim=1), image_inds


def pad(boxes, w: int, h: int):
    boxes = boxes.trunc().int().cpu().numpy()
    x, y, ex, ey = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    x[x < 1] = 1
    y[y < 1] = 1
    ex[ex > w] = w
    ey[ey > h] = h
    return y, ey, x, ex


def rerec(boxes):
    h = boxes[:, 3] - boxes[:, 1]
    w = boxes[:, 2] - boxes[:, 0]
    side = torch.max(w, h)
    boxes[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    boxes[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    boxes[:, 2:4] = boxes[:, :2] + side.repeat(2, 1).permute(1, 0)
    return boxes


def _nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, method: str) -> np.ndarray:
    """Greedy NMS, best score first. "Union": torchvision's rule (IoU, areas without +1,
    drop IoU > threshold); "Min": facenet-pytorch's ONet rule (+1 areas, overlap over the
    smaller box, keep <= threshold). Indexes of the kept boxes, best first."""
    if method == "Union":
        # torchvision sorts by score, descending; a stable sort of the negated scores orders ties
        # by index as its CPU kernel does on the equal scores PNet produces
        order = np.argsort(-scores, kind="stable")
        one = 0.0
    else:
        order = np.argsort(scores)[::-1]  # facenet-pytorch's nms_numpy takes the last of argsort
        one = 1.0
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    area = (x2 - x1 + one) * (y2 - y1 + one)
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + one)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + one)
        inter = w * h
        if method == "Union":
            order = rest[inter / (area[i] + area[rest] - inter) <= threshold]
        else:
            order = rest[inter / np.minimum(area[i], area[rest]) <= threshold]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes, scores, idxs, threshold: float, method: str = "Union"):
    """NMS per frame (``idxs``): a tensor of the kept indexes, best first."""
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    if method == "Union" and boxes.device.type != "cpu":
        from torchvision.ops.boxes import (  # type: ignore[import-untyped]  # the GPU kernel
            batched_nms as tv_batched_nms,
        )

        return tv_batched_nms(boxes, scores, idxs, threshold)
    # frames apart: shift each frame's boxes past every other frame's (torchvision's trick)
    offsets = idxs.to(boxes) * (boxes.max() + 1)
    shifted = (boxes + offsets[:, None]).cpu().numpy()
    keep = _nms(shifted, scores.cpu().numpy(), threshold, method)
    return torch.as_tensor(keep, dtype=torch.long, device=boxes.device)
