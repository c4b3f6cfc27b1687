"""Models to compare: each model's step folder (``scores.parquet`` + ``metrics.json``), loaded and checked.

A :class:`ModelRun` is what every report reads, for one model (notebooks 02
and 03) or many (notebook 05): the same tables, figures and differences serve both.
Its ``scores`` are the wide table of :mod:`helpers.evaluation.scores`.
:func:`run_recogniser` rebuilds the recogniser a step folder scored with, checked by sha256.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.core.sources import project_path
from helpers.data.degrade import Degradation
from helpers.data.manifest import CLOSED_SET, OPEN_SET
from helpers.evaluation.bootstrap import Thresholds
from helpers.evaluation.conditions import FAMILIES, MODES, Condition, conditions
from helpers.evaluation.reports import ModelReport, Protocol, read_report
from helpers.evaluation.scores import VAL_SCORES, read_scores, read_val_scores
from helpers.evaluation.thresholds import resampled_thresholds
from helpers.models.backbones import EMBEDDER_PREPROCESS
from helpers.models.packs import load_pack
from helpers.models.recognisers import FaceRecogniser, Recogniser
from helpers.models.zoo import load_recogniser


@dataclass(frozen=True, eq=False)
class ModelRun:
    """One model's scored test pairs and its report."""

    name: str
    folder: Path
    scores: pd.DataFrame
    report: ModelReport
    val_scores: pd.DataFrame | None = None

    @property
    def protocol(self) -> Protocol:
        return self.report.protocol

    @property
    def conditions(self) -> dict[str, dict]:
        """Per-condition metrics, as :func:`helpers.evaluation.verification.condition_report` wrote them."""
        return self.report.conditions

    @property
    def threshold(self) -> float:
        """The operating threshold, fixed on this model's val HQ-HQ impostors (NaN: val supported none)."""
        value = self.protocol.operating["threshold"]
        return math.nan if value is None else float(value)

    def thresholds(self, n_boot: int, seed: int) -> Thresholds:
        """The operating threshold and its values on ``n_boot`` resamples of the val people (:mod:`helpers.evaluation.thresholds`)."""
        return _thresholds(self, n_boot, seed)

    @property
    def tag(self) -> str:
        """``open-set`` or ``closed-set``."""
        return protocol_tag(self.protocol.label)


@functools.lru_cache(maxsize=16)
def _thresholds(run: ModelRun, n_boot: int, seed: int) -> Thresholds:
    if run.val_scores is None:
        raise ValueError(f"{run.folder} holds no {VAL_SCORES}: its intervals cannot carry the threshold's noise; re-run its notebook (02 or 03)")
    return resampled_thresholds(run.val_scores, run.protocol.operating, n_boot, seed)


def model_run(folder: str | Path, scores: pd.DataFrame, report: ModelReport, val_scores: pd.DataFrame | None = None) -> ModelRun:
    """A run from a model's scores, report and val scores; its name is the report's ``model["name"]``."""
    return ModelRun(str(report.model["name"]), project_path(folder), scores, report, val_scores)


def load_run(folder: str | Path) -> ModelRun:
    """Read a step folder of notebook 02 or 03."""
    path = project_path(folder)
    return model_run(path, read_scores(path), read_report(path), read_val_scores(path))


def run_recogniser(folder: str | Path, batch_size: int = 64) -> tuple[dict[str, Any], FaceRecogniser, bool]:
    """A scored step folder's model description, its recogniser (a fine-tuned run's ``model.onnx``, a zoo model or the
    pack's) and its flip setting; raises when the model found now is not the one the step scored (sha256)."""
    path = project_path(folder)
    model = read_report(path).model
    recogniser: FaceRecogniser
    if "onnx" in model:
        recogniser = Recogniser(path / model["onnx"], EMBEDDER_PREPROCESS, batch_size=batch_size)
    elif "zoo" in model:
        recogniser = load_recogniser(model["zoo"], batch_size)[0]
    else:
        recogniser = load_pack(model["pack"]).face_recogniser(batch_size)
    if recogniser.sha256 != model["sha256"]:
        raise ValueError(
            f"{path}: the model found now ({recogniser.name}, sha256 {recogniser.sha256[:12]}…) is not the one this step scored "
            f"(sha256 {model['sha256'][:12]}…); re-run that step, or point at the step folder of the model you mean"
        )
    return model, recogniser, bool(model.get("flip", False))


def check_comparable(runs: Sequence[ModelRun]) -> None:
    """Raise unless the runs carry distinct model names, one protocol label, split, pair settings, level seed and end-to-end
    acquisition settings, and the same level definitions."""
    _check_names(runs)
    _check_protocol(runs)
    _check_levels(runs)


def _check_names(runs: Sequence[ModelRun]) -> None:
    seen: dict[str, Path] = {}
    for run in runs:
        if run.name in seen:
            raise ValueError(f"{seen[run.name]} and {run.folder} both hold model '{run.name}': give each model its own name")
        seen[run.name] = run.folder


def _check_protocol(runs: Sequence[ModelRun]) -> None:
    first = runs[0]
    for run in runs[1:]:
        for key in ("label", "split", "pairs", "level_seed", "acquisition"):
            if getattr(run.protocol, key) != getattr(first.protocol, key):
                raise ValueError(
                    f"refusing to compare {run.folder} ({key}: {getattr(run.protocol, key)!r}) with "
                    f"{first.folder} ({key}: {getattr(first.protocol, key)!r}): they were not scored under one protocol"
                )


def _check_levels(runs: Sequence[ModelRun]) -> None:
    defined: dict[str, tuple[dict, Path]] = {}
    for run in runs:
        for level, spec in run.protocol.levels.items():
            first_spec, first_folder = defined.setdefault(level, (spec, run.folder))
            if spec != first_spec:
                raise ValueError(f"level '{level}' is defined differently in {first_folder} and {run.folder}: the conditions are not comparable")


def baseline_first(runs: Sequence[ModelRun], baseline_name: str = "") -> list[ModelRun]:
    """The runs with the baseline first: the model named ``baseline_name``, or the first run when it is empty."""
    if not baseline_name:
        return list(runs)
    chosen = [run for run in runs if run.name == baseline_name]
    if not chosen:
        raise ValueError(f"baseline '{baseline_name}' is none of the models {[run.name for run in runs]}")
    return chosen + [run for run in runs if run.name != baseline_name]


def load_runs(folders: Sequence[str | Path], baseline_name: str = "") -> list[ModelRun]:
    """The models of ``folders``, checked to be comparable, baseline first; needs at least two."""
    if isinstance(folders, (str, Path)):
        raise TypeError(f"`models` must be a list of step folders, got the single {type(folders).__name__} {str(folders)!r}")
    if len(folders) < 2:
        raise ValueError(f"`models` lists {len(folders)} step folder(s): a comparison needs the baseline and at least one more model")
    runs = [load_run(folder) for folder in folders]
    check_comparable(runs)
    return baseline_first(runs, baseline_name)


def protocol_tag(label: str) -> str:
    """``open-set`` or ``closed-set`` for a protocol label (any other label is returned whole)."""
    return {OPEN_SET: "open-set", CLOSED_SET: "closed-set"}.get(label, label)


def roles(runs: Sequence[ModelRun]) -> dict[str, str]:
    """``baseline`` for the first run's model, ``compared`` for the others."""
    return {run.name: "baseline" if i == 0 else "compared" for i, run in enumerate(runs)}


def models_frame(runs: Sequence[ModelRun]) -> pd.DataFrame:
    """One row per model: its role, protocol, folder, conditions and scored pairs."""
    role = roles(runs)
    return pd.DataFrame(
        [
            {
                "model": run.name,
                "role": role[run.name],
                "protocol": run.tag,
                "folder": str(run.folder),
                "conditions": len(run.conditions),
                "scored pairs": len(run.scores),
                "operating threshold": run.threshold,
            }
            for run in runs
        ]
    )


def run_conditions(run: ModelRun) -> list[Condition]:
    """The conditions ``run`` reports, rebuilt from the level definitions in its protocol."""
    levels = [Degradation(**spec) for spec in run.protocol.levels.values()]
    return [condition for condition in conditions(levels, run.protocol.modes) if condition.name in run.conditions]


def condition_frame(runs: Sequence[ModelRun]) -> pd.DataFrame:
    """Every condition any model reports, in reading order (HQ-HQ, HQ-LQ, LQ-LQ; oracle before end-to-end; sharper first):
    family, alignment, resolution, description, the probe's level, its corruption families, and its sweep: the one factor
    varied and its value (a preset: the preset's name and the resolution)."""
    found = {condition.name: condition for run in runs for condition in run_conditions(run)}
    rows = [_condition_row(name, condition) for name, condition in found.items()]
    frame = pd.DataFrame(rows)
    frame["rank"] = frame["family"].map(FAMILIES.index)
    frame["mode_rank"] = frame["mode"].map(MODES.index)
    order = ["rank", "mode_rank", "resolution", "condition"]
    return frame.sort_values(order, ascending=[True, True, False, True]).drop(columns=["rank", "mode_rank"]).set_index("condition")


def _condition_row(name: str, condition: Condition) -> dict:
    probe = condition.probe
    factor, value = probe.curve_point or ("", None)
    return {
        "condition": name,
        "family": condition.family,
        "mode": condition.mode,
        "alignment": condition.alignment,
        "resolution": condition.resolution,
        "description": condition.describe(),
        "level": "" if probe.is_identity else probe.name,
        "factors": ", ".join(sorted(probe.factors)),
        "factor": factor,
        "factor_value": value,
    }
