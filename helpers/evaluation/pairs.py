"""Verification pairs: the official LFW pair lists, and seeded pairs within one split of a dataset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.evaluation.bootstrap import People

LFW_COLUMNS = ["fold", "name_a", "index_a", "name_b", "index_b", "same", "path_a", "path_b"]
PAIR_COLUMNS = ["image_a", "image_b", "identity_a", "identity_b", "same"]
IMAGE_COLUMNS = ["image_id", "identity", "split"]
LfwRow = tuple[int, str, int, str, int, bool, str, str]


def lfw_image_path(name: str, index: int) -> str:
    """An LFW image relative to the dataset root; pair lists count from 1: ``Name/Name_0001.jpg``."""
    return f"{name}/{name}_{index:04d}.jpg"


def _header(path: Path, line: str) -> tuple[int, int]:
    """``(folds, pairs per class and fold)`` from a first line ``10 300`` (View 2) or ``1100`` (View 1)."""
    fields = line.split()
    if 1 <= len(fields) <= 2 and all(_is_count(field) for field in fields):
        counts = [int(field) for field in fields]
        return (1, counts[0]) if len(counts) == 1 else (counts[0], counts[1])
    raise ValueError(f"{path}:1: expected 'folds pairs_per_class' (View 2) or 'pairs_per_class' (View 1), got {line!r}")


def _is_count(text: str) -> bool:
    return text.isascii() and text.isdigit() and int(text) >= 1


def _pair(path: Path, number: int, line: str, fold: int, same: bool) -> LfwRow:
    """One row of :data:`LFW_COLUMNS` from a ``name i j`` (same) or ``name_a i name_b j`` (different) line."""
    fields = line.split()
    names, indices = (fields[:1] * 2, fields[1:]) if same else (fields[0::2], fields[1::2])
    well_formed = len(fields) == (3 if same else 4) and all(_is_count(index) for index in indices)
    if not well_formed or (names[0] == names[1]) != same or (same and indices[0] == indices[1]):
        expected = "same pair 'name i j' (i != j)" if same else "different pair 'name_a i name_b j' (two people)"
        raise ValueError(f"{path}:{number}: expected a {expected} here, got {line!r}")
    index_a, index_b = int(indices[0]), int(indices[1])
    return fold, names[0], index_a, names[1], index_b, same, lfw_image_path(names[0], index_a), lfw_image_path(names[1], index_b)


def read_lfw_pairs(path: str | Path) -> pd.DataFrame:
    """An LFW pair list as a table of :data:`LFW_COLUMNS`, image paths relative to the image root.

    View 2 (``pairs.txt``) opens with ``folds per_class`` and gives, fold after
    fold, ``per_class`` same pairs then as many different ones. View 1
    (``pairsDevTrain.txt``, ``pairsDevTest.txt``) opens with one count and is
    all fold 0. Raises ValueError naming the file and line of anything else.
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8").rstrip().splitlines()
    if not lines:
        raise ValueError(f"{path}: empty pair list")
    n_folds, per_class = _header(path, lines[0])
    if len(lines) - 1 != n_folds * 2 * per_class:
        raise ValueError(f"{path}: the header promises {n_folds * 2 * per_class} pairs, the file holds {len(lines) - 1} lines")
    rows = [_pair(path, k + 2, line, fold=k // (2 * per_class), same=k % (2 * per_class) < per_class) for k, line in enumerate(lines[1:])]
    return pd.DataFrame(rows, columns=LFW_COLUMNS)


def _one_split(images: pd.DataFrame) -> pd.DataFrame:
    """The images ordered by ``image_id``, after checking they form one split with unique ids."""
    missing = [column for column in IMAGE_COLUMNS if column not in images.columns]
    if missing:
        raise ValueError(f"images need columns {IMAGE_COLUMNS}; missing {missing}")
    splits = images["split"].unique()
    if len(splits) > 1:
        raise ValueError(f"pairs never cross splits, but these images come from {sorted(map(str, splits))}; pass one split at a time")
    if images["image_id"].duplicated().any():
        raise ValueError("image_id must be unique")
    return images.sort_values("image_id", kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class PairSet:
    """Pairs of one split as positions into its ``images`` (ordered by ``image_id``): genuine pairs first."""

    images: pd.DataFrame
    a: np.ndarray
    b: np.ndarray
    same: np.ndarray
    available_impostors: int

    @property
    def n_genuine(self) -> int:
        return int(self.same.sum())

    @property
    def n_impostor(self) -> int:
        return int((~self.same).sum())

    def largest_share(self) -> float:
        """The largest share of the genuine pairs that a single person gives."""
        counts = self.images["identity"].to_numpy()[self.a[self.same]]
        return float(pd.Series(counts).value_counts(normalize=True).iloc[0]) if counts.size else float("nan")

    def people(self) -> People:
        """The people behind the pairs, for resampling and the rule of 30 (:class:`~helpers.evaluation.bootstrap.People`)."""
        identity = self.images["identity"].astype(str).to_numpy()
        return People.of(self.same, identity[self.a], identity[self.b])

    def frame(self) -> pd.DataFrame:
        """The pairs as :data:`PAIR_COLUMNS`, text columns categorical (cheap for millions of pairs)."""
        ids = pd.CategoricalDtype(self.images["image_id"].astype(str))
        people = pd.CategoricalDtype(sorted(self.images["identity"].astype(str).unique()))
        identity = self.images["identity"].astype(str).to_numpy()
        return pd.DataFrame(
            {
                "image_a": pd.Categorical.from_codes(self.a, dtype=ids),
                "image_b": pd.Categorical.from_codes(self.b, dtype=ids),
                "identity_a": pd.Categorical(identity[self.a], dtype=people),
                "identity_b": pd.Categorical(identity[self.b], dtype=people),
                "same": self.same,
            },
            columns=PAIR_COLUMNS,
        )


def _genuine_pairs(codes: np.ndarray, per_identity: int, rng: np.random.Generator) -> np.ndarray:
    """At most ``per_identity`` seeded pairs of distinct positions per identity code, as a (2, n) array with a < b."""
    order = np.argsort(codes, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)
    pairs = []
    for group in groups:
        within = group[np.array(np.triu_indices(group.size, 1))]
        if within.shape[1] > per_identity:
            within = within[:, np.sort(rng.choice(within.shape[1], per_identity, replace=False))]
        pairs.append(within)
    return np.concatenate(pairs, axis=1) if pairs else np.empty((2, 0), dtype=int)


def _impostor_count(codes: np.ndarray) -> int:
    """How many unordered pairs of positions have different identity codes."""
    sizes = np.bincount(codes)
    return int(codes.size * (codes.size - 1) - (sizes * (sizes - 1)).sum()) // 2


def _all_impostor_pairs(codes: np.ndarray) -> np.ndarray:
    """Every unordered pair of positions with different identity codes, as a (2, n) array with a < b."""
    a, b = np.triu_indices(codes.size, 1)
    keep = codes[a] != codes[b]
    return np.stack([a[keep], b[keep]])


def _first_occurrences(keys: np.ndarray) -> np.ndarray:
    """The distinct keys, in the order they first appear."""
    _, first = np.unique(keys, return_index=True)
    return keys[np.sort(first)]


def _drawn_impostor_pairs(codes: np.ndarray, count: int, available: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` distinct impostor pairs, uniform without replacement, by vectorised rejection sampling."""
    n = codes.size
    hit_rate = 2 * available / n**2  # chance that one ordered draw is an impostor pair
    keys = np.empty(0, dtype=np.int64)
    while keys.size < count:
        a, b = rng.integers(0, n, (2, int(1.2 * (count - keys.size) / hit_rate) + 64))
        keep = codes[a] != codes[b]
        low, high = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
        keys = _first_occurrences(np.concatenate([keys, low * n + high]))
    keys = np.sort(keys[:count])
    return np.stack([keys // n, keys % n])


def _impostor_pairs(codes: np.ndarray, cap: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Every impostor pair when there are at most ``cap``, else ``cap`` of them drawn uniformly without replacement;
    and how many exist."""
    available = _impostor_count(codes)
    if available <= cap:
        return _all_impostor_pairs(codes), available
    return _drawn_impostor_pairs(codes, cap, available, rng), available


def _random_orientation(pairs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The pairs with each one's sides swapped on a fair coin."""
    flip = rng.random(pairs.shape[1]) < 0.5
    oriented = pairs.copy()
    oriented[:, flip] = pairs[::-1, flip]
    return oriented


def sample_pairs(images: pd.DataFrame, genuine_per_identity: int, max_impostors: int, seed: int) -> PairSet:
    """Balanced genuine pairs and every impostor pair (up to a cap) of one split.

    ``images`` (columns ``image_id``, ``identity``, ``split``) must hold a single
    split. Genuine pairs: at most ``genuine_per_identity`` seeded pairs of
    distinct images per person, so no person dominates. Impostor pairs: every
    pair of images of two different people when there are at most
    ``max_impostors``, else that many drawn uniformly without replacement.
    Which side of a pair is the gallery (``a``) is a seeded coin, for genuine
    and impostor pairs alike. No image is paired with itself and no unordered
    pair repeats. The result depends only on the seed, the settings and the set of images.
    """
    if genuine_per_identity < 1 or max_impostors < 0:
        raise ValueError(f"genuine_per_identity must be >= 1 and max_impostors >= 0, got {genuine_per_identity} and {max_impostors}")
    table = _one_split(images)
    codes = np.unique(table["identity"].to_numpy(), return_inverse=True)[1]
    rng = np.random.default_rng(seed)
    genuine = _random_orientation(_genuine_pairs(codes, genuine_per_identity, rng), rng)
    impostor, available = _impostor_pairs(codes, max_impostors, rng)
    a, b = np.concatenate([genuine, _random_orientation(impostor, rng)], axis=1)
    return PairSet(table[["image_id", "identity"]], a, b, np.arange(a.size) < genuine.shape[1], available)
