"""The model zoo: dlib's recogniser on its own chips, every offline family separating people, MTCNN and YuNet, model cards."""

from __future__ import annotations

from pathlib import Path

import dlib
import face_recognition_models
import numpy as np
import onnx
import pytest
import yaml

from helpers.core.devices import CPU
from helpers.core.sources import ModelFile
from helpers.data.acquire import box_iou
from helpers.data.crops import detector_tag
from helpers.data.detectors import open_detector
from helpers.data.faces import FaceDetector, align
from helpers.data.mtcnn import MtcnnDetector
from helpers.data.scan import load_rgb
from helpers.data.yunet import YunetDetector, yunet_model
from helpers.models.cards import CardError, load_card
from helpers.models.dlib_resnet import DLIB_CHIP, DlibRecogniser
from helpers.models.packs import resolve_detector
from helpers.models.sface import dequantize_model
from helpers.models.zoo import ZOO, availability, load_recogniser

# Three images each of four people.
PEOPLE = ("Colin_Powell", "Serena_Williams", "Tony_Blair", "Jennifer_Aniston")
SHOTS = (1, 2, 3)
DLIB_FILES = Path(face_recognition_models.__file__).parent / "models"


def lfw(mirror: Path, person: str, index: int) -> np.ndarray:
    return load_rgb(mirror / "datasets" / "lfw" / "lfw-deepfunneled" / person / f"{person}_{index:04d}.jpg")


@pytest.fixture(scope="module")
def photos(mirror: Path) -> list[np.ndarray]:
    return [lfw(mirror, person, index) for person in PEOPLE for index in SHOTS]


@pytest.fixture(scope="module")
def crops(photos: list[np.ndarray]) -> np.ndarray:
    """The workbench's own 112 px ArcFace-aligned crops (SCRFD keypoints)."""
    detector = FaceDetector(resolve_detector("scrfd_2.5g")[0], providers=[CPU])
    return np.stack([align(photo, detector.detect(photo).kps) for photo in photos])


@pytest.mark.parametrize("name", ["sface", "dlib"])
def test_every_offline_family_puts_a_persons_faces_closer_than_other_peoples(crops: np.ndarray, name: str) -> None:
    recogniser, label, note = load_recogniser(name, batch_size=5)
    embeddings = recogniser.embed(crops)
    assert label == name and name in note and embeddings.shape == (len(crops), recogniser.embedding_size)
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1, atol=1e-5)
    similarity = embeddings @ embeddings.T
    person = np.repeat(np.arange(len(PEOPLE)), len(SHOTS))
    same = (person[:, None] == person[None, :]) & ~np.eye(len(crops), dtype=bool)
    different = person[:, None] != person[None, :]
    assert similarity[same].min() > similarity[different].max()


def test_the_workbench_feeds_dlib_exactly_what_dlibs_own_descriptor_sees(crops: np.ndarray) -> None:
    """Same chips, two paths: the workbench's batched call against dlib's own compute_face_descriptor, one chip at a time."""
    recogniser = DlibRecogniser(batch_size=4)
    chips = DLIB_CHIP.from_arcface(crops)
    assert chips.shape == (len(crops), 150, 150, 3) and chips.dtype == np.uint8
    net = dlib.face_recognition_model_v1(str(DLIB_FILES / "dlib_face_recognition_resnet_model_v1.dat"))
    reference = np.stack([np.asarray(net.compute_face_descriptor(np.ascontiguousarray(chip))) for chip in chips])
    reference /= np.linalg.norm(reference, axis=1, keepdims=True)
    ours = recogniser.embed(crops)
    assert (np.sum(ours * reference, axis=1) >= 0.999).all()


def test_chips_cut_from_the_112px_crop_stay_close_to_dlibs_full_path(photos: list[np.ndarray], crops: np.ndarray) -> None:
    """dlib's own detector, 5-point landmarks and get_face_chip against the workbench's chips (measured: cosine 0.95-0.999)."""
    detect = dlib.get_frontal_face_detector()
    landmarks = dlib.shape_predictor(str(DLIB_FILES / "shape_predictor_5_face_landmarks.dat"))
    net = dlib.face_recognition_model_v1(str(DLIB_FILES / "dlib_face_recognition_resnet_model_v1.dat"))
    ours = DlibRecogniser().embed(crops)
    cosines = []
    for photo, embedding in zip(photos, ours):
        found = detect(photo, 1)
        if len(found) != 1:
            continue
        reference = np.asarray(net.compute_face_descriptor(photo, landmarks(photo, found[0])))
        cosines.append(float(embedding @ reference / np.linalg.norm(reference)))
    assert len(cosines) >= 8 and np.median(cosines) > 0.97 and min(cosines) > 0.9


@pytest.mark.parametrize(("name", "kind"), [("mtcnn", MtcnnDetector), ("yunet", YunetDetector)])
def test_mtcnn_and_yunet_find_the_faces_scrfd_finds(photos: list[np.ndarray], name: str, kind: type) -> None:
    model, note = resolve_detector(name)
    detector = open_detector(model)
    scrfd = FaceDetector(resolve_detector("scrfd_2.5g")[0], providers=[CPU])
    assert isinstance(detector, kind) and name in note and detector.input_size is None
    for photo in photos:
        ours, theirs = detector.detect(photo), scrfd.detect(photo)
        assert ours is not None and theirs is not None
        assert box_iou(ours.bbox, theirs.bbox) > 0.5
        # same landmark order (eyes, nose, mouth corners): each point within 0.3 eye distances of SCRFD's (a swap is ~1)
        a, b = np.reshape(ours.kps, (5, 2)), np.reshape(theirs.kps, (5, 2))
        assert np.linalg.norm(a - b, axis=1).max() < 0.3 * np.linalg.norm(b[0] - b[1])


def test_each_detector_has_its_own_cache_key_and_crop_folder() -> None:
    detectors = [open_detector(resolve_detector(name)[0]) for name in ("mtcnn", "yunet", "scrfd_2.5g")]
    assert len({d.cache_key() for d in detectors}) == 3
    assert [detector_tag(d).split("-")[0] for d in detectors] == ["mtcnn", "yunet", "scrfd_2.5g"]
    assert all(d.detect(np.zeros((120, 120, 3), np.uint8)) is None for d in detectors)


def test_yunet_runs_as_shipped_and_matches_its_float32_copy(photos: list[np.ndarray], tmp_path: Path) -> None:
    """OpenCV runs the int8 file; the dequantised float32 copy gives the same faces (so nothing is converted)."""
    model = yunet_model()
    copy = tmp_path / "yunet_fp32.onnx"
    copy.write_bytes(dequantize_model(onnx.load(str(model.path))).SerializeToString())
    shipped, converted = YunetDetector(model), YunetDetector(ModelFile("copy", copy, "0" * 64, "test"))
    for photo in photos[:4]:
        a, b = shipped.detect_all(photo), converted.detect_all(photo)
        assert a[0].shape == b[0].shape and np.abs(a[0] - b[0]).max() < 0.5 and np.abs(a[1] - b[1]).max() < 0.5


def test_availability_lists_every_model_and_says_why_one_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LQFACE_MODEL_ROOT", str(tmp_path))
    table = availability(("sface", "dlib", "buffalo_s"))
    assert list(table.index) == ["sface", "dlib", "buffalo_s"] and set(ZOO) >= set(table.index)
    assert table.loc["sface", "available"] and table.loc["dlib", "available"]
    if not table.loc["buffalo_s", "available"]:  # offline here; a machine with the pack or internet has it
        assert "buffalo_s" in table.loc["buffalo_s", "why"]


def card(folder: Path, model_file: Path, **fields) -> Path:
    values = {"name": "mine", "onnx": str(model_file), "alignment": "arcface", "input_size": 112, "channel_order": "RGB", "mean": 127.5, "std": 127.5}
    path = folder / "card.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in {**values, **fields}.items() if v is not None}))
    return path


def test_a_model_card_scores_any_onnx_recogniser(mirror: Path, crops: np.ndarray, tmp_path: Path) -> None:
    sface = ZOO["sface"].build(4)
    path = card(tmp_path, sface.model_path, channel_order="RGB", mean=0.0, std=1.0)
    recogniser, label, note = load_recogniser(str(path))
    assert label == "mine" and "card" in note
    assert np.allclose(recogniser.embed(crops[:3]), sface.embed(crops[:3]), atol=1e-6)


@pytest.mark.parametrize("missing", ["channel_order", "mean", "std", "alignment"])
def test_a_model_card_without_its_preprocessing_is_rejected(tmp_path: Path, missing: str) -> None:
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"not read")
    with pytest.raises(CardError, match=rf"card\.yaml: missing {missing}"):
        load_card(card(tmp_path, onnx, **{missing: None}))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"input_size": 160}, "input_size 160 is not supported"),
        ({"alignment": "dlib"}, "alignment 'dlib' is not supported"),
        ({"channel_order": "GBR"}, "channel_order must be"),
        ({"sha256": "0" * 64}, "the card says 0000"),
        ({"onnx": "elsewhere.onnx"}, "elsewhere.onnx does not exist"),
    ],
)
def test_a_model_card_that_cannot_be_honoured_says_why(tmp_path: Path, fields: dict, message: str) -> None:
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"not read")
    with pytest.raises(CardError, match=message):
        load_card(card(tmp_path, onnx, **fields))
