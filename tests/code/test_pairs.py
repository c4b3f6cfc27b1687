"""Pairs: the official LFW lists parse exactly; sampled pairs are complete, distinct and seeded."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.evaluation.pairs import read_lfw_pairs, sample_pairs


@pytest.fixture
def lfw(mirror: Path) -> Path:
    """The mirror's LFW folder with its official pair lists."""
    return mirror / "datasets" / "lfw"


def images(sizes: list[int], split: str = "test") -> pd.DataFrame:
    """Identity ``p<k>`` with ``sizes[k]`` images, listed in a scrambled order."""
    rows = [(f"p{k}/{i}.jpg", f"p{k}", split) for k, size in enumerate(sizes) for i in range(size)]
    return pd.DataFrame(rows, columns=["image_id", "identity", "split"]).sample(frac=1, random_state=0)


def unordered(pairs: pd.DataFrame) -> set[frozenset[str]]:
    return {frozenset(pair) for pair in zip(pairs["image_a"], pairs["image_b"])}


def test_view2_has_ten_folds_of_300_same_and_300_different(lfw: Path) -> None:
    pairs = read_lfw_pairs(lfw / "pairs.txt")
    assert len(pairs) == 6000 and pairs["same"].sum() == 3000
    per_fold = pairs.groupby("fold")["same"].agg(["size", "sum"])
    assert list(per_fold.index) == list(range(10)) and (per_fold["size"] == 600).all() and (per_fold["sum"] == 300).all()
    first = pairs.iloc[0]
    assert (first["path_a"], first["path_b"]) == ("Abel_Pacheco/Abel_Pacheco_0001.jpg", "Abel_Pacheco/Abel_Pacheco_0004.jpg")
    assert (pairs["name_a"] == pairs["name_b"]).equals(pairs["same"])
    images_root = lfw / "lfw-deepfunneled"
    if images_root.is_dir():
        assert all((images_root / path).is_file() for path in set(pairs["path_a"]) | set(pairs["path_b"]))


def test_view1_lists_parse_and_share_no_person(lfw: Path) -> None:
    train, test = read_lfw_pairs(lfw / "pairsDevTrain.txt"), read_lfw_pairs(lfw / "pairsDevTest.txt")
    assert (len(train), train["same"].sum(), len(test), test["same"].sum()) == (2200, 1100, 1000, 500)
    assert (train["fold"] == 0).all() and (test["fold"] == 0).all()
    people = [set(table["name_a"]) | set(table["name_b"]) for table in (train, test)]
    assert not people[0] & people[1]


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ("1 1\nAnn\t1\t2\nAnn\t1\tAnn\t2\n", 3),  # a different pair naming one person
        ("1 1\nAnn\t1\tBob\t2\nAnn\t1\tBob\t2\n", 2),  # a different pair where a same pair belongs
        ("1\nAnn\t1\tx\nAnn\t1\tBob\t2\n", 2),  # an index that is not a number
        ("one\n", 1),
    ],
)
def test_malformed_line_is_named(tmp_path: Path, body: str, line: int) -> None:
    path = tmp_path / "pairs.txt"
    path.write_text(body)
    with pytest.raises(ValueError, match=f"pairs.txt:{line}:"):
        read_lfw_pairs(path)


def test_line_count_must_match_the_header(tmp_path: Path) -> None:
    path = tmp_path / "pairs.txt"
    path.write_text("2 1\nAnn\t1\t2\nAnn\t1\tBob\t2\n")
    with pytest.raises(ValueError, match="promises 4 pairs"):
        read_lfw_pairs(path)


def sampled(table: pd.DataFrame, genuine_per_identity: int = 10, max_impostors: int = 2_000_000, seed: int = 0) -> pd.DataFrame:
    return sample_pairs(table, genuine_per_identity, max_impostors, seed).frame().astype({"image_a": str, "image_b": str, "identity_a": str, "identity_b": str})


def test_every_impostor_pair_and_every_genuine_pair_under_the_cap() -> None:
    table = images([1, 2, 3, 4, 5])
    pairs = sampled(table)
    genuine, impostor = pairs[pairs["same"]], pairs[~pairs["same"]]
    expected = {frozenset(p) for _, group in table.groupby("identity") for p in itertools.combinations(group["image_id"], 2)}
    assert unordered(genuine) == expected and len(genuine) == 0 + 1 + 3 + 6 + 10
    every_cross_pair = {frozenset(p) for p in itertools.combinations(table["image_id"], 2)} - expected
    assert unordered(impostor) == every_cross_pair and len(impostor) == 15 * 14 // 2 - 20  # all cross pairs of the split
    assert (pairs["image_a"] != pairs["image_b"]).all() and len(unordered(pairs)) == len(pairs)
    assert (pairs["identity_a"] == pairs["image_a"].str.split("/").str[0]).all()


def test_genuine_pairs_per_person_are_capped_and_seeded() -> None:
    table = images([12, 2, 5])  # 66, 1 and 10 possible genuine pairs
    pairs = sample_pairs(table, 4, 2_000_000, 0)
    per_person = pd.Series(pairs.frame()["identity_a"][pairs.same].astype(str)).value_counts()
    assert per_person.to_dict() == {"p0": 4, "p2": 4, "p1": 1}
    assert pairs.largest_share() == pytest.approx(4 / 9)
    assert unordered(sampled(table, 4)) != unordered(sampled(table, 4, seed=1))


def test_which_side_is_the_gallery_is_seeded_for_genuine_and_impostor_pairs() -> None:
    pairs = sample_pairs(images([40] * 2), 200, 2_000_000, 0)
    first_is_lower = pairs.a < pairs.b
    for kind in (pairs.same, ~pairs.same):
        assert 0.4 < first_is_lower[kind].mean() < 0.6  # not "the lower path" first


def test_impostors_beyond_the_cap_are_a_seeded_sample() -> None:
    table = images([3] * 20)  # 1,710 impostor pairs exist
    first = sampled(table, max_impostors=50, seed=1)
    assert (~first["same"]).sum() == 50 and sample_pairs(table, 10, 50, 1).available_impostors == 1710
    assert first.equals(sampled(table.iloc[::-1], max_impostors=50, seed=1))
    assert unordered(first) != unordered(sampled(table, max_impostors=50, seed=2))


def test_pairs_never_cross_splits() -> None:
    mixed = pd.concat([images([2, 2], "train"), images([2], "val")])
    with pytest.raises(ValueError, match="never cross splits"):
        sample_pairs(mixed, 10, 1, 0)


def test_large_sample_is_fast_and_distinct() -> None:
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"image_id": [f"{i:05d}" for i in range(5000)], "identity": rng.integers(0, 1000, 5000), "split": "test"})
    pairs = sample_pairs(table, 10, 50_000, 0)
    assert pairs.n_impostor == 50_000 and (pairs.images["identity"].to_numpy()[pairs.a] != pairs.images["identity"].to_numpy()[pairs.b])[~pairs.same].all()
    low, high = np.minimum(pairs.a, pairs.b), np.maximum(pairs.a, pairs.b)
    assert (low < high).all() and not pd.Series(low * 5000 + high).duplicated().any()
