"""Per-epoch validation on the val split (people in neither train nor test), and the choice of the best epoch.

Each epoch is scored on the val pairs at HQ-HQ and at the configured val condition;
the best epoch is the one with the best selection statistic (``val_select``: the
declared primary statistic, or its estimable stand-in) at the val condition.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from helpers.core.progress import progress
from helpers.data.degrade import HQ
from helpers.evaluation import metrics
from helpers.evaluation.conditions import HQ_CONDITION, Condition
from helpers.evaluation.embeddings import View, view_of
from helpers.evaluation.statistics import Statistic
from helpers.evaluation.verification import pair_scores
from helpers.training.data import Selection, TrainingData

HQ_HQ = Condition(HQ_CONDITION, HQ, HQ)
TAR_FAR = 1e-3  # the FAR of the val_tar_* columns


@torch.no_grad()
def embed_crops(embedder: nn.Module, crops: np.ndarray, device: torch.device, batch_size: int = 128) -> np.ndarray:
    """L2-normalised embeddings of N x 112 x 112 x 3 uint8 crops with ``embedder`` in eval mode."""
    was_training = embedder.training
    embedder.eval()
    out = []
    for start in progress(range(0, len(crops), batch_size), "val embeddings", total=-(-len(crops) // batch_size)):
        batch = torch.from_numpy(crops[start : start + batch_size]).permute(0, 3, 1, 2).to(device, torch.float32)
        out.append(nn.functional.normalize(embedder(batch).float(), dim=1).cpu().numpy())
    embedder.train(was_training)
    return np.concatenate(out)


def _condition_values(embedded: dict[View, np.ndarray], data: TrainingData, condition: Condition) -> dict[str, float]:
    """AUC, TAR@FAR=1e-3 (NaN when not estimable) and the selection statistic of the val pairs seen under ``condition``
    (a pair with a face not acquired scores :data:`~helpers.evaluation.metrics.FAILED_SCORE`
    and counts as on test: system-level pairs, :func:`~helpers.evaluation.metrics.system_pairs`)."""
    pairs = data.val_pairs
    a, b = (view_of(level, condition.mode) for level in (condition.level_a, condition.level_b))
    scores = pair_scores(embedded[a], embedded[b], pairs.a, pairs.b)
    scores[~(data.val_acquired[a][pairs.a] & data.val_acquired[b][pairs.b])] = metrics.FAILED_SCORE
    keep = metrics.system_pairs(scores, pairs.same)
    scores, same = scores[keep], pairs.same[keep]
    curve = metrics.RankedScores(scores, same).roc()
    if curve is None:
        return dict.fromkeys(("auc", "tar", "select"), math.nan)
    return {"auc": metrics.auc_of(curve), "tar": metrics.tar_at_far(scores, same, TAR_FAR), "select": data.selection.statistic.of(curve, math.nan)}


def validate(embedder: nn.Module, data: TrainingData, device: torch.device) -> dict[str, float]:
    """Val AUC and TAR@FAR=1e-3 at HQ-HQ (``_hq``) and at the val condition (``_lq``), and ``val_select``, the
    selection statistic at the val condition. NaN where undefined (TAR: fewer impostors than the rule of 30 needs)."""
    embedded = {view: embed_crops(embedder, crops, device) for view, crops in data.val_crops.items()}
    hq, lq = (_condition_values(embedded, data, condition) for condition in (HQ_HQ, data.selection.condition))
    return {"val_auc_hq": hq["auc"], "val_tar_hq": hq["tar"], "val_auc_lq": lq["auc"], "val_tar_lq": lq["tar"], "val_select": lq["select"]}


def _merit(row: dict, statistic: Statistic) -> float:
    """``val_select`` oriented so that more is better; an undefined value ranks below everything."""
    value = row["val_select"]
    if value is None or not math.isfinite(value):
        return -math.inf
    return value if statistic.higher_is_better else -value


def best_epoch(history: list[dict], statistic: Statistic) -> int:
    """The epoch with the best ``val_select`` (``statistic`` says which way is better; ties: the earliest)."""
    return int(max(history, key=lambda row: (_merit(row, statistic), -row["epoch"]))["epoch"])


def stop_early(history: list[dict], statistic: Statistic, patience: int) -> bool:
    """Whether ``patience`` epochs have passed without a better ``val_select``."""
    return len(history) > 1 and history[-1]["epoch"] - best_epoch(history, statistic) >= patience


def selection_note(history: list[dict], selection: Selection) -> str | None:
    """Why the best epoch was kept when the selection statistic could not tell epochs apart (a tie, e.g. a saturated AUC of 1,
    or undefined in every epoch), else None."""
    statistic, where = selection.statistic, f"val {selection.statistic.label} at {selection.condition.name}"
    best = next(row for row in history if row["epoch"] == best_epoch(history, statistic))
    if _merit(best, statistic) == -math.inf:
        return f"{where} is undefined in every epoch (the val pairs lack genuine or impostor pairs), so epoch {best['epoch']} was kept by default"
    tied = [row["epoch"] for row in history if row["val_select"] == best["val_select"]]
    if len(tied) < 2:
        return None
    value = best["val_select"]
    saturated = " (saturated)" if value == (1 if statistic.higher_is_better else 0) else ""
    return (
        f"{where} is {value:.{statistic.digits}f}{saturated} in epochs {tied}: the val split cannot tell them apart, so the earliest, "
        f"epoch {best['epoch']}, was kept; a larger or harder val split (more people, a harder val_condition) would choose better"
    )
