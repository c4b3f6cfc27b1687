"""Notebook 03's steps around the training loop: launch (one process or ``torchrun``), export the best epoch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from helpers import checkpoints
from helpers.backbones import FaceEmbedder, build_embedder
from helpers.export import export_onnx, max_export_error
from helpers.files import write_json_atomic
from helpers.packs import load_pack
from helpers.sources import PROJECT_ROOT, project_path
from helpers.train import SUMMARY
from helpers.training import TrainConfig, train

CONFIG = "train_config.json"
ONNX = "model.onnx"


def run_training(config: TrainConfig, processes: int = 1) -> dict[str, Any]:
    """Train in this process, or in ``processes`` DDP workers under ``torchrun``; returns rank 0's summary.

    The config is saved as ``train_config.json`` in the run folder either way.
    """
    run = project_path(config.run_dir)
    write_json_atomic(run / CONFIG, config.to_dict())
    if processes == 1:
        return train(config)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", "-m", "helpers.train", str(run / CONFIG)]
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
