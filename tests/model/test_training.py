"""The training entry point: it fits, learns what transfers to new people, resumes exactly, and runs under DDP.

Verdicts never hang on a noisy curve crossing a line: the synthetic test checks that 40 training images
are fitted (the mean loss of the last two epochs against the first, with a wide margin), and learning
that transfers to people never trained on is checked on synthetic people who share what there is to
learn (identity a code over common patterns, under lighting, colour-cast and shift nuisance) and on real
faces (ORL), each with a measured margin about twice the bar or more under OMP_NUM_THREADS=1 and 2 and
several seeds. The fast synthetic people are random textures with nothing in common to learn: on them, val AUC
does not reliably rise while the loss falls, so no test asks it to.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from helpers.core.files import read_png_rgb
from helpers.core.sources import PROJECT_ROOT
from helpers.data.degrade import HQ, degrade, image_seed
from helpers.data.levels import load_levels
from helpers.data.manifest import load_manifest
from helpers.evaluation.conditions import ORACLE
from helpers.models import checkpoints
from helpers.models.backbones import build_embedder
from helpers.training import TrainConfig, train
from helpers.training import loop as training
from helpers.training.data import load_training_data


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
        "val_max_impostors": 300,
    }
    return TrainConfig.from_dict({**values, **overrides})


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    state = checkpoints.read_state(run / training.CHECKPOINTS)
    return load_file(str(run / training.CHECKPOINTS / state["weights"]))


@pytest.mark.parametrize("seed", [0, 1])
def test_training_people_are_fitted_and_every_epoch_is_validated(synthetic_processed: Path, tmp_path: Path, seed: int) -> None:
    """40 images of 8 people: memorised whatever the rounding (measured last-two/first loss ratio 0.14-0.31, bar 0.6)."""
    summary = train(config(synthetic_processed, tmp_path, epochs=8, scale=16.0, margin=0.2, lq_prob=0.0, patience=10, seed=seed))
    history = pd.DataFrame(summary["history"])
    assert list(history["epoch"]) == list(range(9))
    losses = history["loss"].iloc[1:]
    assert losses.iloc[-2:].mean() < 0.6 * losses.iloc[0]
    assert history[["val_auc_hq", "val_auc_lq", "val_select"]].stack().between(0, 1).all()
    # 6 val people x 5 images: 15 pairs of people, too few for TAR@1e-3 or 1e-2, so AUC at px16-px16 stands in
    selected = summary["selected_on"]
    assert selected == {"condition": "px16-px16", "statistic": "auc", "requested": "tar@1e-3", "val_people_pairs": selected["val_people_pairs"]}
    assert 10 < selected["val_people_pairs"] <= 15  # Kish over the 15 pairs of people, some image pairs capped away
    assert history["val_select"].equals(history["val_auc_lq"])
    assert summary["best_epoch"] == int(history.loc[history["val_select"].idxmax(), "epoch"])
    for name in (training.HISTORY, checkpoints.BEST, f"{training.CHECKPOINTS}/{checkpoints.STATE}"):
        assert (tmp_path / name).is_file(), name
    assert "ImageNet" in summary["initialisation"]["weights"] or "IMAGENET" in summary["initialisation"]["weights"]


def test_val_crops_sit_at_the_pair_positions(synthetic_processed: Path, tmp_path: Path) -> None:
    """``PairSet.a`` and ``.b`` index the val images sorted by image_id, not in manifest order: each crop row is its image's."""
    data = load_training_data(config(synthetic_processed, tmp_path), None)
    manifest = load_manifest(synthetic_processed).set_index("path")
    levels = load_levels(synthetic_processed)
    (px16,) = levels.levels
    ids = data.val_pairs.images["image_id"]
    assert list(ids) != list(manifest.index[manifest["split"] == "val"])  # the orders differ, so the mapping is tested
    assert set(data.val_crops) == set(data.val_acquired) == {(HQ, ORACLE), (px16, ORACLE)}  # the views of HQ-HQ and px16-px16
    assert all(acquired.all() for acquired in data.val_acquired.values())  # oracle crops: acquired by construction
    for k, image_id in enumerate(ids):
        hq = read_png_rgb(synthetic_processed / manifest.loc[image_id, "crop_path"])
        assert np.array_equal(data.val_crops[(HQ, ORACLE)][k], hq)
        expected = degrade(hq, px16, image_seed(manifest.loc[image_id, "sha256"], px16, levels.seed))
        assert np.array_equal(data.val_crops[(px16, ORACLE)][k], expected)


def test_a_val_condition_outside_notebook_01s_levels_is_refused(synthetic_processed: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"val_condition 'HQ-px8'.*valid: \['HQ-HQ', 'HQ-px16', 'px16-px16', 'e2e:HQ-px16', 'e2e:px16-px16'\]"):
        train(config(synthetic_processed, tmp_path, val_condition="HQ-px8"))


def test_the_best_epoch_follows_the_declared_statistic_at_the_val_condition(synthetic_processed: Path, tmp_path: Path) -> None:
    """EER at HQ gallery vs 16 px probes: the lowest EER wins, and the summary says what was selected on."""
    summary = train(config(synthetic_processed, tmp_path, epochs=2, val_condition="HQ-px16", select_statistic="eer"))
    history = pd.DataFrame(summary["history"])
    selected = summary["selected_on"]
    assert selected == {"condition": "HQ-px16", "statistic": "eer", "requested": "eer", "val_people_pairs": selected["val_people_pairs"]}
    assert history["val_select"].between(0, 1).all() and not history["val_select"].equals(history["val_auc_lq"])
    assert summary["best_epoch"] == int(history.loc[history["val_select"].idxmin(), "epoch"])


TRANSFER = {
    "epochs": 5,
    "lr": 0.002,
    "head_lr": 0.01,
    "warmup_epochs": 1.0,
    "scale": 16.0,
    "margin": 0.2,
    "lq_prob": 0.0,
    "patience": 10,
    "val_max_impostors": 1000,
}
"""A gentle backbone rate and a full warm-up epoch: with this file's defaults (lr 0.01, warm-up 0.5) on batches of 8 the loss
stalls and these people's HQ val AUC goes nowhere (measured: seed 0, 0.69 at the start and at best 0.57 after; seed 1, 0.58 and 0.61)."""


def test_learning_transfers_to_synthetic_people_never_trained_on(shared_code_processed: Path, tmp_path: Path) -> None:
    """12 people x 16 images whose identity is a code over patterns all people share: what is learnt on them
    (read the code, ignore lighting, colour cast and shift) tells 12 val people apart, at HQ-HQ and at px16-px16
    (the default val condition). Measured (fixture and config seeds 0-2, OMP_NUM_THREADS 1 and 2): last-two/first
    loss 0.11-0.19 (bar 0.5); best-epoch gain over the ImageNet start +0.26 to +0.33 at HQ-HQ and +0.22 to +0.28
    at px16-px16 (bar +0.1), from 0.58-0.69 (HQ-HQ) and 0.63-0.74 (px16-px16) to 0.87-0.99."""
    history = pd.DataFrame(train(config(shared_code_processed, tmp_path, **TRANSFER))["history"]).set_index("epoch")
    losses = history["loss"].drop(0)
    assert losses.iloc[-2:].mean() < 0.5 * losses.iloc[0]
    start, trained = history.loc[0], history.drop(0)
    assert trained["val_auc_lq"].max() > start["val_auc_lq"] + 0.1
    assert trained["val_auc_hq"].max() > start["val_auc_hq"] + 0.1


@pytest.mark.e2e
def test_training_on_real_faces_beats_the_untrained_initialisation(orl_processed: Path, tmp_path: Path) -> None:
    """ORL, 28 train people: with on-the-fly degradation the val AUC of HQ gallery vs 16 px probes, on 12 people never
    trained on, rises well above the ImageNet start. Measured gain of the better epoch over epoch 0: +0.20 to +0.30
    (seeds 0-2, OMP_NUM_THREADS 1 and 2), bar +0.1. (HQ-HQ val AUC falls meanwhile, 0.92-0.94 to 0.81-0.87: 2 epochs
    on 280 images trade HQ for LQ; the pack arm, which starts from a face model, is what the demo fine-tunes.) At
    px16-px16 the ImageNet start is already 0.83-0.85 and these 2 epochs gain nothing (-0.06 to +0.01), so this test
    validates at HQ-px16."""
    settings = {"epochs": 2, "batch_size": 16, "scale": 16.0, "margin": 0.2, "lr": 0.02, "lq_prob": 0.5, "val_condition": "HQ-px16", "val_max_impostors": 2000}
    summary = train(config(orl_processed, tmp_path, **settings))
    history = pd.DataFrame(summary["history"]).set_index("epoch")
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


def test_a_checkpoint_from_before_a_setting_existed_resumes_with_its_default(synthetic_processed: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    train(config(synthetic_processed, tmp_path, epochs=1))
    state_file = tmp_path / training.CHECKPOINTS / checkpoints.STATE
    state = json.loads(state_file.read_text())
    del state["config"]["augment"]  # written before augmentation presets existed
    state_file.write_text(json.dumps(state))
    train(config(synthetic_processed, tmp_path, epochs=1))
    assert "resuming after epoch 1" in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"different config \(differs in \['augment'\]\)"):
        train(config(synthetic_processed, tmp_path, epochs=1, augment="seed"))


def test_triplet_loss_trains_with_identity_batches(synthetic_processed: Path, tmp_path: Path) -> None:
    summary = train(config(synthetic_processed, tmp_path, epochs=2, loss="triplet", triplet_identities=4, triplet_per_identity=3))
    assert len(summary["history"]) == 3 and all(pd.notna(row["loss"]) for row in summary["history"][1:])


def test_distillation_needs_the_pack_backbone(synthetic_processed: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="pack backbone"):
        config(synthetic_processed, tmp_path, distill_weight=1.0)


@pytest.mark.e2e
@pytest.mark.parametrize("pipeline", ["host", "device"])
def test_ddp_with_two_gloo_processes(synthetic_processed: Path, tmp_path: Path, pipeline: str) -> None:
    """Two ranks under torchrun, each building its share of every batch on the host or on its device."""
    run = tmp_path / "ddp"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config(synthetic_processed, run, epochs=2, input_pipeline=pipeline).to_dict()))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "helpers.training", str(path)]
    subprocess.run(command, check=True, cwd=PROJECT_ROOT, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}, timeout=600)
    summary = json.loads((run / "train_summary.json").read_text())
    assert (summary["world_size"], summary["input_pipeline"]) == (2, pipeline)
    assert [row["epoch"] for row in summary["history"]] == [0, 1, 2]
    assert checkpoints.read_state(run / training.CHECKPOINTS)["epoch"] == 2


@pytest.mark.parametrize("backbone", ["inception_resnet_v1", "seresnet50"])
def test_the_new_backbone_families_train_end_to_end(synthetic_processed: Path, tmp_path: Path, backbone: str) -> None:
    """FaceNet's InceptionResnetV1 and SE-ResNet50 (from scratch here: their weights are not reachable offline) through the one entry point."""
    summary = train(config(synthetic_processed, tmp_path, backbone=backbone, fallback="random", epochs=2, batch_size=8))
    history = pd.DataFrame(summary["history"])
    assert list(history["epoch"]) == [0, 1, 2] and np.isfinite(history["loss"].iloc[1:]).all()
    assert summary["initialisation"]["backbone"] == backbone and "random init" in summary["initialisation"]["weights"]
    fresh, _ = build_embedder(backbone, 64, fallback="random")
    assert {name.removeprefix("model/embedder.") for name in final_weights(tmp_path) if name.startswith("model/embedder.")} == set(fresh.state_dict())
