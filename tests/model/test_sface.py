"""The float32 SFace: faithful to the int8 original, batched, flip-tested and cached."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from helpers.core.devices import CPU, CUDA
from helpers.core.files import sha256_file
from helpers.data.faces import FaceDetector, align
from helpers.data.scan import load_rgb
from helpers.models.packs import resolve_detector
from helpers.models.recognisers import SFACE, Recogniser
from helpers.models.sface import SOURCE_SHA256, dequantize_linear, dequantize_model, opencv_int8_embed, sface_float32, source_bytes

# Two images each of four people.
PEOPLE = ("Colin_Powell", "Serena_Williams", "Tony_Blair", "Jennifer_Aniston")


@pytest.fixture(scope="module")
def crops(mirror: Path) -> np.ndarray:
    """Eight aligned 112x112 RGB crops (the workbench's own detector and alignment), person by person."""
    detector = FaceDetector(resolve_detector("scrfd_2.5g")[0], providers=[CPU])
    aligned = []
    for person in PEOPLE:
        for index in (1, 2):
            image = load_rgb(mirror / "datasets" / "lfw" / "lfw-deepfunneled" / person / f"{person}_{index:04d}.jpg")
            aligned.append(align(image, detector.detect(image).kps))
    return np.stack(aligned)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sface_float32(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def recogniser(model_path: Path) -> Recogniser:
    return Recogniser(model_path, SFACE, providers=[CPU], batch_size=3)


def test_blocked_dequantize_matches_the_onnx_reference() -> None:
    rng = np.random.default_rng(0)
    quantized = rng.integers(-128, 128, (4, 10), dtype=np.int8)
    scale = rng.uniform(0.01, 0.1, (4, 3)).astype(np.float32)  # blocks of 4 along axis 1; the last is partial
    zero_point = rng.integers(-5, 5, (4, 3), dtype=np.int8)
    node = helper.make_node("DequantizeLinear", ["x", "s", "z"], ["y"], axis=1, block_size=4)
    graph = helper.make_graph(
        [node],
        "dq",
        [
            helper.make_tensor_value_info(n, t, a.shape)
            for n, t, a in (("x", TensorProto.INT8, quantized), ("s", TensorProto.FLOAT, scale), ("z", TensorProto.INT8, zero_point))
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, quantized.shape)],
    )
    expected = ReferenceEvaluator(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])).run(
        None, {"x": quantized, "s": scale, "z": zero_point}
    )[0]
    np.testing.assert_array_equal(dequantize_linear(quantized, scale, zero_point, axis=1, block_size=4), expected)


def test_converted_graph_is_float32_with_one_dynamic_input() -> None:
    model = dequantize_model(onnx.load_model_from_string(source_bytes()))
    assert "DequantizeLinear" not in {node.op_type for node in model.graph.node}
    assert {tensor.data_type for tensor in model.graph.initializer} <= {TensorProto.FLOAT, TensorProto.INT64}
    (data,) = model.graph.input
    dims = [dim.dim_param or dim.dim_value for dim in data.type.tensor_type.shape.dim]
    assert (data.name, dims) == ("data", ["N", 3, 112, 112])


def test_float32_matches_opencv_int8(recogniser: Recogniser, crops: np.ndarray) -> None:
    assert np.abs(recogniser.embed(crops) - opencv_int8_embed(crops)).max() < 1e-5


def test_same_person_scores_higher_than_different_people(recogniser: Recogniser, crops: np.ndarray) -> None:
    embeddings = recogniser.embed(crops)
    cosine = embeddings @ embeddings.T
    person = np.repeat(np.arange(len(PEOPLE)), 2)
    same = person[:, None] == person[None, :]
    off_diagonal = ~np.eye(len(crops), dtype=bool)
    assert cosine[same & off_diagonal].min() > cosine[~same].max()


def test_batches_agree_with_single_images(recogniser: Recogniser, crops: np.ndarray) -> None:
    singles = np.concatenate([recogniser.embed(crop[None]) for crop in crops])
    np.testing.assert_allclose(recogniser.embed(crops), singles, atol=1e-5)
    assert recogniser.embedding_size == 128 and recogniser.embed(crops[:0]).shape == (0, 128)


def test_flip_embedding_is_normalised_mirror_invariant_and_new(recogniser: Recogniser, crops: np.ndarray) -> None:
    flipped = recogniser.embed(crops, flip=True)
    np.testing.assert_allclose(np.linalg.norm(flipped, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(recogniser.embed(crops[:, :, ::-1], flip=True), flipped, atol=1e-5)
    plain = recogniser.embed(crops)
    assert np.abs(flipped - plain).max() > 1e-3
    assert (np.sum(flipped * plain, axis=1) > 0.8).all()


def test_rejects_crops_of_the_wrong_shape_or_type(recogniser: Recogniser, crops: np.ndarray) -> None:
    for bad in (crops[0], crops.astype(np.float32), crops[:, :100]):
        with pytest.raises(ValueError, match="112, 112, 3"):
            recogniser.embed(bad)


def test_cache_is_reused_and_records_both_hashes(model_path: Path) -> None:
    sidecar = json.loads(model_path.with_suffix(".json").read_text())
    assert sidecar["source_sha256"] == SOURCE_SHA256 and sidecar["sha256"] == sha256_file(model_path)
    mtime = model_path.stat().st_mtime_ns
    assert sface_float32(model_path.parents[2]) == model_path
    assert model_path.stat().st_mtime_ns == mtime


def test_stale_cache_is_converted_again(tmp_path: Path) -> None:
    path = sface_float32(tmp_path)
    record = json.loads(path.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(json.dumps({**record, "source_sha256": "0" * 64}))
    path.write_bytes(b"stale")
    assert sface_float32(tmp_path) == path
    assert sha256_file(path) == record["sha256"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback, which a GPU machine does not take")
def test_cuda_requested_without_a_gpu_is_an_error(model_path: Path) -> None:
    with pytest.raises(RuntimeError, match=CUDA):
        Recogniser(model_path, SFACE, providers=[CUDA, CPU])
