"""The face detector's input size: validation, sizing to the image, the dynamic-input copy, all faces, and the scale sweep."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import matplotlib.pyplot as plt
import numpy as np
import onnx
import pandas as pd
import pytest
from onnx import numpy_helper

from helpers.core import sources
from helpers.core.devices import CPU
from helpers.core.files import sha256_file
from helpers.core.sources import ModelFile
from helpers.data import faces
from helpers.data.detection_sweep import faces_vs_scale
from helpers.data.faces import NATIVE, FaceDetector, check_input_size, dynamic_input_model, fixed_input_size, native_input
from helpers.data.scan import load_rgb
from helpers.evaluation import plots
from helpers.models.packs import mirror_detector


def lfw_photo(mirror: Path, person: str = "Colin_Powell", index: int = 1) -> np.ndarray:
    return load_rgb(mirror / "datasets" / "lfw" / "lfw-deepfunneled" / person / f"{person}_{index:04d}.jpg")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh download/derived-model cache for this module's tests."""
    root = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(sources.CACHE_ENV, str(root))
        yield root


@pytest.fixture(scope="module")
def scrfd(mirror: Path, cache: Path) -> ModelFile:
    return mirror_detector("scrfd_2.5g")


@pytest.fixture(scope="module")
def at_640(scrfd: ModelFile) -> FaceDetector:
    return FaceDetector(scrfd, providers=[CPU])


@pytest.fixture(scope="module")
def sized(scrfd: ModelFile) -> FaceDetector:
    return FaceDetector(scrfd, providers=[CPU], input_size=None)


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.mark.parametrize("bad", [0, 32, 100, 650, -64, 640.0, True, "640"])
def test_input_size_must_be_a_multiple_of_32_of_at_least_64(bad: object) -> None:
    with pytest.raises(ValueError, match="input_size"):
        FaceDetector(ModelFile("never.onnx", Path("never.onnx"), "0" * 64, "test"), input_size=bad)


def test_valid_input_sizes_pass() -> None:
    assert [check_input_size(size) for size in (64, 256, 640, np.int64(1280), None)] == [64, 256, 640, 1280, None]


@pytest.mark.parametrize(
    ("shape", "factor", "side"),
    [
        ((250, 250, 3), 1.0, 256),
        ((112, 92, 3), 1.0, 128),
        ((10, 10, 3), 1.0, 64),
        ((33, 20), 1.0, 64),
        ((480, 640, 3), 1.0, 640),
        ((1150, 1920, 3), 1.0, 1920),
        ((6000, 8000, 3), 0.24, 1920),
        ((12000, 9000, 3), 0.16, 1920),
    ],
)
def test_native_input_pads_to_a_multiple_of_32_and_shrinks_only_beyond_the_cap(shape: tuple[int, ...], factor: float, side: int) -> None:
    assert native_input(shape) == (pytest.approx(factor), side)


def test_native_detection_on_a_large_photo_finds_the_face_where_it_is(mirror: Path, sized: FaceDetector) -> None:
    photo = lfw_photo(mirror, "Colin_Powell")
    small = sized.detect(photo)
    large = sized.detect(cv2.resize(photo, (photo.shape[1] * 10, photo.shape[0] * 10), interpolation=cv2.INTER_CUBIC))
    assert small is not None and large is not None
    assert iou(np.asarray(large.bbox) / 10, small.bbox) > 0.8


def test_the_dynamic_copy_is_cached_once_and_the_source_is_untouched(scrfd: ModelFile, cache: Path) -> None:
    copy = dynamic_input_model(scrfd)
    assert copy == cache / "models" / "scrfd" / f"{scrfd.sha256}-dynamic-v{faces.DYNAMIC_VERSION}.onnx"
    assert fixed_input_size(scrfd.path) == (640, 640) and fixed_input_size(copy) is None
    written = copy.stat().st_mtime_ns
    assert dynamic_input_model(scrfd) == copy and copy.stat().st_mtime_ns == written
    assert sha256_file(scrfd.path) == scrfd.sha256


def test_a_copy_that_changes_the_outputs_is_refused(scrfd: ModelFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rewrite = faces._with_dynamic_input

    def damaged(model: onnx.ModelProto) -> onnx.ModelProto:
        dynamic = rewrite(model)
        weights = dynamic.graph.initializer[0]
        weights.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weights) + 0.5, weights.name))
        return dynamic

    monkeypatch.setenv(sources.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(faces, "_with_dynamic_input", damaged)
    with pytest.raises(RuntimeError, match="differs from it"):
        dynamic_input_model(scrfd)
    assert not list(tmp_path.rglob("*.onnx*"))


def test_the_dynamic_copy_at_640_detects_what_the_original_does(mirror: Path, scrfd: ModelFile, at_640: FaceDetector) -> None:
    copy = dynamic_input_model(scrfd)
    on_copy = FaceDetector(ModelFile("copy", copy, sha256_file(copy), "test"), providers=[CPU])
    image = lfw_photo(mirror)
    boxes, keypoints = at_640.detect_all(image)
    copy_boxes, copy_keypoints = on_copy.detect_all(image)
    assert len(boxes) >= 1
    np.testing.assert_allclose(copy_boxes, boxes, atol=1e-3)
    np.testing.assert_allclose(copy_keypoints, keypoints, atol=1e-3)


def test_the_640_detector_reads_the_source_file_and_keeps_its_cache_key(scrfd: ModelFile, at_640: FaceDetector, sized: FaceDetector) -> None:
    assert at_640._scrfd.model_file == str(scrfd.path)
    assert at_640.cache_key() == f"{scrfd.sha256[:16]}:640:0.5:border{faces.RETRY_BORDER}"
    assert sized.cache_key() != at_640.cache_key() and f":native{faces.NATIVE_MAX_SIDE}:" in sized.cache_key()


def test_native_detection_finds_the_face_found_at_640(mirror: Path, at_640: FaceDetector, sized: FaceDetector) -> None:
    for person in ("Colin_Powell", "Serena_Williams", "Tony_Blair"):
        image = lfw_photo(mirror, person)
        reference, small = at_640.detect(image), sized.detect(image)
        assert reference is not None and small is not None, person
        assert not small.padded and iou(small.bbox, reference.bbox) > 0.8, person


@pytest.mark.parametrize("detector", ["at_640", "sized"])
def test_detect_all_gives_boxes_and_keypoints_of_every_face(mirror: Path, detector: str, request: pytest.FixtureRequest) -> None:
    found: FaceDetector = request.getfixturevalue(detector)
    boxes, keypoints = found.detect_all(np.zeros((250, 250, 3), np.uint8))
    assert boxes.shape == (0, 5) and keypoints.shape == (0, 5, 2)
    boxes, keypoints = found.detect_all(lfw_photo(mirror))
    assert boxes.shape[0] >= 1 and boxes.shape[1:] == (5,) and keypoints.shape == (boxes.shape[0], 5, 2)
    assert (boxes[:, 4] >= found.threshold).all() and (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()


def test_fewer_faces_are_found_as_the_crowd_photo_shrinks(mirror: Path, cache: Path) -> None:
    crowd = load_rgb(mirror / "samples" / "crowd_selfie.jpg")
    table = faces_vs_scale(mirror_detector("scrfd_500m"), crowd, (1, 0.125), (None,))
    assert list(table["input_size"]) == [NATIVE] * 2 and list(table["scale"]) == [1, 0.125]
    assert tuple(table[["width", "height"]].iloc[0]) == crowd.shape[1::-1]
    assert tuple(table[["width", "height"]].iloc[1]) == (round(crowd.shape[1] / 8), round(crowd.shape[0] / 8))
    full, smallest = table["faces"]
    assert full > 50 and smallest < full


def test_the_faces_vs_scale_figure_draws_one_line_per_setting() -> None:
    rows = [
        (detector, size, scale, faces, height)
        for detector in ("a", "b")
        for size, found in (("640", (90, 60, 20)), (NATIVE, (120, 30, 0)))
        for scale, faces, height in zip((1, 0.5, 0.25), found, (20.0, 10.0, np.nan if found[2] == 0 else 5.0))
    ]
    table = pd.DataFrame(rows, columns=["detector", "input_size", "scale", "faces", "median_face_px"])
    figure = plots.faces_vs_scale(table, "sweep")
    axis = figure.axes[0]
    assert len(axis.get_lines()) == 4  # two detectors x two input sizes
    assert [top.get_xlabel() for top in axis.child_axes] == ["median face height at that scale (px; full-size median × scale)"]
    plt.close(figure)


def test_the_detector_benchmark_compares_the_detectors(mirror: Path, tmp_path: Path) -> None:
    """``make bench-detectors`` without MTCNN: the offline SCRFD at three input sizes and YuNet, over seven scales."""
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "detector_sweep.py"
    subprocess.run([sys.executable, str(script), "--others", "yunet", "--out", str(tmp_path)], check=True, capture_output=True, text=True)
    sweep = pd.read_csv(tmp_path / "faces_vs_scale.csv")
    assert list(dict.fromkeys(sweep["detector"])) == ["scrfd_2.5g", "yunet"]
    assert list(dict.fromkeys(sweep.loc[sweep["detector"] == "scrfd_2.5g", "input_size"])) == ["640", "1280", NATIVE]
    yunet = sweep[sweep["detector"] == "yunet"].set_index("scale")
    assert set(yunet["input_size"]) == {NATIVE} and len(yunet) == 7
    assert yunet.loc[1.0, "faces"] > 100 and yunet.loc[0.125, "faces"] < yunet.loc[1.0, "faces"]
    assert (tmp_path / "faces_vs_scale.png").stat().st_size > 0 and json.loads((tmp_path / "detector_sweep.json").read_text())["others"] == ["yunet"]
