"""Splits: identity-disjoint, seeded, stable when people are added; exclusions are counted."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers.data import split
from helpers.data.manifest import OK

FRACTIONS = {"train": 0.6, "val": 0.2, "test": 0.2}


def _manifest(n_people: int, images_each: int = 3, prefix: str = "p") -> pd.DataFrame:
    rows = [
        {"path": f"{prefix}{i}/{j}.jpg", "identity": f"{prefix}{i}", "sha256": f"{prefix}{i}-{j}", "status": OK, "reason": ""}
        for i in range(n_people)
        for j in range(images_each)
    ]
    return pd.DataFrame(rows)


def test_identity_disjoint_and_every_split_used() -> None:
    out = split.split_manifest(_manifest(200), FRACTIONS, seed=1)
    per_identity = out.groupby("identity")["split"].nunique()
    assert (per_identity == 1).all()
    shares = out.groupby("split")["identity"].nunique() / 200
    for name, share in FRACTIONS.items():
        assert abs(shares[name] - share) < 0.1
    assert (out["protocol"] == split.OPEN_SET).all()


def test_adding_people_does_not_reshuffle_existing_ones() -> None:
    before = split.split_manifest(_manifest(100), FRACTIONS, seed=3)
    grown = pd.concat([_manifest(100), _manifest(50, prefix="new")], ignore_index=True)
    after = split.split_manifest(grown, FRACTIONS, seed=3)
    merged = before.merge(after, on="path", suffixes=("_before", "_after"))
    assert len(merged) == len(before)
    assert (merged["split_before"] == merged["split_after"]).all()


def test_seed_changes_the_split() -> None:
    a = split.split_manifest(_manifest(100), FRACTIONS, seed=0)["split"]
    b = split.split_manifest(_manifest(100), FRACTIONS, seed=1)["split"]
    assert (a != b).any()


def test_too_few_images_are_excluded_and_counted() -> None:
    frame = pd.concat([_manifest(10), _manifest(4, images_each=1, prefix="single")], ignore_index=True)
    out = split.split_manifest(frame, FRACTIONS, seed=0, min_images=2)
    singles = out[out["identity"].str.startswith("single")]
    assert (singles["status"] == split.TOO_FEW_IMAGES).all() and (singles["split"] == "").all()
    assert (singles["reason"] != "").all()
    assert len(out) == len(frame)


def test_caps_keep_a_seeded_subset_and_mark_the_rest() -> None:
    out = split.split_manifest(_manifest(30, images_each=5), FRACTIONS, seed=0, max_identities=10, max_images=2)
    kept = out[out["status"] == OK]
    assert kept["identity"].nunique() == 10
    assert kept.groupby("identity").size().max() == 2
    assert set(out["status"]) == {OK, split.NOT_SELECTED}
    again = split.split_manifest(_manifest(30, images_each=5), FRACTIONS, seed=0, max_identities=10, max_images=2)
    assert out.equals(again)


def test_closed_set_is_by_image_and_labelled() -> None:
    out = split.split_manifest(_manifest(50, images_each=10), FRACTIONS, seed=0, closed_set=True)
    assert (out.groupby("identity")["split"].nunique() > 1).any()
    assert (out["protocol"] == split.CLOSED_SET).all()


def test_bad_fractions_are_refused() -> None:
    with pytest.raises(ValueError, match="summing to 1"):
        split.split_manifest(_manifest(5), {"train": 0.5, "val": 0.2, "test": 0.2}, seed=0)


def usable(people: dict[str, int], split_of: dict[str, str]) -> pd.DataFrame:
    """A manifest of ``people[name]`` usable images per person, each person in ``split_of[name]``."""
    rows = [{"path": f"{p}/{i}.jpg", "identity": p, "status": OK, "split": split_of[p]} for p, n in people.items() for i in range(n)]
    return pd.DataFrame(rows)


def test_a_split_that_cannot_pair_people_is_an_error_and_a_small_one_a_warning() -> None:
    fractions = {"train": 0.7, "val": 0.1, "test": 0.2}
    people = {f"p{k}": 3 for k in range(30)}
    split_of = {p: "train" if k < 5 else "val" if k < 8 else "test" for k, p in enumerate(people)}
    warnings = split.check_splits(usable(people, split_of), fractions)
    assert len(warnings) == 1 and warnings[0].startswith("the val split has only 3 people")
    lonely = {p: ("val" if s == "val" and p == "p5" else "train" if s == "val" else s) for p, s in split_of.items()}
    with pytest.raises(ValueError, match=r"the val split has 1 people, but pairs need at least 2 .*split_fractions \(now"):
        split.check_splits(usable(people, lonely), fractions)
    with pytest.raises(ValueError, match="holds no files"):
        split.check_splits(usable({}, {}), fractions)
    broken = usable(people, split_of).assign(status="corrupt")
    with pytest.raises(ValueError, match=r"none of the 90 files is usable \(corrupt: 90\)"):
        split.check_splits(broken, fractions)
