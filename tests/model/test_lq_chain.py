"""The realistic training chain: seeded, shuffled, within its declared ranges, distinct from the evaluation preset, and labelled right."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from helpers.data import chains
from helpers.data.degrade import FAMILIES, TRAIN_FAMILIES, TRAIN_RANGES, Degradation, random_degradation
from helpers.evaluation.conditions import END_TO_END, ORACLE
from helpers.evaluation.exposure import BEYOND, SEEN, UNSEEN, Training, exposure, trained_on
from helpers.training import TrainConfig, train
from helpers.training import lq_chain as chain
from helpers.training.data import TrainingFaces
from helpers.training.device_input import DeviceBatches
from helpers.training.loop import input_pipeline
from tests.conftest import face_like
from tests.model.test_training import config as training_config

SEEDS = range(40)
CROP = face_like(3, size=112)


def run_chain(seed: int, resolution: int = 24, families=chain.CHAIN_FAMILIES) -> tuple[np.ndarray, chain.ChainRecord]:
    return chain.degrade_chain(CROP, resolution, families, seed)


def test_the_same_seed_gives_the_same_bytes_and_other_seeds_other_images() -> None:
    image, record = run_chain(5)
    again, record_again = run_chain(5)
    assert image.tobytes() == again.tobytes() and record == record_again
    others = {run_chain(seed)[0].tobytes() for seed in range(6, 12)}
    assert image.tobytes() not in others and len(others) == 6


@pytest.mark.parametrize("resolution", [112, 48, 16, 12])
def test_the_output_is_a_uint8_crop_of_the_input_size(resolution: int) -> None:
    for seed in range(5):
        image, record = run_chain(seed, resolution)
        assert image.shape == (112, 112, 3) and image.dtype == np.uint8
        assert ("resolution" in record.families) == (resolution < 112)


def test_the_families_drawn_are_declared_vary_and_stay_within_those_asked_for() -> None:
    drawn = [run_chain(seed)[1].families for seed in SEEDS]
    assert all(families <= set(chain.CHAIN_FAMILIES) for families in drawn)
    assert len(set(drawn)) > 5 and set().union(*drawn) == set(chain.CHAIN_FAMILIES)
    asked = ("resolution", "blur", "noise")
    assert all(run_chain(seed, families=asked)[1].families <= set(asked) for seed in SEEDS)
    assert set(chain.CHAIN_FAMILIES) <= set(FAMILIES) and set(chain.CHAIN_RANGES) == set(TRAIN_RANGES)


def test_the_order_of_the_steps_is_shuffled_per_image() -> None:
    orders = {tuple(step.kind for step in run_chain(seed)[1].steps if step.order == 1) for seed in SEEDS}
    with_blur_and_resize = [kinds for kinds in orders if "resize" in kinds and any(kind.endswith("blur") for kind in kinds)]
    blur_first = {kinds.index("resize") > min(i for i, kind in enumerate(kinds) if kind.endswith("blur")) for kinds in with_blur_and_resize}
    assert blur_first == {True, False}  # the evaluation preset always blurs before it resizes
    assert all([step.order for step in run_chain(seed)[1].steps] == sorted(step.order for step in run_chain(seed)[1].steps) for seed in SEEDS)


def test_the_training_ranges_differ_from_the_evaluation_presets() -> None:
    """Compares the declared data: no range of either order of the training chain is one the evaluation preset draws."""
    for train_order, eval_order in zip(chain.ORDERS, (chains.FIRST, chains.SECOND)):
        assert train_order.sigma != eval_order.sigma
        assert train_order.noise_std != eval_order.noise_std
        assert train_order.jpeg_quality != chains.JPEG_QUALITY
        assert train_order.motion_length != eval_order.motion_kernel
        assert train_order.blur_p != eval_order.blur_p
    assert set(chain.INTERPOLATIONS.values()) != set(chains.INTERPOLATIONS)
    assert chain.CHAIN_RANGES != TRAIN_RANGES  # and from the plain levels'


def test_the_declared_ranges_bound_every_draw() -> None:
    """What the record says was drawn lies inside what the chain declares (exposure labels rest on it)."""
    for seed in SEEDS:
        for step in run_chain(seed)[1].steps:
            if step.kind == "gaussian blur":
                sigma = float(step.detail.split()[1])
                assert chain.CHAIN_RANGES["blur"][1] <= sigma <= chain.CHAIN_RANGES["blur"][2]
            if step.kind == "jpeg":
                quality = int(step.detail.split()[1])
                assert chain.CHAIN_RANGES["jpeg"][1] <= quality <= chain.CHAIN_RANGES["jpeg"][2]


def faces(lq_chain: str, lq_prob: float = 1.0) -> TrainingFaces:
    images = np.stack([face_like(seed, size=112) for seed in range(6)])
    return TrainingFaces(images, np.arange(6) % 3, seed=4, lq_prob=lq_prob, lq_chain=lq_chain)


def image_at(dataset: TrainingFaces, epoch: int, index: int) -> np.ndarray:
    dataset.set_epoch(epoch)
    return dataset[index][0].numpy()


def test_training_faces_replay_the_chain_per_seed_epoch_and_index() -> None:
    first, again = faces("realistic"), faces("realistic")
    assert image_at(first, 2, 3).tobytes() == image_at(again, 2, 3).tobytes()
    assert not np.array_equal(image_at(first, 2, 3), image_at(first, 3, 3))
    first.set_epoch(2)
    plans = [first.plan(i) for i in range(6)]
    assert all(plan.level is None and plan.chain_resolution in (48, 32, 24, 16) for plan in plans)
    assert len({plan.degrade_seed for plan in plans}) == 6


def test_the_levels_chain_draws_as_before() -> None:
    """lq_chain="levels" keeps the random stream of every existing config: flip coin, lq coin, the level, its seed."""
    dataset = faces("levels", lq_prob=0.6)
    dataset.set_epoch(1)
    for index in range(6):
        rng = np.random.default_rng([4, 1, index])
        flip, degraded = bool(rng.random() < 0.5), rng.random() < 0.6
        level = random_degradation(rng, (48, 32, 24, 16), TRAIN_FAMILIES) if degraded else None
        plan = dataset.plan(index)
        assert (plan.flip, plan.level, plan.chain_resolution) == (flip, level, None)
        assert plan.degrade_seed == (int(rng.integers(2**63)) if degraded else 0)


def test_the_config_validates_the_chain_and_its_input_pipeline(tmp_path: Path) -> None:
    values = {"processed_dir": str(tmp_path), "run_dir": str(tmp_path)}
    with pytest.raises(ValueError, match=r"lq_chain must be one of \('levels', 'realistic'\)"):
        TrainConfig.from_dict({**values, "lq_chain": "bsrgan"})
    with pytest.raises(ValueError, match="input_pipeline to 'host' or 'auto'"):
        TrainConfig.from_dict({**values, "lq_chain": "realistic", "input_pipeline": "device"})
    realistic = TrainConfig.from_dict({**values, "lq_chain": "realistic"})
    assert input_pipeline(realistic, torch.device("cuda")) == "host"
    assert TrainConfig.from_dict(realistic.to_dict()) == realistic and realistic.to_dict()["lq_chain"] == "realistic"
    assert TrainConfig.from_dict(values).lq_chain == "levels"  # a config from before lq_chain existed
    with pytest.raises(ValueError, match="lq_chain"):
        faces("bsrgan")


def run_record(values: dict, with_ranges: bool = True) -> SimpleNamespace:
    """A model run as notebook 05 reads it: metrics.json's ``training`` (the training summary and the config)."""
    config = TrainConfig.from_dict({"processed_dir": "p", "run_dir": "r", "lq_prob": 0.5, **values})
    training = {"config": config.to_dict()}
    if with_ranges:
        training["lq_ranges"] = chain.drawn_ranges(config.lq_chain, config.lq_families)
    return SimpleNamespace(report=SimpleNamespace(training=training))


def test_exposure_follows_the_realistic_chains_families_and_ranges() -> None:
    families = ["resolution", "blur", "noise", "jpeg"]
    trained = trained_on(run_record({"lq_chain": "realistic", "lq_families": families, "lq_resolutions": [32, 16]}))
    assert trained.chain == "realistic" and set(trained.ranges) == {"blur", "noise", "jpeg"}
    assert exposure(Degradation("blur2", blur_sigma=2.0), ORACLE, trained) == SEEN  # the chain reaches sigma 2.4
    assert exposure(Degradation("noise10", noise_sigma=10.0), ORACLE, trained) == SEEN  # ... and noise 12
    assert exposure(Degradation("jpeg50", jpeg_quality=50), ORACLE, trained) == SEEN
    assert exposure(Degradation("jpeg20", jpeg_quality=20), ORACLE, trained) == BEYOND  # ... but quality 25 at worst
    assert exposure(Degradation("blur4", blur_sigma=4.0), ORACLE, trained) == BEYOND
    assert exposure(Degradation("real24", resolution=24, preset="realistic"), ORACLE, trained) == UNSEEN  # motion blur: not drawn
    assert exposure(Degradation("motion5", motion_length=5.0), ORACLE, trained) == UNSEEN
    assert exposure(Degradation("px16", resolution=16), END_TO_END, trained) == UNSEEN
    every = trained_on(run_record({"lq_chain": "realistic", "lq_families": list(chain.CHAIN_FAMILIES), "lq_resolutions": [16]}))
    assert exposure(Degradation("real24", resolution=24, preset="realistic"), ORACLE, every) == BEYOND  # never drawn as such
    assert exposure(Degradation("motion5", motion_length=5.0), ORACLE, every) == SEEN
    unrecorded = trained_on(run_record({"lq_chain": "realistic", "lq_families": families}, with_ranges=False))
    assert exposure(Degradation("blur1", blur_sigma=1.0), ORACLE, unrecorded) == BEYOND  # strengths unknown: not claimed seen


def test_an_old_record_without_lq_chain_is_labelled_as_plain_levels() -> None:
    old = run_record({"lq_families": ["resolution", "blur", "noise"], "lq_resolutions": [32, 16]}, with_ranges=False)
    del old.report.training["config"]["lq_chain"]
    trained = trained_on(old)
    assert trained == Training(("resolution", "blur", "noise"), (32, 16))
    assert exposure(Degradation("blur2", blur_sigma=2.0), ORACLE, trained) == BEYOND  # plain levels reach sigma 1.5
    assert exposure(Degradation("blur1", blur_sigma=1.0), ORACLE, trained) == SEEN
    new = trained_on(run_record({"lq_families": ["resolution", "blur", "noise"], "lq_resolutions": [32, 16]}))
    assert [exposure(Degradation(f"b{s}", blur_sigma=s), ORACLE, new) for s in (1.0, 2.0)] == [SEEN, BEYOND]


def test_training_with_the_realistic_chain_runs_on_the_host_and_records_its_ranges(synthetic_processed: Path, tmp_path: Path) -> None:
    summary = train(training_config(synthetic_processed, tmp_path, epochs=1, lq_prob=0.7, lq_chain="realistic"))
    assert summary["input_pipeline"] == "host" and pd.notna(summary["history"][-1]["loss"])
    assert summary["lq_ranges"] == chain.drawn_ranges("realistic", TRAIN_FAMILIES)


def test_the_device_pipeline_refuses_what_only_the_host_can_do() -> None:
    crops, labels = np.zeros((2, 112, 112, 3), dtype=np.uint8), np.arange(2)
    with pytest.raises(ValueError, match="plain levels only"):
        DeviceBatches(TrainingFaces(crops, labels, seed=0, lq_prob=1.0, lq_chain=chain.REALISTIC), [[0, 1]], torch.device("cpu"))
