"""Batched embeddings of aligned crops at every quality level and alignment mode, with an on-disk cache.

The cache key of one embedding is the recogniser (weights sha256,
preprocessing, flip test) plus the crop (source content hash, crop file) plus
the degradation (level parameters and seed). A re-run with a warm cache
touches no image and runs no model. Embeddings are stored in chunk files
written atomically as they are computed, so an interrupted run resumes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.core.files import atomic_path, read_png_rgb
from helpers.core.progress import progress
from helpers.data.acquire import ACQUIRED
from helpers.data.degrade import DEGRADE_VERSION, HQ, Degradation, degrade, image_seed
from helpers.evaluation.conditions import ORACLE
from helpers.models.recognisers import FaceRecogniser

View = tuple[Degradation, str]
"""One side of a condition: a level and the mode its faces were found by (HQ is always ``(HQ, oracle)``)."""


def recogniser_key(recogniser: FaceRecogniser, flip: bool) -> str:
    """Folder name for one recogniser setting: weights, preprocessing, flip test."""
    return f"{recogniser.name}-{recogniser.sha256[:12]}-{recogniser.preprocess.key()}-flip{int(flip)}"


def item_key(sha256: str, crop_path: str, level: Degradation, seed: int) -> str:
    """Key of one crop at one quality level (a degraded one also by :data:`~helpers.data.degrade.DEGRADE_VERSION`)."""
    text = json.dumps([sha256, crop_path, level.spec(), seed, *([] if level.is_identity else [DEGRADE_VERSION])], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def image_keys(images: pd.DataFrame, level: Degradation, seed: int) -> list[str]:
    """Keys of ``images`` (rows with ``sha256`` and ``crop_path``) at one level."""
    return [item_key(sha, crop, level, seed) for sha, crop in zip(images["sha256"], images["crop_path"])]


class EmbeddingStore:
    """Embeddings on disk, one folder per recogniser setting, appended chunk by chunk."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._index: dict[str, np.ndarray] = {}
        for chunk in sorted(self.folder.glob("chunk-*.npz")):
            with np.load(chunk, allow_pickle=False) as data:
                self._index.update(zip(data["keys"].tolist(), data["vectors"]))

    def __len__(self) -> int:
        return len(self._index)

    def missing(self, keys: list[str]) -> list[str]:
        """The keys not stored yet, in order, without repeats."""
        return [k for k in dict.fromkeys(keys) if k not in self._index]

    def add(self, keys: list[str], vectors: np.ndarray) -> None:
        """Store one chunk of embeddings (written atomically)."""
        target = self.folder / f"chunk-{len(list(self.folder.glob('chunk-*.npz'))):06d}.npz"
        with atomic_path(target) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, keys=np.asarray(keys), vectors=vectors.astype(np.float32))
        self._index.update(zip(keys, vectors.astype(np.float32)))

    def width(self) -> int:
        """Length of the stored embeddings."""
        if not self._index:
            raise ValueError(f"{self.folder} holds no embedding yet")
        return int(next(iter(self._index.values())).shape[0])

    def get(self, keys: list[str] | pd.Series) -> np.ndarray:
        """Embeddings for ``keys`` as one N x D array."""
        return np.stack([self._index[k] for k in keys])


def embedding_items(images: pd.DataFrame, levels: list[Degradation], seed: int) -> pd.DataFrame:
    """One row per (image, level): the image's ``path``, ``sha256``, ``crop_path``, ``level`` and cache ``key``."""
    rows = [
        {"path": r.path, "sha256": r.sha256, "crop_path": r.crop_path, "level": level.name, "key": item_key(r.sha256, r.crop_path, level, seed)}
        for level in levels
        for r in images.itertuples()
    ]
    return pd.DataFrame(rows, columns=["path", "sha256", "crop_path", "level", "key"])


def compute_embeddings(
    items: pd.DataFrame,
    levels: list[Degradation],
    seed: int,
    processed_dir: Path,
    recogniser: FaceRecogniser,
    store: EmbeddingStore,
    flip: bool = False,
    chunk_size: int = 512,
) -> int:
    """Embed every item not yet in ``store``, ``chunk_size`` crops per model call; returns how many were computed.

    Low-quality crops are made in memory from the aligned HQ crop with
    notebook 01's :func:`helpers.data.degrade.degrade` and the same per-image seed,
    so they are exactly the images written under ``processed_dataset/.../lq``.
    """
    by_name = {level.name: level for level in levels}
    todo = items[items["key"].isin(set(store.missing(items["key"].tolist())))].drop_duplicates("key")
    chunks = [todo.iloc[start : start + chunk_size] for start in range(0, len(todo), chunk_size)]
    for chunk in progress(chunks, f"embed ({recogniser.name})", total=len(chunks)):
        crops = np.stack([item_crop(processed_dir, row, by_name[row.level], seed) for row in chunk.itertuples()])
        store.add(chunk["key"].tolist(), recogniser.embed(crops, flip=flip))
    return len(todo)


def embedding_store(processed_dir: Path, recogniser: FaceRecogniser, flip: bool) -> EmbeddingStore:
    """The embedding cache of one recogniser setting under the processed folder."""
    return EmbeddingStore(Path(processed_dir) / ".cache" / "embeddings" / recogniser_key(recogniser, flip))


def embed_images(
    images: pd.DataFrame, levels: list[Degradation], seed: int, processed_dir: Path, recogniser: FaceRecogniser, store: EmbeddingStore, flip: bool
) -> int:
    """Embed ``images`` at HQ and every level (cached); returns how many embeddings were computed."""
    all_levels = [HQ, *levels]
    return compute_embeddings(embedding_items(images, all_levels, seed), all_levels, seed, processed_dir, recogniser, store, flip)


def item_crop(processed_dir: Path, row: Any, level: Degradation, seed: int) -> np.ndarray:
    """The crop of one item (a row with ``crop_path`` and ``sha256``) at ``level``, degraded in memory with its image seed."""
    hq = read_png_rgb(Path(processed_dir) / row.crop_path)
    return degrade(hq, level, image_seed(row.sha256, level, seed))


def view_of(level: Degradation, mode: str) -> View:
    """The view of one side of a condition; the HQ side is the same crop in every mode."""
    return (level, ORACLE if level.is_identity else mode)


def view_items(images: pd.DataFrame, view: View, seed: int, acquisition: pd.DataFrame | None) -> pd.DataFrame:
    """:func:`embedding_items` of ``images`` at one view, in their order, with ``acquired`` (False: failure to acquire, no key),
    the acquisition ``status`` and ``wrong_face`` (acquired, but not the HQ face: scored all the same).

    Oracle crops are the HQ crop degraded in memory; end-to-end crops are the files
    notebook 01 wrote (``acquisition.csv``), embedded as they are.
    """
    level, mode = view
    if mode == ORACLE:
        return embedding_items(images, [level], seed).assign(acquired=True, status=ACQUIRED, wrong_face=False)
    if acquisition is None:
        raise ValueError("end-to-end conditions need notebook 01's acquisition.csv: rerun notebook 01 with end_to_end=True")
    found = acquisition[acquisition["level"] == level.name].set_index("path")
    if missing := sorted(set(images["path"]) - set(found.index)):
        raise ValueError(f"acquisition.csv has no end-to-end outcome for {len(missing)} image(s) at level {level.name} (e.g. {missing[0]}): rerun notebook 01")
    outcome = found.loc[images["path"].to_numpy()]
    acquired = (outcome["status"] == ACQUIRED).to_numpy()
    lq_paths = outcome["lq_path"].to_numpy()
    keys = [item_key(sha, lq, HQ, seed) if ok else "" for sha, lq, ok in zip(images["sha256"], lq_paths, acquired)]
    frame = pd.DataFrame({"path": images["path"].to_numpy(), "sha256": images["sha256"].to_numpy(), "crop_path": lq_paths, "level": HQ.name, "key": keys})
    return frame.assign(acquired=acquired, status=outcome["status"].to_numpy(), wrong_face=outcome["wrong_face"].to_numpy(dtype=bool))


def view_embeddings(store: EmbeddingStore, items: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of ``items`` (zeros where the face was not acquired) and the acquired mask."""
    acquired = items["acquired"].to_numpy(dtype=bool)
    found = store.get(items.loc[acquired, "key"].tolist()) if acquired.any() else None
    width = found.shape[1] if found is not None else store.width()
    vectors = np.zeros((len(items), width), dtype=np.float32)
    if found is not None:
        vectors[acquired] = found
    return vectors, acquired


def embed_views(
    images: pd.DataFrame,
    views: list[View],
    seed: int,
    processed_dir: Path,
    recogniser: FaceRecogniser,
    store: EmbeddingStore,
    flip: bool,
    acquisition: pd.DataFrame | None,
) -> tuple[dict[View, pd.DataFrame], int]:
    """Items of ``images`` at every view and how many embeddings had to be computed (the rest were cached)."""
    items = {view: view_items(images, view, seed, acquisition) for view in views}
    todo = pd.concat([frame[frame["acquired"]] for frame in items.values()], ignore_index=True)
    levels = list(dict.fromkeys([HQ, *(level for level, mode in views if mode == ORACLE)]))
    return items, compute_embeddings(todo, levels, seed, processed_dir, recogniser, store, flip)
