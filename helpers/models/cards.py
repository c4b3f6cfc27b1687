"""Model cards: a small YAML file that makes any ONNX face recogniser scorable, by declaring its preprocessing.

A card sits beside (or points at) the ONNX file and must say everything the workbench would otherwise
have to assume::

    name: ir50-webface          # how results label it
    onnx: ir50.onnx             # relative to the card's folder
    sha256: 1a2b...             # optional: the file is refused unless it matches
    alignment: arcface          # the workbench's crops: five points on ArcFace's 112 px template
    input_size: 112
    channel_order: RGB          # RGB | BGR
    mean: 127.5                 # model input = (pixel - mean) / std, pixels 0..255
    std: 127.5
    licence: "weights: research only"

A card missing any preprocessing field is rejected, naming the field: a wrong guess would silently
cost accuracy and be read as the model's own weakness.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from helpers.core.files import sha256_file
from helpers.models.recognisers import CROP_SHAPE, Preprocess

REQUIRED = ("name", "onnx", "alignment", "input_size", "channel_order", "mean", "std")
ALIGNMENTS = ("arcface",)
CARD_SUFFIXES = (".yaml", ".yml")


class CardError(ValueError):
    """A model card that cannot be used as written."""


@dataclass(frozen=True)
class ModelCard:
    """A checked card: the ONNX file it names and the preprocessing it declares."""

    name: str
    onnx: Path
    preprocess: Preprocess
    licence: str
    card: Path


def read_card(path: str | Path, what: str, required: tuple[str, ...], mapping_of: str, missing_hint: str = "") -> tuple[Path, dict[str, Any]]:
    """The card file at ``path`` and its YAML mapping, checked to exist and to hold every ``required`` key; ``what``
    names the kind of card, ``mapping_of`` what its mapping holds, ``missing_hint`` follows the missing keys."""
    card = Path(path).expanduser()
    if not card.is_file():
        raise CardError(f"{what} {card} does not exist")
    fields = yaml.safe_load(card.read_text(encoding="utf-8"))
    if not isinstance(fields, dict):
        raise CardError(f"{card}: a {what} is a YAML mapping of {mapping_of}")
    if missing := [name for name in required if name not in fields]:
        raise CardError(f"{card}: missing {', '.join(missing)}{missing_hint}")
    return card, fields


def load_card(path: str | Path) -> ModelCard:
    """Read and check the card at ``path``; :class:`CardError` names the file, the field and the fix."""
    hint = "; declare the model's preprocessing, e.g. channel_order: RGB, mean: 127.5, std: 127.5"
    card, fields = read_card(path, "model card", REQUIRED, ", ".join(REQUIRED), hint)
    _check_geometry(card, fields)
    onnx = (card.parent / str(fields["onnx"])).resolve()
    if not onnx.is_file():
        raise CardError(f"{card}: onnx file {onnx} does not exist")
    if (expected := fields.get("sha256")) is not None and (actual := sha256_file(onnx)) != expected:
        raise CardError(f"{card}: {onnx} has sha256 {actual}, the card says {expected}; fix the card or replace the file")
    try:
        preprocess = Preprocess(fields["channel_order"], float(fields["mean"]), float(fields["std"]))
    except (TypeError, ValueError) as error:
        raise CardError(f"{card}: {error}") from None
    if preprocess.std == 0:
        raise CardError(f"{card}: std must not be 0")
    return ModelCard(str(fields["name"]), onnx, preprocess, str(fields.get("licence", "not stated")), card)


def _check_geometry(card: Path, fields: dict[str, Any]) -> None:
    """The alignment and input size the workbench can feed (its crops are ArcFace-aligned 112 px)."""
    if fields["alignment"] not in ALIGNMENTS:
        raise CardError(f"{card}: alignment {fields['alignment']!r} is not supported; ONNX cards take the workbench's crops: alignment: arcface")
    if fields["input_size"] != CROP_SHAPE[0]:
        raise CardError(f"{card}: input_size {fields['input_size']!r} is not supported; ONNX cards take {CROP_SHAPE[0]} px crops")
