"""Any ONNX face quality model (CR-FIQA, MagFace, ...) through a model card, as recognisers have theirs.

A quality card is a YAML file; every error names the card and the key to fix::

    name: cr-fiqa-s
    file: cr_fiqa_s.onnx          # beside the card (relative to its folder), or instead:
    url: https://.../cr_fiqa_s.onnx   # read from <mirror>/models/quality/cr_fiqa_s.onnx, the cache, or downloaded
    sha256: 1a2b...               # required: the file is refused unless it matches
    input:                        # the workbench's ArcFace-aligned 112 px crops, resized to size x size
      size: 112                   # optional, 112 by default
      colour: rgb                 # rgb | bgr
      mean: 127.5                 # model input = (pixel - mean) / std, pixels 0..255
      std: 127.5
    output: score                 # score: the output's single value per crop (CR-FIQA's quality head)
                                  # norm: the output's L2 norm per crop (MagFace's embedding)
    output_index: 1               # which of the model's outputs; optional, 0 by default
    higher_is_better: true        # optional, true by default; false negates, so that larger always means better
    licence: "weights: research only"   # optional
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

import cv2
import numpy as np

from helpers.core.devices import inference_session, select_providers
from helpers.core.files import sha256_file
from helpers.core.sources import ChecksumMismatch, Remote, fetch
from helpers.models.cards import CardError, read_card
from helpers.models.recognisers import CROP_SHAPE, Preprocess, check_crops

REQUIRED = ("name", "sha256", "input", "output")
OPTIONAL = ("file", "url", "output_index", "higher_is_better", "licence")
INPUT_REQUIRED = ("colour", "mean", "std")
COLOURS = {"rgb": "RGB", "bgr": "BGR"}
OUTPUT_KINDS = ("score", "norm")
MIRROR_FOLDER = "models/quality"
"""Where a card's ``url`` file sits inside the mirror (``LQFACE_MIRROR``) and the download cache."""


@dataclass(frozen=True)
class QualityCard:
    """A checked quality card: the verified ONNX file, how crops are fed to it, and how its output becomes a score."""

    name: str
    onnx: Path
    sha256: str
    size: int
    preprocess: Preprocess
    output: str
    output_index: int
    higher_is_better: bool
    licence: str
    card: Path


def load_quality_card(path: str | Path) -> QualityCard:
    """Read and check the card at ``path`` and its model file (found, or fetched, and sha256-verified)."""
    card, fields = read_card(path, "quality card", REQUIRED, f"{', '.join(REQUIRED)} and file or url")
    if unknown := sorted(set(fields) - {*REQUIRED, *OPTIONAL}):
        raise CardError(f"{card}: unknown key {', '.join(unknown)}; a quality card takes {', '.join((*REQUIRED, *OPTIONAL))}")
    size, preprocess = _input(card, fields["input"])
    output, index, higher = _output(card, fields)
    onnx, licence = _model_file(card, fields), str(fields.get("licence", "not stated"))
    return QualityCard(str(fields["name"]), onnx, str(fields["sha256"]), size, preprocess, output, index, higher, licence, card)


def _input(card: Path, spec: Any) -> tuple[int, Preprocess]:
    """The input size and preprocessing the card declares under ``input``."""
    if not isinstance(spec, dict) or any(key not in spec for key in INPUT_REQUIRED) or set(spec) - {"size", *INPUT_REQUIRED}:
        raise CardError(f"{card}: input takes colour (rgb | bgr), mean, std and optionally size, e.g. {{colour: rgb, mean: 127.5, std: 127.5}}; got {spec!r}")
    colour, size = str(spec["colour"]).lower(), spec.get("size", CROP_SHAPE[0])
    if colour not in COLOURS:
        raise CardError(f"{card}: input.colour {spec['colour']!r} is neither rgb nor bgr")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise CardError(f"{card}: input.size must be a positive whole number of pixels, not {size!r}")
    if not all(isinstance(spec[key], int | float) and not isinstance(spec[key], bool) for key in ("mean", "std")) or spec["std"] == 0:
        raise CardError(f"{card}: input.mean and input.std must be numbers, std not 0; got mean {spec['mean']!r}, std {spec['std']!r}")
    return size, Preprocess(COLOURS[colour], float(spec["mean"]), float(spec["std"]))


def _output(card: Path, fields: dict[str, Any]) -> tuple[str, int, bool]:
    """The output kind, which output, and its direction."""
    output, index, higher = fields["output"], fields.get("output_index", 0), fields.get("higher_is_better", True)
    if output not in OUTPUT_KINDS:
        raise CardError(f"{card}: output {output!r} is not one of {', '.join(OUTPUT_KINDS)} (score: one value per crop; norm: the L2 norm of an embedding)")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise CardError(f"{card}: output_index must be a whole number from 0, not {index!r}")
    if not isinstance(higher, bool):
        raise CardError(f"{card}: higher_is_better must be true or false, not {higher!r}")
    return output, index, higher


def _model_file(card: Path, fields: dict[str, Any]) -> Path:
    """The card's ONNX file, beside the card (``file``) or fetched (``url``), checked against its ``sha256``."""
    expected = str(fields["sha256"])
    if not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise CardError(f"{card}: sha256 must be 64 lower-case hex digits, not {expected!r}")
    if ("file" in fields) == ("url" in fields):
        raise CardError(f"{card}: give the model as exactly one of file (a path relative to the card's folder) or url")
    if "url" in fields:
        return _fetched(card, str(fields["name"]), str(fields["url"]), expected)
    path = (card.parent / str(fields["file"])).resolve()
    if not path.is_file():
        raise CardError(f"{card}: file {path} does not exist")
    if (actual := sha256_file(path)) != expected:
        raise CardError(f"{card}: sha256: {path} has sha256 {actual}, the card says {expected}; fix the card or replace the file")
    return path


def _fetched(card: Path, name: str, url: str, expected: str) -> Path:
    """The file at ``url``: the mirror's copy, the cache's, or a download (:func:`helpers.core.sources.fetch`), sha256-verified."""
    filename = PurePosixPath(urlparse(url).path).name
    if not filename:
        raise CardError(f"{card}: url {url!r} names no file")
    try:
        return fetch(Remote(f"{name} ({filename})", (url,), expected, f"{MIRROR_FOLDER}/{filename}"))
    except ChecksumMismatch as error:
        raise CardError(f"{card}: sha256: {error}") from error


def _resized(crops_rgb: np.ndarray, size: int) -> np.ndarray:
    """The crops at ``size`` x ``size`` (area averaging down, bilinear up)."""
    if size == crops_rgb.shape[1]:
        return crops_rgb
    method = cv2.INTER_AREA if size < crops_rgb.shape[1] else cv2.INTER_LINEAR
    return np.stack([cv2.resize(crop, (size, size), interpolation=method) for crop in crops_rgb])


class OnnxQualityModel:
    """A quality model from a checked card: N x 112 x 112 x 3 uint8 RGB crops in, one score per crop out, larger = better.

    A model whose batch dimension is fixed at 1 is run one crop at a time.
    """

    def __init__(self, card: QualityCard, providers: list[str] | None = None, batch_size: int = 64) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.card = card
        self.name, self.sha256 = card.name, card.sha256
        self._session = inference_session(card.onnx, providers if providers is not None else select_providers())
        self.providers: list[str] = self._session.get_providers()
        self._input, fixed_batch = self._input_spec()
        self.batch_size = batch_size if fixed_batch is None else fixed_batch
        self._output = self._output_name()

    def _input_spec(self) -> tuple[str, int | None]:
        """The input's name and its fixed batch size (``None`` when dynamic); the card's ``input.size`` must match the model."""
        inputs, size = self._session.get_inputs(), self.card.size
        declared = [dim if isinstance(dim, int) else None for dim in inputs[0].shape[1:]] if len(inputs) == 1 else []
        if len(declared) != 3 or any(dim not in (None, want) for dim, want in zip(declared, (3, size, size))):
            raise CardError(
                f"{self.card.card}: input: the model takes {[(i.name, i.shape) for i in inputs]}, the card says N x 3 x {size} x {size}; fix input.size"
            )
        batch = inputs[0].shape[0]
        fixed = batch if isinstance(batch, int) else None
        if fixed not in (None, 1):
            raise CardError(f"{self.card.card}: a fixed batch size of {fixed} is not supported (only dynamic or 1)")
        return inputs[0].name, fixed

    def _output_name(self) -> str:
        """The name of the output the card reads, after checking that its declared shape suits the card's ``output``."""
        outputs = self._session.get_outputs()
        if self.card.output_index >= len(outputs):
            raise CardError(f"{self.card.card}: output_index {self.card.output_index}, but the model has {len(outputs)} output(s): {[o.name for o in outputs]}")
        chosen = outputs[self.card.output_index]
        self._check_shape(chosen.shape)
        return chosen.name

    def _check_shape(self, shape: list[Any] | tuple[int, ...]) -> None:
        """Raise :class:`CardError` unless ``shape`` (unknown dimensions pass) fits the card's output kind."""
        known = [dim for dim in shape[1:] if isinstance(dim, int)]
        fits = (len(shape) <= 2 and all(dim == 1 for dim in known)) if self.card.output == "score" else len(shape) == 2
        if not fits:
            wanted = "one value per crop (N or N x 1)" if self.card.output == "score" else "an N x D embedding"
            raise CardError(
                f"{self.card.card}: output: {self.card.output} takes {wanted}, but output {self.card.output_index} has shape {list(shape)}; fix output or output_index"
            )

    def score(self, crops_rgb: np.ndarray) -> np.ndarray:
        """One float64 quality score per crop, larger = better, computed ``batch_size`` crops at a time."""
        check_crops(crops_rgb)
        values = [self._score_batch(crops_rgb[start : start + self.batch_size]) for start in range(0, len(crops_rgb), self.batch_size)]
        scores = np.concatenate(values) if values else np.empty(0)
        return scores if self.card.higher_is_better else -scores

    def _score_batch(self, crops_rgb: np.ndarray) -> np.ndarray:
        feed = {self._input: self.card.preprocess.apply(_resized(crops_rgb, self.card.size))}
        output = np.asarray(self._session.run([self._output], feed)[0])
        self._check_shape(output.shape)
        rows = output.reshape(len(output), -1).astype(np.float64)
        return rows[:, 0] if self.card.output == "score" else np.linalg.norm(rows, axis=1)


def load_quality_model(card_path: str | Path, providers: list[str] | None = None, batch_size: int = 64) -> OnnxQualityModel:
    """The quality model the card at ``card_path`` describes, ready to score crops."""
    return OnnxQualityModel(load_quality_card(card_path), providers, batch_size)
