import numpy as np
import pytest

from config.errors import MessageError
from tracker.iou import iou_matrix


def scalar_iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def test_known_values():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], dtype=float)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], dtype=float)
    m = iou_matrix(a, b)
    assert m.shape == (2, 3)
    np.testing.assert_allclose(m[0], [1.0, 50 / 150, 0.0])


def test_matches_scalar_reference():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (30, 2))
    a = np.hstack([xy, xy + rng.uniform(1, 50, (30, 2))])
    xy = rng.uniform(0, 100, (20, 2))
    b = np.hstack([xy, xy + rng.uniform(1, 50, (20, 2))])
    m = iou_matrix(a, b)
    expected = np.array([[scalar_iou(x, y) for y in b] for x in a])
    np.testing.assert_allclose(m, expected, rtol=1e-9)
    assert (m > 0).any()


@pytest.mark.parametrize("n, m", [(0, 3), (3, 0), (0, 0)])
def test_empty_shapes(n, m):
    a = np.zeros((n, 4)) if n else np.zeros((0,))
    b = np.ones((m, 4)) if m else np.zeros((0, 4))
    assert iou_matrix(a, b).shape == (n, m)


def test_zero_area_gives_zero_not_nan():
    a = np.array([[5, 5, 5, 5]], dtype=float)
    m = iou_matrix(a, a)
    assert m.shape == (1, 1) and m[0, 0] == 0.0


def test_wrong_shape_is_rejected():
    with pytest.raises(MessageError, match=r"iou_matrix\.a.*\(N, 4\)"):
        iou_matrix(np.zeros((2, 3)), np.zeros((1, 4)))
