"""The quality of every face a run scores: one row per (image, view) with every measure, cached like embeddings.

Image measures (:mod:`helpers.quality.measures`) are computed on the aligned crop the recogniser sees. The detector's
confidence and the eye distance come from the detection that found the face: notebook 01's on the HQ photo, or the
end-to-end one on the degraded photo (``acquisition.csv``). An oracle level has no detection of its own: its eye
distance is the HQ one scaled to the level's resolution, its detector confidence undefined. Model measures
(:mod:`helpers.quality.model_measures`) come from the recogniser being scored. A face not acquired has no value of any
measure (NaN): wherever pairs are discarded by quality, it counts as the lowest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from insightface.utils.face_align import arcface_dst

from helpers.core.progress import progress
from helpers.data.degrade import HQ, Degradation
from helpers.data.faces import CROP_SIZE
from helpers.data.manifest import row_numbers
from helpers.evaluation.conditions import END_TO_END
from helpers.evaluation.embeddings import EmbeddingStore, View, item_crop, recogniser_key, view_items
from helpers.models.recognisers import FaceRecogniser
from helpers.quality.measures import CROP_MEASURES
from helpers.quality.model_measures import MODEL_MEASURES, model_quality
from helpers.quality.scorers import Scorer

QUALITY_VERSION = 1
"""Bump when a measure changes: the cache folders carry it, so no old value is reused."""
TEMPLATE_EYES = float(np.linalg.norm(arcface_dst[1] - arcface_dst[0]))
"""The eye distance of the 112 px ArcFace template: a face sampled at ``r`` px has its eyes ``TEMPLATE_EYES * r / 112`` apart."""
DETECTION_MEASURES = ("det_score", "eye_distance")
MEASURES = (*DETECTION_MEASURES, *CROP_MEASURES, *MODEL_MEASURES)
"""Every built-in measure, larger is better for each."""
LABELS = {
    "det_score": "detector confidence",
    "eye_distance": "eye distance (px)",
    "sharpness": "sharpness (Laplacian variance)",
    "exposure": "exposure (mean grey)",
    "contrast": "contrast (grey std)",
    "unblockiness": "no JPEG blocking",
    "embedding_norm": "embedding norm",
    "flip_agreement": "flip agreement",
    "shift_agreement": "1-px shift agreement",
}
"""Each measure in words, for tables and figures."""
TABLE_COLUMNS = ["split", "path", "identity", "level", "mode", "acquired"]
"""The columns before the measures in the per-image table (``quality.parquet``)."""


@dataclass(frozen=True)
class Quality:
    """The per-image quality table and the measures that could not be computed, with why."""

    table: pd.DataFrame
    unavailable: dict[str, str]

    @property
    def measures(self) -> list[str]:
        """The measures the table holds a column for, in order."""
        return [column for column in self.table.columns if column not in TABLE_COLUMNS]

    def rows(self, split: str, view: View, paths: Sequence[str]) -> pd.DataFrame:
        """The rows of the images ``paths`` of ``split`` at ``view``, in that order (all NaN for an image not there)."""
        level, mode = view
        table = self.table
        return table[(table["split"] == split) & (table["level"] == level.name) & (table["mode"] == mode)].set_index("path").reindex(paths)

    def values(self, split: str, view: View, measure: str, paths: Sequence[str]) -> np.ndarray:
        """``measure`` of the images ``paths`` of ``split`` at ``view`` (NaN where undefined)."""
        return self.rows(split, view, paths)[measure].to_numpy(dtype=float)

    def acquired(self, split: str, view: View, paths: Sequence[str]) -> np.ndarray:
        """Which of the images ``paths`` had a face acquired at ``view``."""
        return self.rows(split, view, paths)["acquired"].fillna(False).to_numpy(dtype=bool)


def _numbers(column: pd.Series) -> np.ndarray:
    """A manifest or acquisition column as floats, empty cells NaN."""
    return pd.to_numeric(column.replace("", np.nan)).to_numpy(dtype=float)


def _eyes(kps: str) -> float:
    points = row_numbers(kps)
    return float(np.linalg.norm(points[2:4] - points[0:2])) if points.size == 10 else np.nan


def detection_measures(images: pd.DataFrame, view: View, acquisition: pd.DataFrame | None) -> dict[str, np.ndarray]:
    """The detector's confidence and the eye distance of ``images`` at ``view``, from the detection that found each face."""
    level, mode = view
    if mode == END_TO_END and not level.is_identity:
        if acquisition is None:
            raise ValueError("end-to-end views need notebook 01's acquisition.csv: rerun notebook 01 with end_to_end=True")
        found = acquisition[acquisition["level"] == level.name].set_index("path").reindex(images["path"].to_numpy())
        return {name: _numbers(found[name]) for name in DETECTION_MEASURES}
    eyes = np.array([_eyes(kps) for kps in images["kps"]])
    if level.is_identity:
        return {"det_score": _numbers(images["det_score"]), "eye_distance": eyes}
    return {"det_score": np.full(len(images), np.nan), "eye_distance": np.minimum(eyes, TEMPLATE_EYES * level.resolution / CROP_SIZE)}


def _crop_values(crops: np.ndarray) -> np.ndarray:
    return np.array([[measure(crop) for measure in CROP_MEASURES.values()] for crop in crops])


Group = tuple[EmbeddingStore, Callable[[np.ndarray], np.ndarray], int]
"""A cache, what it holds of N crops (N x width values), and that width."""


def _cached(groups: Sequence[Group], items: pd.DataFrame, processed_dir: Path, levels: Mapping[str, Degradation], seed: int) -> list[np.ndarray]:
    """Each group's values of every acquired item (NaN rows: not acquired), computed where its cache lacks them: each
    crop is made once for all the groups that need it."""
    acquired = items["acquired"].to_numpy(dtype=bool)
    keys = items.loc[acquired, "key"].tolist()
    lacking = [set(store.missing(keys)) for store, _, _ in groups]
    todo = items[acquired & items["key"].isin(set().union(*lacking))].drop_duplicates("key")
    for start in range(0, len(todo), 256):
        chunk = todo.iloc[start : start + 256]
        crops = np.stack([item_crop(processed_dir, row, levels[row.level], seed) for row in chunk.itertuples()])
        for (store, compute, _), missing in zip(groups, lacking):
            chosen = chunk["key"].isin(missing).to_numpy()
            if chosen.any():
                store.add(chunk.loc[chosen, "key"].tolist(), compute(crops[chosen]))
    found = []
    for store, _, width in groups:
        values = np.full((len(items), width), np.nan)
        if acquired.any():
            values[acquired] = store.get(keys)
        found.append(values)
    return found


def quality_stores(processed_dir: Path, recogniser: FaceRecogniser) -> tuple[EmbeddingStore, EmbeddingStore]:
    """The caches of the image measures (one for every model) and of ``recogniser``'s model measures."""
    root = Path(processed_dir) / ".cache" / "quality"
    return EmbeddingStore(root / f"image-v{QUALITY_VERSION}"), EmbeddingStore(root / f"{recogniser_key(recogniser, False)}-v{QUALITY_VERSION}")


def quality_table(
    views: Mapping[str, tuple[pd.DataFrame, Sequence[View]]],
    levels: Sequence[Degradation],
    seed: int,
    processed_dir: Path,
    recogniser: FaceRecogniser,
    acquisition: pd.DataFrame | None,
    scorers: Sequence[Scorer] = (),
) -> Quality:
    """Every measure of every image at every view: ``views[split]`` holds the split's images (manifest rows) and its
    views; the outside ``scorers`` (:mod:`helpers.quality.scorers`) add a column each."""
    image_store, model_store = quality_stores(processed_dir, recogniser)
    by_name = {level.name: level for level in (HQ, *levels)}
    unavailable = model_quality(recogniser, np.zeros((1, CROP_SIZE, CROP_SIZE, 3), np.uint8))[1]  # why, for the measures this model lacks

    def model_values(crops: np.ndarray) -> np.ndarray:
        found = model_quality(recogniser, crops)[0]
        return np.column_stack([found.get(name, np.full(len(crops), np.nan)) for name in MODEL_MEASURES])

    groups: list[Group] = [(image_store, _crop_values, len(CROP_MEASURES)), (model_store, model_values, len(MODEL_MEASURES))]
    groups += [(EmbeddingStore(image_store.folder.parent / f"{s.key}-v{QUALITY_VERSION}"), lambda crops, s=s: s.score(crops)[:, None], 1) for s in scorers]

    frames = []
    for split, (images, split_views) in views.items():
        for view in progress(list(split_views), f"quality ({split})"):
            items = view_items(images, view, seed, acquisition)
            frame = pd.DataFrame({"split": split, "path": images["path"].to_numpy(), "identity": images["identity"].astype(str).to_numpy()})
            frame = frame.assign(level=view[0].name, mode=view[1], acquired=items["acquired"].to_numpy(dtype=bool))
            frame = frame.assign(**detection_measures(images, view, acquisition))
            crop_values, model_columns, *outside_values = _cached(groups, items, processed_dir, by_name, seed)
            frame = frame.assign(**dict(zip(CROP_MEASURES, crop_values.T)), **dict(zip(MODEL_MEASURES, model_columns.T)))
            frame = frame.assign(**{scorer.name: values[:, 0] for scorer, values in zip(scorers, outside_values)})
            frames.append(frame)
    return Quality(pd.concat(frames, ignore_index=True).drop(columns=list(unavailable)), unavailable)
