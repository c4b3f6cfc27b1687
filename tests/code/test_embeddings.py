"""Embedding cache and scoring on synthetic crops with a stand-in recogniser."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.core.files import read_png_rgb, write_png_atomic
from helpers.data.acquire import ACQUIRED, NO_FACE
from helpers.data.degrade import HQ, Degradation, degrade
from helpers.evaluation import metrics, verification
from helpers.evaluation.bootstrap import Thresholds
from helpers.evaluation.conditions import MODES
from helpers.evaluation.embeddings import EmbeddingStore, compute_embeddings, embed_views, embedding_items, image_keys
from helpers.evaluation.pairs import sample_pairs
from helpers.evaluation.scores import conditions_of
from helpers.models.recognisers import l2_normalise
from tests.conftest import face_like

LEVELS = [Degradation("px16", resolution=16)]


class FakeRecogniser:
    """Embeds a crop as its normalised, mean-removed 8x8 thumbnail; counts the crops it saw."""

    name = "fake"

    def __init__(self) -> None:
        self.seen = 0

    def embed(self, crops: np.ndarray, flip: bool = False) -> np.ndarray:
        self.seen += len(crops)
        small = crops.reshape(len(crops), 8, 14, 8, 14, 3).mean(axis=(2, 4)).reshape(len(crops), -1)
        return l2_normalise(small - small.mean(axis=1, keepdims=True))


@pytest.fixture
def images(tmp_path: Path) -> pd.DataFrame:
    rows = []
    for person in range(4):
        for shot in range(3):
            crop = face_like(person, size=112)
            noisy = np.clip(crop.astype(int) + np.random.default_rng(shot).integers(-20, 20, crop.shape), 0, 255).astype(np.uint8)
            path = f"aligned/p{person}/{shot}.png"
            write_png_atomic(tmp_path / path, noisy)
            rows.append(
                {
                    "path": f"p{person}/{shot}.jpg",
                    "image_id": f"p{person}/{shot}.jpg",
                    "identity": f"p{person}",
                    "split": "test",
                    "sha256": f"{person}{shot}" * 8,
                    "crop_path": path,
                }
            )
    return pd.DataFrame(rows)


def test_warm_cache_computes_nothing_and_resumes(images: pd.DataFrame, tmp_path: Path) -> None:
    items = embedding_items(images, [HQ, *LEVELS], seed=0)
    store = EmbeddingStore(tmp_path / "store")
    first = FakeRecogniser()
    assert compute_embeddings(items.iloc[:10], [HQ, *LEVELS], 0, tmp_path, first, store, chunk_size=4) == 10
    resumed = FakeRecogniser()
    assert compute_embeddings(items, [HQ, *LEVELS], 0, tmp_path, resumed, EmbeddingStore(tmp_path / "store"), chunk_size=4) == len(items) - 10
    warm = FakeRecogniser()
    reloaded = EmbeddingStore(tmp_path / "store")
    assert compute_embeddings(items, [HQ, *LEVELS], 0, tmp_path, warm, reloaded) == 0 and warm.seen == 0
    assert len(reloaded) == len(items) and reloaded.get(items["key"]).shape == (len(items), 192)


def acquisition_table(images: pd.DataFrame, root: Path, lost: str) -> pd.DataFrame:
    """An ``acquisition.csv`` for px16: every image acquired (its crop, blurred, written under lq-e2e/) but ``lost``;
    the last image's pick is the wrong face (IoU 0.1), acquired and scored all the same."""
    rows = []
    for k, row in enumerate(images.itertuples()):
        if row.path == lost:
            rows.append({"path": row.path, "level": "px16", "status": NO_FACE, "iou": None, "wrong_face": False, "lq_path": ""})
            continue
        target = f"lq-e2e/{row.crop_path}"
        write_png_atomic(root / target, degrade(read_png_rgb(root / row.crop_path), LEVELS[0], 1))
        wrong = k == len(images) - 1
        rows.append({"path": row.path, "level": "px16", "status": ACQUIRED, "iou": 0.1 if wrong else 0.9, "wrong_face": wrong, "lq_path": target})
    return pd.DataFrame(rows)


def test_conditions_score_the_same_pairs(images: pd.DataFrame, tmp_path: Path) -> None:
    store = EmbeddingStore(tmp_path / "store")
    pairs = sample_pairs(images[["image_id", "identity", "split"]], 10, 2_000_000, seed=0)
    info = images.set_index("image_id").loc[pairs.images["image_id"]].reset_index()
    lost = "p0/0.jpg"
    conditions = verification.conditions(LEVELS, MODES)
    views = verification.condition_views(conditions)
    items, computed = embed_views(info, views, 0, tmp_path, FakeRecogniser(), store, False, acquisition_table(images, tmp_path, lost))
    assert computed == 3 * len(images) - 1  # HQ, oracle px16, and every acquired end-to-end crop
    scores = verification.score_pairs(pairs, items, store, conditions)
    assert [c.name for c in conditions] == ["HQ-HQ", "HQ-px16", "px16-px16", "e2e:HQ-px16", "e2e:px16-px16"] == conditions_of(scores)
    assert len(scores) == pairs.same.size and all(scores[c.name].dtype == np.float32 for c in conditions)
    embedded = {level: store.get(image_keys(info, level, 0)) for level in (HQ, *LEVELS)}
    expected = np.einsum("ij,ij->i", embedded[HQ][pairs.a], embedded[LEVELS[0]][pairs.b])  # the matrix product, pair by pair
    assert np.allclose(scores["HQ-px16"], expected, atol=1e-6)
    probe_lost, either_lost = scores["path_b"] == lost, (scores["path_a"] == lost) | (scores["path_b"] == lost)
    assert (scores.loc[probe_lost, "e2e:HQ-px16"] == metrics.FAILED_SCORE).all() and (scores.loc[~probe_lost, "e2e:HQ-px16"] > -1.0001).all()
    assert (scores.loc[either_lost, "e2e:px16-px16"] == metrics.FAILED_SCORE).all() and either_lost.any()
    e2e = next(c for c in conditions if c.name == "e2e:px16-px16")
    report = verification.acquisition_report(items, e2e, pairs)
    assert (report["images"], report["failed"], report["no_face"], report["wrong_face"]) == (len(info), 1, 1, 1)
    wrong = scores["path_b"] == images["path"].iloc[-1]
    assert wrong.any() and (scores.loc[wrong, "e2e:HQ-px16"] > -1.0001).all()  # the wrong face is scored, not failed
    assert report["genuine_pairs_failed"] + report["impostor_pairs_failed"] == int(either_lost.sum())
    assert verification.acquisition_report(items, conditions[1], pairs) is None  # oracle: acquired by construction
    hq = scores["HQ-HQ"]
    assert hq[scores["same"]].mean() > hq[~scores["same"]].mean()
    threshold = metrics.threshold_at_fmr(hq.to_numpy(), scores["same"].to_numpy(), 0.1)
    extras = {c.name: {"detector_failures": {"images": 12}} for c in conditions}
    report = verification.condition_metrics(scores, Thresholds.fixed(threshold, 20), 0.1, extras, seed=0)
    assert set(report) == set(conditions_of(scores))
    assert all(0 <= entry["operating"]["fnmr"]["value"] <= 1 for entry in report.values())
    lost_genuine, operating = int((either_lost & scores["same"]).sum()), report["e2e:px16-px16"]["operating"]
    assert operating["frr"]["false_rejections"] == operating["fnmr"]["false_non_matches"] + lost_genuine and lost_genuine > 0
