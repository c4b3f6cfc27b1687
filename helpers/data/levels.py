"""The processed folder's low-quality levels: ``levels.json`` and the ``lq/`` image folders.

This module is the one definition of that format: the levels notebook 01 used,
the seed their per-image randomness derives from, and the folder each level's
images are written to (named by the level and a hash of its parameters, so an
edited level never mixes with the old one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.core.files import path_inside, read_png_rgb, safe_component, write_json_atomic, write_png_atomic
from helpers.core.progress import progress
from helpers.data.degrade import DEGRADE_VERSION, Degradation, degrade, image_seed
from helpers.data.manifest import OK

LEVELS = "levels.json"
LQ_FOLDER = "lq"
LQ_COLUMNS = ["path", "level", "lq_path"]


def level_folder(level: Degradation, seed: int) -> str:
    """Folder of a level's images: its name plus a hash of its parameters, seed and :data:`DEGRADE_VERSION`, so edits never mix."""
    digest = image_seed(f"v{DEGRADE_VERSION}", level, seed) % 16**6
    return safe_component(f"{level.name}-{digest:06x}")


@dataclass(frozen=True)
class LevelSet:
    """The low-quality levels of a processed folder and the seed of their per-image randomness."""

    levels: tuple[Degradation, ...]
    seed: int

    def __post_init__(self) -> None:
        names = [level.name for level in self.levels]
        if repeated := sorted({name for name in names if names.count(name) > 1}):
            raise ValueError(f"level names {repeated} are given twice (in `levels` and `sweeps`?): name each level once")

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "levels": {lv.name: {**lv.spec(), "folder": f"{LQ_FOLDER}/{level_folder(lv, self.seed)}"} for lv in self.levels}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LevelSet:
        levels = tuple(Degradation(**{k: v for k, v in spec.items() if k != "folder"}) for spec in data["levels"].values())
        return cls(levels, int(data["seed"]))

    def specs(self) -> dict[str, dict]:
        """``{name: parameters}``, as reports record the levels they were scored under."""
        return {lv.name: lv.spec() for lv in self.levels}


def save_levels(processed_dir: Path, levels: LevelSet) -> None:
    """Write ``levels.json`` atomically."""
    write_json_atomic(Path(processed_dir) / LEVELS, levels.to_json())


def load_levels(processed_dir: Path) -> LevelSet:
    """The levels and seed notebook 01 used."""
    path = Path(processed_dir) / LEVELS
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run notebook 01 with processed_dir={processed_dir} first")
    return LevelSet.from_json(json.loads(path.read_text(encoding="utf-8")))


def synthesise_lq(manifest: pd.DataFrame, processed_dir: Path, levels: LevelSet, splits: tuple[str, ...] = ("val", "test")) -> pd.DataFrame:
    """Write every level of every usable crop of ``splits`` under ``lq/`` and record ``levels.json``; one row per LQ image."""
    processed_dir = Path(processed_dir).resolve()
    rows = manifest[(manifest["status"] == OK) & manifest["split"].isin(splits) & (manifest["crop_path"] != "")]
    records = []
    for _, row in progress(list(rows.iterrows()), "low-quality levels"):
        crop = None
        for level in levels.levels:
            target = path_inside(processed_dir, LQ_FOLDER, level_folder(level, levels.seed), row["identity"], Path(row["crop_path"]).name)
            if not target.exists():
                crop = read_png_rgb(processed_dir / row["crop_path"]) if crop is None else crop
                write_png_atomic(target, degrade(crop, level, image_seed(row["sha256"], level, levels.seed)))
            records.append({"path": row["path"], "level": level.name, "lq_path": target.relative_to(processed_dir).as_posix()})
    save_levels(processed_dir, levels)
    return pd.DataFrame(records, columns=LQ_COLUMNS)
