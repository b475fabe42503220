"""MTCNN's cascade, rewritten for speed around facenet-pytorch's own networks and weights.

Same networks, thresholds and post-processing as ``facenet_pytorch.MTCNN.detect``
(its networks and helper functions, in ``mtcnn_nets`` without torchvision), three
differences measured on this repo's clips:

- the networks run in ``channels_last`` memory format: PNet's max-pool and convs are
  ~2x faster on CPU that way (same numbers, another layout);
- the pyramid and the 24/48 px crops of the refinement stages are resized with
  OpenCV on the uint8 frame instead of one ``interpolate(area)`` call per box
  (thousands of calls per 1080p frame);
- several frames of equal size go through every stage as one batch, and on CUDA
  the networks can run in fp16 (``half=True``).
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

log = logging.getLogger(__name__)

THRESHOLDS = (0.6, 0.7, 0.7)
FACTOR = 0.709  # pyramid step
ONET_BATCH = 512


class MtcnnCascade:
    def __init__(self, device: str = "cpu", half: bool = False):
        from workers.models.device import torch_module
        from workers.models.mtcnn_nets import ONet, PNet, RNet

        torch = torch_module()  # with the process's thread count

        self.torch = torch
        self.device = torch.device(device)
        self.dtype = torch.float16 if half and self.device.type == "cuda" else torch.float32
        self.nets = []
        for net in (PNet(), RNet(), ONet()):  # the weights ship inside facenet-pytorch's wheel
            net = net.eval().to(self.device, dtype=self.dtype).to(memory_format=torch.channels_last)
            self.nets.append(net)
        self.pnet, self.rnet, self.onet = self.nets

    def _tensor(self, batch: np.ndarray):
        """(N, H, W, 3) uint8 or float -> normalised NCHW tensor in channels_last layout."""
        t = self.torch.from_numpy(np.ascontiguousarray(batch)).to(self.device)
        t = t.permute(0, 3, 1, 2).to(self.dtype)  # a permuted NHWC buffer IS channels_last
        return (t - 127.5) * 0.0078125

    def detect(
        self, frames: list[np.ndarray], min_face_px: int
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """RGB uint8 frames of one size -> per frame (boxes (K,4), probs (K,), landmarks (K,5,2)), best first."""
        from workers.models.mtcnn_nets import batched_nms, bbreg, generate_boxes, rerec

        torch = self.torch
        n = len(frames)
        empty = (
            np.zeros((0, 4), np.float32),
            np.zeros((0,), np.float32),
            np.zeros((0, 5, 2), np.float32),
        )
        if n == 0:
            return []
        h, w = frames[0].shape[:2]
        if any(f.shape != frames[0].shape for f in frames):
            raise ValueError("MtcnnCascade.detect: frames of one batch must have one size")
        with torch.inference_mode():
            # --- stage 1: PNet over the pyramid -------------------------------------------------
            m = 12.0 / min_face_px
            minl = min(h, w) * m
            scales, s = [], m
            while minl >= 12:
                scales.append(s)
                s *= FACTOR
                minl *= FACTOR
            boxes, inds, picks, offset = [], [], [], 0
            for scale in scales:
                size = (int(w * scale + 1), int(h * scale + 1))
                batch = np.stack(
                    [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
                )
                reg, probs = self.pnet(self._tensor(batch))
                bs, bi = generate_boxes(reg.float(), probs[:, 1].float(), scale, THRESHOLDS[0])
                boxes.append(bs)
                inds.append(bi)
                picks.append(batched_nms(bs[:, :4], bs[:, 4], bi, 0.5) + offset)
                offset += bs.shape[0]
            if not scales:
                return [empty for _ in frames]
            pick = torch.cat(picks)
            boxes, inds = torch.cat(boxes)[pick], torch.cat(inds)[pick]
            pick = batched_nms(boxes[:, :4], boxes[:, 4], inds, 0.7)
            boxes, inds = boxes[pick], inds[pick]
            regw, regh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
            boxes = torch.stack(
                [
                    boxes[:, 0] + boxes[:, 5] * regw,
                    boxes[:, 1] + boxes[:, 6] * regh,
                    boxes[:, 2] + boxes[:, 7] * regw,
                    boxes[:, 3] + boxes[:, 8] * regh,
                    boxes[:, 4],
                ]
            ).permute(1, 0)
            boxes = rerec(boxes)
            # --- stage 2: RNet on 24 px crops -----------------------------------------------------
            if len(boxes):
                crops, keep = self._crops(frames, boxes, inds, w, h, 24)
                boxes, inds = boxes[keep], inds[keep]
            if len(boxes):
                reg, prob = self._run(self.rnet, crops)
                score = prob[:, 1]
                ok = score > THRESHOLDS[1]
                boxes = torch.cat((boxes[ok, :4], score[ok].unsqueeze(1)), dim=1)
                inds, reg = inds[ok], reg[ok]
                pick = batched_nms(boxes[:, :4], boxes[:, 4], inds, 0.7)
                boxes = rerec(bbreg(boxes[pick], reg[pick]))
                inds = inds[pick]
            # --- stage 3: ONet on 48 px crops: final boxes and landmarks --------------------------------
            points = torch.zeros(0, 5, 2, device=self.device)
            if len(boxes):
                crops, keep = self._crops(frames, boxes, inds, w, h, 48)
                boxes, inds = boxes[keep], inds[keep]
            if len(boxes):
                reg, pts, prob = self._run(self.onet, crops)
                score = prob[:, 1]
                ok = score > THRESHOLDS[2]
                pts = pts[ok].permute(1, 0)
                boxes = torch.cat((boxes[ok, :4], score[ok].unsqueeze(1)), dim=1)
                inds, reg = inds[ok], reg[ok]
                wi = boxes[:, 2] - boxes[:, 0] + 1
                hi = boxes[:, 3] - boxes[:, 1] + 1
                px = wi.repeat(5, 1) * pts[:5, :] + boxes[:, 0].repeat(5, 1) - 1
                py = hi.repeat(5, 1) * pts[5:10, :] + boxes[:, 1].repeat(5, 1) - 1
                points = torch.stack((px, py)).permute(2, 1, 0)
                boxes = bbreg(boxes, reg)
                pick = batched_nms(boxes[:, :4], boxes[:, 4], inds, 0.7, "Min")
                boxes, inds, points = boxes[pick], inds[pick], points[pick]
        boxes_np = boxes.cpu().numpy().astype(np.float32)
        points_np = points.cpu().numpy().astype(np.float32)
        inds_np = inds.cpu().numpy()
        out = []
        for i in range(n):
            sel = np.flatnonzero(inds_np == i)
            sel = sel[np.argsort(-boxes_np[sel, 4], kind="stable")]
            out.append((boxes_np[sel, :4], boxes_np[sel, 4], points_np[sel].reshape(-1, 5, 2)))
        return out

    def _crops(self, frames: list[np.ndarray], boxes, inds, w: int, h: int, px: int):
        """The (clipped) box regions resized to px x px, as facenet-pytorch's cascade takes them."""
        from workers.models.mtcnn_nets import pad

        y, ey, x, ex = pad(boxes, w, h)
        frame_of = inds.cpu().numpy()
        crops, keep = [], []
        for k in range(len(y)):
            if ey[k] > y[k] - 1 and ex[k] > x[k] - 1:
                region = frames[frame_of[k]][y[k] - 1 : ey[k], x[k] - 1 : ex[k]]
                crops.append(cv2.resize(region, (px, px), interpolation=cv2.INTER_AREA))
                keep.append(k)
        stacked = np.stack(crops) if crops else np.zeros((0, px, px, 3), np.uint8)
        return stacked, self.torch.as_tensor(keep, dtype=self.torch.long, device=boxes.device)

    def _run(self, net, crops: np.ndarray):
        outs = [
            net(self._tensor(crops[i : i + ONET_BATCH])) for i in range(0, len(crops), ONET_BATCH)
        ]
        return tuple(self.torch.cat(parts).float() for parts in zip(*outs, strict=True))
