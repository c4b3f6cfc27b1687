"""The training entry point on tiny synthetic data: it learns, resumes exactly, and runs under DDP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from helpers.core.sources import PROJECT_ROOT
from helpers.models import checkpoints
from helpers.training import TrainConfig, train
from helpers.training import loop as training


def config(processed: Path, run: Path, **overrides) -> TrainConfig:
    values = {
        "processed_dir": str(processed),
        "run_dir": str(run),
        "backbone": "mobilenet_v2",
        "embedding_size": 64,
        "loss": "arcface",
        "epochs": 3,
        "batch_size": 8,
        "lr": 0.01,
        "head_lr": 0.1,
        "lq_prob": 0.3,
        "val_impostors": 300,
    }
    return TrainConfig.from_dict({**values, **overrides})


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    state = checkpoints.read_state(run / training.CHECKPOINTS)
    return load_file(str(run / training.CHECKPOINTS / state["weights"]))


def test_loss_falls_and_validation_is_recorded(synthetic_processed: Path, tmp_path: Path) -> None:
    summary = train(config(synthetic_processed, tmp_path, epochs=6, scale=16.0, margin=0.2, lr=0.05, lq_prob=0.0, patience=10))
    history = pd.DataFrame(summary["history"])
    assert list(history["epoch"]) == list(range(7))
    assert history["loss"].iloc[-1] < 0.7 * history["loss"].iloc[1]
    assert history[["val_auc_hq", "val_auc_lq"]].stack().between(0, 1).all()
    assert summary["best_epoch"] == int(history.loc[history["val_auc_lq"].idxmax(), "epoch"])
    for name in (training.HISTORY, checkpoints.BEST, f"{training.CHECKPOINTS}/{checkpoints.STATE}"):
        assert (tmp_path / name).is_file(), name
    assert "ImageNet" in summary["initialisation"]["weights"] or "IMAGENET" in summary["initialisation"]["weights"]


@pytest.mark.e2e
def test_training_on_real_faces_beats_the_untrained_initialisation(orl_processed: Path, tmp_path: Path) -> None:
    """ORL, 28 people: with on-the-fly degradation the val AUC at 16 px rises well above the ImageNet start."""
    summary = train(config(orl_processed, tmp_path, epochs=2, batch_size=16, scale=16.0, margin=0.2, lr=0.02, lq_prob=0.5, val_impostors=2000))
    history = pd.DataFrame(summary["history"]).set_index("epoch")
    assert history.loc[2, "loss"] < history.loc[1, "loss"]
    assert history.loc[[1, 2], "val_auc_lq"].max() > history.loc[0, "val_auc_lq"] + 0.1
    assert summary["best_epoch"] in (1, 2)


def test_killed_run_resumes_to_identical_weights(synthetic_processed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    straight = tmp_path / "straight"
    train(config(synthetic_processed, straight, epochs=2, loss="cosface"))

    killed = tmp_path / "killed"
    save = checkpoints.save_checkpoint

    def save_then_die(*args, **kwargs):
        save(*args, **kwargs)
        raise KeyboardInterrupt("killed after the first checkpoint")

    monkeypatch.setattr(checkpoints, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train(config(synthetic_processed, killed, epochs=2, loss="cosface"))
    assert checkpoints.read_state(killed / training.CHECKPOINTS)["epoch"] == 1
    monkeypatch.setattr(checkpoints, "save_checkpoint", save)
    resumed = train(config(synthetic_processed, killed, epochs=2, loss="cosface"))

    expected, actual = final_weights(straight), final_weights(killed)
    model_keys = [k for k in expected if k.startswith("model/")]
    assert model_keys and set(expected) == set(actual)
    assert all(torch.equal(expected[k], actual[k]) for k in expected)
    histories = [json.loads((run / training.CHECKPOINTS / checkpoints.STATE).read_text())["history"] for run in (straight, killed)]
    assert histories[0] == histories[1] and len(resumed["history"]) == 3  # NaN is stored as null, so == is exact
    assert (straight / training.HISTORY).read_bytes() == (killed / training.HISTORY).read_bytes()


def test_a_different_config_refuses_to_resume(synthetic_processed: Path, tmp_path: Path) -> None:
    train(config(synthetic_processed, tmp_path, epochs=1))
    with pytest.raises(ValueError, match="different config"):
        train(config(synthetic_processed, tmp_path, epochs=1, lr=0.5))


def test_triplet_loss_trains_with_identity_batches(synthetic_processed: Path, tmp_path: Path) -> None:
    summary = train(config(synthetic_processed, tmp_path, epochs=2, loss="triplet", triplet_identities=4, triplet_per_identity=3))
    assert len(summary["history"]) == 3 and all(pd.notna(row["loss"]) for row in summary["history"][1:])


def test_distillation_needs_the_pack_backbone(synthetic_processed: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="pack backbone"):
        config(synthetic_processed, tmp_path, distill_weight=1.0)


@pytest.mark.e2e
def test_ddp_with_two_gloo_processes(synthetic_processed: Path, tmp_path: Path) -> None:
    run = tmp_path / "ddp"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config(synthetic_processed, run, epochs=2).to_dict()))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "helpers.training", str(path)]
    subprocess.run(command, check=True, cwd=PROJECT_ROOT, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}, timeout=600)
    summary = json.loads((run / "train_summary.json").read_text())
    assert summary["world_size"] == 2
    assert [row["epoch"] for row in summary["history"]] == [0, 1, 2]
    assert checkpoints.read_state(run / training.CHECKPOINTS)["epoch"] == 2
