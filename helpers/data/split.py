"""Seeded, stable splits: by identity (the default) or, labelled as such, closed-set by image.

Every decision is a function of ``(seed, name)`` alone, through a hash, so
adding people to a dataset never moves anyone already assigned.
"""

from __future__ import annotations

import hashlib

import pandas as pd

from helpers.data.manifest import CLOSED_SET, NOT_SELECTED, OK, OPEN_SET, TOO_FEW_IMAGES

SPLITS = ("train", "val", "test")


def stable_unit(seed: int, *parts: str) -> float:
    """A number in [0, 1) fixed by ``seed`` and ``parts`` (independent of any other item)."""
    digest = hashlib.sha256("\x1f".join([str(seed), *parts]).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _check_fractions(fractions: dict[str, float]) -> None:
    if set(fractions) != set(SPLITS) or any(v < 0 for v in fractions.values()) or abs(sum(fractions.values()) - 1) > 1e-9:
        raise ValueError(f"split fractions must give {SPLITS} non-negative shares summing to 1, got {fractions}")


def assign(unit: float, fractions: dict[str, float]) -> str:
    """The split whose cumulative share interval holds ``unit``."""
    edge = 0.0
    for split in SPLITS:
        edge += fractions[split]
        if unit < edge:
            return split
    return SPLITS[-1]


def split_manifest(
    manifest: pd.DataFrame,
    fractions: dict[str, float],
    seed: int,
    min_images: int = 2,
    max_images: int | None = None,
    max_identities: int | None = None,
    closed_set: bool = False,
) -> pd.DataFrame:
    """Add ``split`` to usable rows and record why the others were left out.

    Only ``status == ok`` rows take part. Identities with fewer than
    ``min_images`` usable images are excluded (status ``too_few_images``);
    ``max_images`` and ``max_identities`` keep a seeded, stable subset and mark
    the rest ``not_selected``. Adds a ``protocol`` column naming the split kind.
    """
    _check_fractions(fractions)
    out = manifest.copy()
    out["split"] = ""
    usable = out["status"] == OK
    counts = out[usable].groupby("identity").size()
    too_few = counts.index[counts < min_images]
    mask = usable & out["identity"].isin(too_few)
    out.loc[mask, ["status", "reason"]] = [TOO_FEW_IMAGES, f"identity has fewer than {min_images} usable images"]

    kept = counts.index[counts >= min_images]
    if max_identities is not None and len(kept) > max_identities:
        ranked = sorted(kept, key=lambda identity: stable_unit(seed, "select", identity))
        dropped = set(ranked[max_identities:])
        mask = (out["status"] == OK) & out["identity"].isin(dropped)
        out.loc[mask, ["status", "reason"]] = [NOT_SELECTED, f"beyond max_identities={max_identities} (seeded choice)"]

    if max_images is not None:
        rows = out[out["status"] == OK]
        rank = rows["sha256"].map(lambda sha: stable_unit(seed, "image", sha)).groupby(rows["identity"]).rank(method="first")
        over = rank.index[rank > max_images]
        out.loc[over, ["status", "reason"]] = [NOT_SELECTED, f"beyond max_images={max_images} per identity (seeded choice)"]

    selected = out["status"] == OK
    if closed_set:
        units = [stable_unit(seed, "split", i, s) for i, s in zip(out.loc[selected, "identity"], out.loc[selected, "sha256"])]
    else:
        units = [stable_unit(seed, "split", identity) for identity in out.loc[selected, "identity"]]
    out.loc[selected, "split"] = [assign(u, fractions) for u in units]
    out["protocol"] = CLOSED_SET if closed_set else OPEN_SET
    return out


SPLIT_ADVICE = "give it a larger share in split_fractions, lower min_images, add people, or split images with closed_set=True"
"""How to give a split more people (notebook 01's parameters); repeated wherever a split proves too small."""
FEW_PEOPLE = 20
"""Below this many people, a val or test split gives wide intervals and noisy thresholds: warned about, not fatal."""


def check_splits(manifest: pd.DataFrame, fractions: dict[str, float], few_people: int = FEW_PEOPLE) -> list[str]:
    """Raise when the split cannot support notebooks 02-05; return warnings about splits with few people.

    Val and test each need at least two people (impostor pairs cross people); an
    empty dataset or one without a usable image is an error naming the fix.
    """
    if manifest.empty:
        raise ValueError("the dataset holds no files: put images under <dataset>/<identity>/<image>")
    usable = manifest[manifest["status"] == OK]
    if usable.empty:
        found = ", ".join(f"{status}: {count}" for status, count in manifest["status"].value_counts().items())
        raise ValueError(f"none of the {len(manifest)} files is usable ({found}); the manifest's reason column says why for each file")
    people = usable[usable["split"] != ""].groupby("split")["identity"].nunique()
    advice = SPLIT_ADVICE.replace("split_fractions", f"split_fractions (now {fractions})")
    for split in ("val", "test"):
        if people.get(split, 0) < 2:
            raise ValueError(f"the {split} split has {people.get(split, 0)} people, but pairs need at least 2 (impostor pairs cross people): {advice}")
    return [
        f"the {split} split has only {people[split]} people: its intervals will be wide and its thresholds noisy; to change it, {advice}"
        for split in ("val", "test")
        if people[split] < few_people
    ]
