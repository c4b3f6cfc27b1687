"""Quality measures from outside the workbench, beside the built-in ones: any ONNX quality model through its card
(:mod:`helpers.quality.onnx_models`), and OFIQ's unified quality score when OFIQ can run here (:mod:`helpers.quality.ofiq`).
An absent OFIQ is reported as unavailable with the reason; a bad card stops the run with an error naming it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.core.sources import project_path
from helpers.quality.ofiq import UNIFIED, ofiq_quality, ofiq_status
from helpers.quality.onnx_models import load_quality_model

OFIQ = "ofiq"


@dataclass(frozen=True)
class Scorer:
    """One outside measure: its name in the tables, its cache folder name, and what it makes of N aligned crops."""

    name: str
    key: str
    score: Callable[[np.ndarray], np.ndarray]


def _ofiq_unified(crops_rgb: np.ndarray) -> np.ndarray:
    return ofiq_quality(list(crops_rgb))[UNIFIED]


def quality_scorers(cards: Sequence[str | Path]) -> tuple[list[Scorer], dict[str, str]]:
    """The scorers of the quality model ``cards`` and of OFIQ, and the outside measures unavailable here, with why."""
    scorers = []
    for card in cards:
        model = load_quality_model(project_path(card))
        scorers.append(Scorer(model.name, f"onnx-{model.name}-{model.sha256[:12]}", model.score))
    reason = ofiq_status()
    if reason is not None:
        return scorers, {OFIQ: reason}
    return [*scorers, Scorer(OFIQ, "ofiq-unified", _ofiq_unified)], {}
