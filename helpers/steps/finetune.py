"""Notebook 03's step: train (one process or ``torchrun``), export the best epoch, and score it as notebook 02 does.

The pairs a fine-tuned model is scored on are the baseline's: :func:`pair_settings`
reads them from the baseline's ``metrics.json`` and refuses values that differ.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.core.files import write_csv_atomic, write_json_atomic
from helpers.core.sources import PROJECT_ROOT, project_path
from helpers.evaluation.comparison import DIFFERENCES, differences_table
from helpers.evaluation.endpoints import Endpoint
from helpers.evaluation.model_runs import ModelRun, check_comparable, condition_frame, load_run
from helpers.evaluation.reports import PairSettings, read_report
from helpers.models import checkpoints
from helpers.models.backbones import FaceEmbedder, build_embedder
from helpers.models.export import export_onnx, max_export_error
from helpers.models.packs import load_pack
from helpers.models.zoo import FINE_TUNED, PRETRAINED
from helpers.training import TrainConfig, train
from helpers.training.loop import SUMMARY

CONFIG = "train_config.json"
ONNX = "model.onnx"
DEFAULT_PAIRS = PairSettings()


def locked_endpoint(baseline_dir: str) -> dict[str, Any] | None:
    """The primary endpoint the baseline's notebook 02 locked (:meth:`Endpoint.lock`), or None without a baseline."""
    return read_report(project_path(baseline_dir)).protocol.endpoint if baseline_dir else None


def pair_settings(baseline_dir: str, **given: int | float | None) -> PairSettings:
    """The pairs to score: the baseline's when ``baseline_dir`` is given (a value given here must equal it), else these or the defaults.

    ``given`` holds :class:`PairSettings` fields (``genuine_per_identity``, ``max_impostors``, ``seed``,
    ``operating_fmr``); None takes the baseline's value (or the default).
    """
    if not baseline_dir:
        return PairSettings(**{key: getattr(DEFAULT_PAIRS, key) if value is None else value for key, value in given.items()})
    baseline = read_report(project_path(baseline_dir)).protocol.pairs
    if clashes := [
        f"{key}={value} (baseline: {getattr(baseline, key)})" for key, value in given.items() if value is not None and value != getattr(baseline, key)
    ]:
        raise ValueError(
            f"the baseline in {baseline_dir} was scored on other pairs: {', '.join(clashes)}; "
            "leave these parameters unset (None) to take the baseline's, or re-run notebook 02 with them"
        )
    return baseline


def run_training(config: TrainConfig, processes: int = 1) -> dict[str, Any]:
    """Train in this process, or in ``processes`` DDP workers under ``torchrun``; returns rank 0's summary.

    The config is saved as ``train_config.json`` in the run folder either way.
    """
    run = project_path(config.run_dir)
    write_json_atomic(run / CONFIG, config.to_dict())
    if processes == 1:
        return train(config)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", "-m", "helpers.training", str(run / CONFIG)]
    print("running:", " ".join(command))
    subprocess.run(command, check=True, cwd=PROJECT_ROOT, env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    return json.loads((run / SUMMARY).read_text(encoding="utf-8"))


def best_embedder(config: TrainConfig) -> FaceEmbedder:
    """The embedder of ``config`` carrying the best epoch's weights."""
    pack = load_pack(config.pack) if config.backbone == "pack" else None
    embedder, _ = build_embedder(config.backbone, config.embedding_size, pack=pack, fallback=config.fallback)
    checkpoints.load_weights(embedder, project_path(config.run_dir) / checkpoints.BEST)
    return embedder.eval()


def export_best(config: TrainConfig, check_crops: np.ndarray) -> tuple[Path, float]:
    """Export the best epoch to ``model.onnx`` in the run folder; returns it and its max deviation from torch on ``check_crops``."""
    embedder = best_embedder(config)
    target = export_onnx(embedder, project_path(config.run_dir) / ONNX)
    return target, max_export_error(embedder, target, check_crops)


def finetuned_label(baseline_dir: str, initialisation: dict[str, Any]) -> str:
    """What people call the fine-tuned model: the baseline's label when training started from the baseline's own
    recogniser (``SFace, fine-tuned for low quality``), else its backbone's name."""
    if baseline_dir:
        baseline = read_report(project_path(baseline_dir)).model
        if baseline.get("sha256") == initialisation.get("sha256") and "label" in baseline:
            return f"{baseline['label'].removesuffix(f', {PRETRAINED}')}, {FINE_TUNED}"
    return f"{initialisation['backbone']}, {FINE_TUNED}"


def before_after(baseline_dir: str, run: ModelRun, endpoint: Endpoint, n_boot: int, seed: int) -> pd.DataFrame:
    """The fine-tuned model minus the baseline, paired, per condition (notebook 05's code); also written as ``differences.csv``."""
    runs = [load_run(baseline_dir), run]
    check_comparable(runs)
    differences = differences_table(runs, condition_frame(runs), endpoint, n_boot, seed)
    write_csv_atomic(run.folder / DIFFERENCES, differences)
    return differences
