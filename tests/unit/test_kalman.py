import numpy as np
import pytest

from config.errors import MessageError
from tracker.kalman import BoxKalman


def box_at(t: float, v=(100.0, -50.0), start=(200.0, 300.0), size=(80.0, 100.0)) -> np.ndarray:
    cx, cy = start[0] + v[0] * t, start[1] + v[1] * t
    w, h = size
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def test_initial_box_is_kept():
    k = BoxKalman(box_at(0), 0.0)
    np.testing.assert_allclose(k.xyxy, box_at(0), atol=1e-3)


def test_constant_velocity_is_learned_and_extrapolated():
    k = BoxKalman(box_at(0), 0.0)
    for i in range(1, 26):  # 1 s at 25 fps
        k.update(box_at(i / 25), i / 25)
    predicted = k.predict(1.5)
    np.testing.assert_allclose(predicted, box_at(1.5), atol=2.0)


def test_skipped_frames_give_the_same_motion():
    """Velocity is per second: feeding every 5th frame must predict like every frame."""
    every, fifth = BoxKalman(box_at(0), 0.0), BoxKalman(box_at(0), 0.0)
    for i in range(1, 51):
        every.update(box_at(i / 25), i / 25)
        if i % 5 == 0:
            fifth.update(box_at(i / 25), i / 25)
    np.testing.assert_allclose(every.predict(2.4), box_at(2.4), atol=2.0)
    np.testing.assert_allclose(fifth.predict(2.4), box_at(2.4), atol=3.0)


def test_zero_dt_predict_changes_nothing():
    k = BoxKalman(box_at(0), 0.0)
    k.update(box_at(0.04), 0.04)
    before = k.xyxy.copy()
    np.testing.assert_array_equal(k.predict(0.04), before)
    np.testing.assert_array_equal(k.predict(0.04), before)
    assert k.t == 0.04


def test_predict_into_the_past_does_not_rewind():
    k = BoxKalman(box_at(0), 0.0)
    for i in range(1, 11):
        k.update(box_at(i / 25), i / 25)
    before = k.xyxy.copy()
    np.testing.assert_array_equal(k.predict(0.1), before)
    assert k.t == pytest.approx(0.4)


def test_longer_gap_accepts_larger_correction():
    """Process noise grows with dt: after a long gap the measurement is trusted more."""
    still = np.array([100.0, 100.0, 180.0, 180.0])
    moved = still + np.array([30.0, 0.0, 30.0, 0.0])
    short, long = BoxKalman(still, 0.0), BoxKalman(still, 0.0)
    for i in range(1, 11):  # both learn "stationary"
        short.update(still, i / 25)
        long.update(still, i / 25)
    short.update(moved, 0.4 + 0.04)
    long.update(moved, 0.4 + 2.0)
    err_short = abs(short.xyxy[0] - moved[0])
    err_long = abs(long.xyxy[0] - moved[0])
    assert err_long < err_short


def test_process_noise_scales_with_box_size():
    """The same 10 % jump is followed equally by a small and a large box."""
    small = np.array([0.0, 0.0, 40.0, 40.0])
    large = small * 10
    ks, kl = BoxKalman(small, 0.0), BoxKalman(large, 0.0)
    for i in range(1, 6):
        ks.update(small, i / 25)
        kl.update(large, i / 25)
    ks.update(small + 4.0, 0.24)
    kl.update(large + 40.0, 0.24)
    np.testing.assert_allclose(kl.xyxy / 10, ks.xyxy, atol=1e-3)


def test_box_never_collapses_to_negative_size():
    k = BoxKalman(np.array([0.0, 0.0, 100.0, 100.0]), 0.0)
    for i, side in enumerate([90, 70, 50, 30, 10], start=1):
        k.update(np.array([0.0, 0.0, side, side], dtype=float), i * 0.1)
    box = k.predict(10.0)
    assert box[2] >= box[0] and box[3] >= box[1]
    assert np.all(np.isfinite(box))


@pytest.mark.parametrize("bad", [[0, 0, 1], [0, 0, np.nan, 1], [10, 0, 0, 10]])
def test_bad_box_is_rejected(bad):
    with pytest.raises(MessageError, match="box"):
        BoxKalman(np.array(bad, dtype=float), 0.0)
