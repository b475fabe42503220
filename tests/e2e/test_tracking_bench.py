"""The slim ground-truth benchmark: composited real faces, real MTCNN and dlib, two trackers compared."""

from __future__ import annotations

from importlib.util import find_spec

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.needs(find_spec("motmetrics"), reason="motmetrics (pip, .[test])"),
]


@pytest.fixture(scope="module")
def figures(tmp_path_factory, shared_dir, monkeypatch_module):
    from bench.run import evaluate, gallery, load_videos
    from bench.scenes import SD, scenes

    cache = tmp_path_factory.mktemp("bench")
    # the slim version: two scenes (crossing; leaving and re-entering), 360p, 5 fps
    slim = [s for s in scenes() if s.name in ("cross2", "reenter")]
    for s in slim:
        s.resolutions = (SD,)
    monkeypatch_module.setattr("bench.run.scenes", lambda: slim)
    monkeypatch_module.setattr("bench.run.FRAME_RATES", (5.0,))
    videos, n_cross, models = load_videos(cache)
    return evaluate(videos, n_cross, gallery(cache, models), trackers=("new", "iou"))


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_new_tracker_meets_the_targets(figures):
    new = figures["new"]
    assert new["IDF1"] >= 0.90, figures
    # not asserted: at most 1 ID switch per 10 crossings. Here the switches come from faces
    # re-entering at the border (a new track, then found again by appearance), not from crossings;
    # the full benchmark reports the rate (README)
    assert new["named_precision"] >= 0.995, figures
    assert new["named_recall"] >= 0.90, figures


def test_new_tracker_is_at_least_as_good_as_the_walking_pipelines(figures):
    new, old = figures["new"], figures["iou"]
    assert new["IDF1"] >= old["IDF1"] and new["MOTA"] >= old["MOTA"] - 1e-9, figures
    assert new["IDsw"] <= old["IDsw"], figures
    assert (
        new["named_precision"] >= old["named_precision"]
        and new["named_recall"] >= old["named_recall"]
    ), figures
