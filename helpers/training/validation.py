"""Per-epoch validation on the val split (people in neither train nor test), and the choice of the best epoch."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from helpers.core.progress import progress
from helpers.evaluation import metrics
from helpers.training.data import TrainingData


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


def validate(embedder: nn.Module, data: TrainingData, device: torch.device) -> dict[str, float]:
    """Val AUC and TAR@FAR=1e-3 for HQ-HQ and HQ gallery vs ``val_level`` probes."""
    hq, lq = embed_crops(embedder, data.val_hq, device), embed_crops(embedder, data.val_lq, device)
    a = data.val_pairs["image_a"].map(data.val_index).to_numpy()
    b = data.val_pairs["image_b"].map(data.val_index).to_numpy()
    same = data.val_pairs["same"].to_numpy()
    result = {}
    for name, probe in (("hq", hq), ("lq", lq)):
        scores = np.einsum("ij,ij->i", hq[a], probe[b])
        result[f"val_auc_{name}"] = metrics.auc(scores, same)
        result[f"val_tar_{name}"] = metrics.tar_at_far(scores, same, 1e-3)
    return result


def best_epoch(history: list[dict]) -> int:
    """The epoch with the highest val AUC at the LQ level (ties: the earliest; an undefined AUC never wins)."""

    def rank(row: dict) -> tuple[float, int]:
        value = row["val_auc_lq"]
        return (value if value is not None and math.isfinite(value) else -math.inf, -row["epoch"])

    return int(max(history, key=rank)["epoch"])


def stop_early(history: list[dict], patience: int) -> bool:
    """Whether ``patience`` epochs have passed without a better val AUC."""
    return len(history) > 1 and history[-1]["epoch"] - best_epoch(history) >= patience


def selection_note(history: list[dict]) -> str | None:
    """Why the best epoch was kept when the val metric could not tell epochs apart (a tie, e.g. a saturated AUC of 1), else None."""
    best = best_epoch(history)
    value = next(row["val_auc_lq"] for row in history if row["epoch"] == best)
    tied = [row["epoch"] for row in history if row["val_auc_lq"] == value]
    if len(tied) < 2:
        return None
    saturated = " (saturated)" if value >= 1 else ""
    return (
        f"val AUC at the LQ level is {value:.4f}{saturated} in epochs {tied}: the val split cannot tell them apart, so the earliest, "
        f"epoch {best}, was kept; a larger or harder val split (more people, a lower val_level) would choose better"
    )
