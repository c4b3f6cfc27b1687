"""Model-based quality: the norm and flip/shift agreements on a hand-made recogniser, ONNX quality models through their
cards (a tiny graph built here), OFIQ's status without python-ofiq, and the measures on SFace with a real LFW crop."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import yaml
from onnx import TensorProto, helper, numpy_helper

from helpers.core.devices import CPU
from helpers.core.files import sha256_file
from helpers.core.sources import MIRROR_ENV
from helpers.data.faces import FaceDetector, align
from helpers.data.scan import load_rgb
from helpers.models.cards import CardError
from helpers.models.packs import load_pack, resolve_detector
from helpers.models.recognisers import ARCFACE, RawFeatures, Recogniser, l2_normalise
from helpers.quality import ofiq
from helpers.quality.availability import QualityUnavailable
from helpers.quality.model_measures import MODEL_MEASURES, embedding_norm, flip_agreement, model_quality, shift_agreement, shifted
from helpers.quality.onnx_models import load_quality_model


class MeanAndTilt:
    """A recogniser by hand: the mean of each colour channel, then the left half's mean minus the right half's."""

    name = "mean-and-tilt"

    def features(self, crops_rgb: np.ndarray) -> np.ndarray:
        crops = crops_rgb.astype(np.float64)
        tilt = crops[:, :, :56].mean(axis=(1, 2)) - crops[:, :, 56:].mean(axis=(1, 2))
        return np.concatenate([crops.mean(axis=(1, 2)), tilt], axis=1)

    def embed(self, crops_rgb: np.ndarray, flip: bool = False) -> np.ndarray:
        return l2_normalise(self.features(crops_rgb))


class EmbedOnly:
    """A recogniser that gives only normalised embeddings."""

    name = "embed-only"

    def embed(self, crops_rgb: np.ndarray, flip: bool = False) -> np.ndarray:
        return MeanAndTilt().embed(crops_rgb)


def constant(colour: tuple[int, int, int]) -> np.ndarray:
    return np.broadcast_to(np.array(colour, np.uint8), (1, 112, 112, 3)).copy()


def halves(left: int, right: int) -> np.ndarray:
    """A crop dark on one side and bright on the other: mirrored, the tilt changes sign."""
    crop = np.full((1, 112, 112, 3), left, np.uint8)
    crop[:, :, 56:] = right
    return crop


def test_flip_agreement_is_one_for_a_symmetric_crop_and_less_for_an_asymmetric_one() -> None:
    symmetric = halves(60, 60)
    symmetric[:, 40:70, 30:82] = 200  # a bar centred left to right
    assert flip_agreement(MeanAndTilt(), symmetric) == pytest.approx([1.0], abs=1e-6)
    # features (70, 70, 70, -100 x 3) against (70, 70, 70, 100 x 3): cosine (3 * 70² - 3 * 100²) / (3 * 70² + 3 * 100²)
    assert flip_agreement(MeanAndTilt(), halves(20, 120)) == pytest.approx([(70**2 - 100**2) / (70**2 + 100**2)], abs=1e-6)


def test_shift_agreement_is_one_for_a_constant_crop_and_the_shift_repeats_the_edge() -> None:
    assert shift_agreement(MeanAndTilt(), constant((10, 80, 200))) == pytest.approx([1.0], abs=1e-6)
    assert shift_agreement(MeanAndTilt(), halves(20, 120), pixels=8)[0] < 1
    crop = np.random.default_rng(0).integers(0, 256, (2, 112, 112, 3), dtype=np.uint8)
    moved = shifted(crop, 2)
    assert moved.shape == crop.shape and (moved[:, 2:, 2:] == crop[:, :-2, :-2]).all()
    assert (moved[:, :2, 2:] == crop[:, :1, :-2]).all() and (moved[:, 2:, :2] == crop[:, :-2, :1]).all()
    with pytest.raises(ValueError, match="pixels"):
        shifted(crop, 0)


def test_embedding_norm_is_the_raw_features_norm_and_needs_raw_features() -> None:
    assert embedding_norm(MeanAndTilt(), constant((3, 4, 12))) == pytest.approx([13.0])  # features (3, 4, 12, 0, 0, 0)
    with pytest.raises(QualityUnavailable, match="'embed-only' gives only normalised embeddings") as raised:
        embedding_norm(EmbedOnly(), constant((3, 4, 12)))
    assert "embed-only" in raised.value.reason and isinstance(raised.value, RuntimeError)


def test_model_quality_gives_every_available_measure_and_why_the_others_are_not() -> None:
    crops = np.concatenate([halves(20, 120), constant((3, 4, 12)), halves(90, 30)])
    values, unavailable = model_quality(MeanAndTilt(), crops)
    assert list(values) == list(MODEL_MEASURES) and unavailable == {}
    for name, measure in MODEL_MEASURES.items():
        assert values[name] == pytest.approx(measure(MeanAndTilt(), crops))
    values, unavailable = model_quality(EmbedOnly(), crops)
    assert list(values) == ["flip_agreement", "shift_agreement"] and "embed-only" in unavailable["embedding_norm"]
    assert values["flip_agreement"] == pytest.approx(flip_agreement(MeanAndTilt(), crops))


WEIGHTS = (np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5) / 4


def write_quality_onnx(path: Path, size: int = 112) -> Path:
    """A CR-FIQA-shaped graph: output 0 an N x 4 embedding (channel means times WEIGHTS), output 1 an N x 1 score (their mean)."""
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["channel_means"], axes=[2, 3], keepdims=0),
        helper.make_node("MatMul", ["channel_means", "w"], ["embedding"]),
        helper.make_node("ReduceMean", ["channel_means"], ["quality"], axes=[1], keepdims=1),
    ]
    graph = helper.make_graph(
        nodes,
        "quality",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 4]), helper.make_tensor_value_info("quality", TensorProto.FLOAT, ["N", 1])],
        initializer=[numpy_helper.from_array(WEIGHTS, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def write_card(folder: Path, model: Path, **fields: object) -> Path:
    card = {"name": "tiny", "file": model.name, "sha256": sha256_file(model), "input": {"colour": "bgr", "mean": 127.5, "std": 64.0}, "output": "score"}
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(card | fields), encoding="utf-8")
    return path


def channel_means(crops_rgb: np.ndarray) -> np.ndarray:
    """What the tiny graph sees: BGR, (x - 127.5) / 64, averaged over each channel."""
    return (crops_rgb[..., ::-1].astype(np.float64).mean(axis=(1, 2)) - 127.5) / 64.0


@pytest.fixture
def crops() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (5, 112, 112, 3), dtype=np.uint8)


def test_a_quality_card_scores_crops_by_its_output_kind(tmp_path: Path, crops: np.ndarray) -> None:
    model = write_quality_onnx(tmp_path / "tiny.onnx")
    scorer = load_quality_model(write_card(tmp_path, model, output_index=1), providers=[CPU], batch_size=2)
    assert scorer.name == "tiny" and scorer.sha256 == sha256_file(model)
    assert scorer.score(crops) == pytest.approx(channel_means(crops).mean(axis=1), abs=1e-5)
    norms = load_quality_model(write_card(tmp_path, model, output="norm", higher_is_better=False), providers=[CPU])
    assert norms.score(crops) == pytest.approx(-np.linalg.norm(channel_means(crops) @ WEIGHTS, axis=1), rel=1e-5)


def test_a_quality_card_resizes_crops_to_its_input_size(tmp_path: Path, crops: np.ndarray) -> None:
    model = write_quality_onnx(tmp_path / "tiny64.onnx", size=64)
    card = write_card(tmp_path, model, output_index=1, input={"size": 64, "colour": "rgb", "mean": 0, "std": 1})
    small = np.stack([cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA) for crop in crops])
    assert load_quality_model(card, providers=[CPU]).score(crops) == pytest.approx(small.astype(np.float64).mean(axis=(1, 2, 3)), rel=1e-5)
    with pytest.raises(CardError, match=r"tiny\.yaml: input: .* fix input\.size"):
        load_quality_model(write_card(tmp_path, model, output_index=1), providers=[CPU])


def test_a_bad_quality_card_names_itself_and_the_key(tmp_path: Path) -> None:
    model = write_quality_onnx(tmp_path / "tiny.onnx")
    card = write_card(tmp_path, model, sha256="0" * 64)
    named = re.escape(str(card))
    with pytest.raises(CardError, match=rf"{named}: sha256: .* the card says 0{{64}}"):
        load_quality_model(card)
    with pytest.raises(CardError, match=rf"{named}: output 'magnitude' is not one of score, norm"):
        load_quality_model(write_card(tmp_path, model, output="magnitude"))
    with pytest.raises(CardError, match=rf"{named}: output: score takes one value per crop .* shape \['N', 4\]; fix output or output_index"):
        load_quality_model(write_card(tmp_path, model), providers=[CPU])
    with pytest.raises(CardError, match=rf"{named}: file .*missing\.onnx does not exist"):
        load_quality_model(write_card(tmp_path, model, file="missing.onnx"))
    with pytest.raises(CardError, match=rf"{named}: unknown key higher_is_beter"):
        load_quality_model(write_card(tmp_path, model, higher_is_beter=False))


def test_a_quality_card_url_is_read_from_the_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crops: np.ndarray) -> None:
    folder = tmp_path / "mirror" / "models" / "quality"
    folder.mkdir(parents=True)
    mirrored = write_quality_onnx(folder / "tiny.onnx")
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "mirror"))
    card = write_card(tmp_path, mirrored, output_index=1)
    fields = yaml.safe_load(card.read_text()) | {"url": "https://example.invalid/models/tiny.onnx"}
    del fields["file"]
    card.write_text(yaml.safe_dump(fields), encoding="utf-8")
    assert load_quality_model(card, providers=[CPU]).card.onnx == mirrored.resolve()


def test_the_tiny_graph_as_a_recogniser_gives_raw_features(tmp_path: Path, crops: np.ndarray) -> None:
    """Recogniser.features is the model's raw output, embed its normalisation, and embedding_norm its norm."""
    recogniser = Recogniser(write_quality_onnx(tmp_path / "tiny.onnx"), ARCFACE, providers=[CPU])
    expected = ((crops.astype(np.float64).mean(axis=(1, 2)) - 127.5) / 127.5) @ WEIGHTS
    assert isinstance(recogniser, RawFeatures) and recogniser.features(crops) == pytest.approx(expected, abs=1e-5)
    assert recogniser.embed(crops) == pytest.approx(l2_normalise(recogniser.features(crops)))
    assert embedding_norm(recogniser, crops) == pytest.approx(np.linalg.norm(expected, axis=1), rel=1e-5)


def test_ofiq_without_python_ofiq_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ofiq", None)  # as if not installed, even where it is
    assert ofiq.ofiq_status() == "python-ofiq is not installed (pip install python-ofiq==0.3.1)"
    with pytest.raises(QualityUnavailable, match=r"python-ofiq is not installed \(pip install python-ofiq==0\.3\.1\)"):
        ofiq.ofiq_quality([np.zeros((200, 200, 3), np.uint8)])


def test_a_module_named_ofiq_that_is_not_python_ofiq_is_named_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder called ofiq on the path (e.g. an unpacked wheel) imports as a namespace package without OFIQ."""
    monkeypatch.setitem(sys.modules, "ofiq", types.ModuleType("ofiq"))
    assert "is not python-ofiq" in ofiq.ofiq_status()


class FakeOfiqError(Exception):
    pass


class FakeQualityError(FakeOfiqError):
    pass


class FakeOfiq:
    """python-ofiq's OFIQ as its stubs declare it: no face in a black image, a failed measure as None."""

    def __init__(self, config_dir: str) -> None:
        self.config_dir = config_dir

    def vector_quality(self, image_rgb: np.ndarray) -> dict[str, float | None]:
        if not image_rgb.any():
            raise FakeQualityError("no face")
        return {"UnifiedQualityScore": float(image_rgb.mean()), "Sharpness": None}


def test_ofiq_reads_the_mirrors_models_and_gives_nan_where_it_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = types.SimpleNamespace(OFIQ=FakeOfiq, OFIQError=FakeOfiqError, QualityError=FakeQualityError, resolve_data_dir=lambda: str(tmp_path / "home"))
    monkeypatch.setitem(sys.modules, "ofiq", package)
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    assert ofiq.ofiq_status() == (
        f"OFIQ's model files are not present at {tmp_path / 'home'} (missing ofiq_config.jaxn); set {MIRROR_ENV} to a folder holding them "
        "in models/ofiq/, or download them (about 400 MB) with `python-ofiq setup`"
    )
    data = tmp_path / "mirror" / "models" / "ofiq"
    (data / "models" / "sharpness").mkdir(parents=True)
    (data / "ofiq_config.jaxn").write_text('// comment\n{"Sharpness": {"model_path": "models/sharpness/rtree.xml.gz"}}')
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "mirror"))
    assert "missing models/sharpness/rtree.xml.gz" in ofiq.ofiq_status()
    (data / "models" / "sharpness" / "rtree.xml.gz").write_bytes(b"")
    assert ofiq.ofiq_status() is None
    measured = ofiq.ofiq_quality([np.full((50, 50, 3), 40, np.uint8), np.zeros((50, 50, 3), np.uint8)])
    assert list(measured) == ["UnifiedQualityScore", "Sharpness"]
    np.testing.assert_array_equal(measured["UnifiedQualityScore"], [40.0, np.nan])
    assert np.isnan(measured["Sharpness"]).all()


def test_model_measures_on_sface_stay_in_range_for_a_sharp_and_a_blurred_face(mirror: Path) -> None:
    detector = FaceDetector(resolve_detector("scrfd_2.5g")[0], providers=[CPU])
    image = load_rgb(mirror / "datasets" / "lfw" / "lfw-deepfunneled" / "Colin_Powell" / "Colin_Powell_0001.jpg")
    crop = align(image, detector.detect(image).kps)
    crops = np.stack([crop, cv2.GaussianBlur(crop, (0, 0), 4)])
    values, unavailable = model_quality(load_pack("offline").face_recogniser(), crops)
    assert unavailable == {} and all(np.isfinite(value).all() for value in values.values())
    assert (np.abs(values["flip_agreement"]) <= 1).all() and (np.abs(values["shift_agreement"]) <= 1).all()
    assert (values["embedding_norm"] > 0).all()
