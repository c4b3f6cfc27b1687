"""The recognisers notebook 02 can score, by name: each one's family, alignment, licence, and whether it is reachable here.

A model is the network plus the preprocessing and alignment it was trained with, recorded together
(``metrics.json``'s ``model``). :func:`availability` lists every model with the reason it cannot be
had here (no local copy, download failed), so a comparison never leaves one out silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from helpers.core.sources import ResourceUnavailable
from helpers.models.cards import CARD_SUFFIXES, load_card
from helpers.models.dlib_resnet import DlibRecogniser
from helpers.models.packs import OFFLINE_PACK, folder_pack, offline_pack
from helpers.models.recognisers import FaceRecogniser, Recogniser

PACK_RECOGNISER = ""
"""Notebook 02's default: the recogniser of the model pack it loaded."""


@dataclass(frozen=True)
class ZooModel:
    """One named recogniser: how to build it and what it is."""

    name: str
    label: str  # what people call it, in the README and the app
    family: str
    alignment: str
    licence: str
    build: Callable[[int], FaceRecogniser]


def _pack_recogniser(pack_name: str) -> Callable[[int], FaceRecogniser]:
    def build(batch_size: int) -> FaceRecogniser:
        pack = offline_pack() if pack_name == OFFLINE_PACK else folder_pack(pack_name)
        return pack.face_recogniser(batch_size)

    return build


ZOO = {
    model.name: model
    for model in (
        ZooModel("sface", "SFace", "SFace (OpenCV Zoo, MobileFaceNet-like, 128-d)", "arcface112", "Apache-2.0", _pack_recogniser(OFFLINE_PACK)),
        ZooModel("dlib", "dlib ResNet", "dlib ResNet v1 (128-d)", "dlib150 (from the 112 px crop)", "CC0-1.0", DlibRecogniser),
        ZooModel(
            "buffalo_l",
            "ArcFace R50 (buffalo_l)",
            "InsightFace ArcFace R50 (WebFace600K, 512-d)",
            "arcface112",
            "InsightFace: non-commercial research",
            _pack_recogniser("buffalo_l"),
        ),
        ZooModel(
            "buffalo_s",
            "ArcFace MBF (buffalo_s)",
            "InsightFace ArcFace MBF (WebFace600K, 512-d)",
            "arcface112",
            "InsightFace: non-commercial research",
            _pack_recogniser("buffalo_s"),
        ),
        ZooModel(
            "antelopev2",
            "ArcFace R100 (antelopev2)",
            "InsightFace ArcFace R100 (Glint360K, 512-d)",
            "arcface112",
            "InsightFace: non-commercial research",
            _pack_recogniser("antelopev2"),
        ),
    )
}


PACK_MODELS = {OFFLINE_PACK: "sface"}
"""Zoo names of the packs whose pack name is not their recogniser's (the offline pack's is SFace)."""
PRETRAINED, FINE_TUNED = "pretrained", "fine-tuned for low quality"


def label(choice: str) -> str:
    """What people call a pack's or zoo model's recogniser (``offline`` -> ``SFace``); a folder or card keeps its own name."""
    model = ZOO.get(PACK_MODELS.get(choice, choice))
    return model.label if model is not None else choice


def is_card(choice: str) -> bool:
    """Whether ``choice`` names a model card file rather than a zoo model."""
    return choice.endswith(CARD_SUFFIXES)


def load_recogniser(choice: str, batch_size: int = 64) -> tuple[FaceRecogniser, str, str]:
    """The recogniser named ``choice`` (a zoo name or a model card path), the label its results go under, and what it is."""
    if is_card(choice):
        card = load_card(choice)
        recogniser = Recogniser(card.onnx, card.preprocess, batch_size=batch_size)
        return recogniser, card.name, f"{card.name}: {card.onnx.name} from model card {card.card} ({card.preprocess.key()}; licence: {card.licence})"
    if choice not in ZOO:
        raise ValueError(f"recogniser {choice!r} is neither a zoo model ({', '.join(ZOO)}) nor a model card (*.yaml)")
    model = ZOO[choice]
    return model.build(batch_size), model.name, f"{model.name}: {model.family}, alignment {model.alignment}, licence {model.licence}"


def availability(names: tuple[str, ...] = tuple(ZOO)) -> pd.DataFrame:
    """One row per zoo model: family, alignment, licence, whether it loads here, and why not."""
    rows = []
    for name in names:
        model = ZOO[name]
        try:
            model.build(1)
            available, why = True, ""
        except (ResourceUnavailable, ValueError, OSError) as error:
            available, why = False, " ".join(str(error).split())
        rows.append({"model": name, "family": model.family, "alignment": model.alignment, "licence": model.licence, "available": available, "why": why})
    return pd.DataFrame(rows).set_index("model")
