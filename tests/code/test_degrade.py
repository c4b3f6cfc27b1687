"""Degradations: deterministic per image, and they really remove detail."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from helpers.data.degrade import HQ, Degradation, degrade, high_frequency_energy, image_seed, parse_levels, random_degradation
from tests.conftest import face_like


@pytest.fixture
def crop() -> np.ndarray:
    return face_like(7, size=112)


def test_same_input_same_output_and_seed_depends_on_content(crop: np.ndarray) -> None:
    level = Degradation("mix", resolution=24, blur_sigma=0.8, jpeg_quality=40, noise_sigma=5.0, light=0.5, gamma=1.5)
    seed = image_seed("abc", level, 0)
    assert np.array_equal(degrade(crop, level, seed), degrade(crop, level, seed))
    assert seed == image_seed("abc", level, 0) != image_seed("abd", level, 0)
    assert image_seed("abc", level, 0) != image_seed("abc", level, 1)


def test_output_keeps_the_crop_shape_and_type(crop: np.ndarray) -> None:
    out = degrade(crop, Degradation("px16", resolution=16), 0)
    assert out.shape == crop.shape and out.dtype == np.uint8


def test_lower_resolution_means_less_high_frequency_energy(crop: np.ndarray) -> None:
    energies = [high_frequency_energy(degrade(crop, Degradation(f"px{r}", resolution=r), 0)) for r in (112, 48, 32, 24, 16)]
    assert all(a > b for a, b in itertools.pairwise(energies)), energies
    assert energies[-1] < 0.5 * energies[0]


def test_hq_is_the_identity(crop: np.ndarray) -> None:
    assert HQ.is_identity and np.array_equal(degrade(crop, HQ, 0), crop)


def test_each_factor_changes_the_image(crop: np.ndarray) -> None:
    for level in (Degradation("b", blur_sigma=2), Degradation("j", jpeg_quality=10), Degradation("n", noise_sigma=10), Degradation("l", light=0.3)):
        assert not np.array_equal(degrade(crop, level, 0), crop), level.name
    dark = degrade(crop, Degradation("l", light=0.3), 0)
    assert dark.mean() < 0.4 * crop.mean()


def test_parse_levels_from_notebook_parameters() -> None:
    assert [lv.resolution for lv in parse_levels([48, 16])] == [48, 16]
    levels = parse_levels({"dark16": {"resolution": 16, "light": 0.4}})
    assert levels[0].name == "dark16" and levels[0].light == 0.4


@pytest.mark.parametrize("params", [{"resolution": 200}, {"jpeg_quality": 0}, {"light": 0}, {"noise_sigma": -1}])
def test_invalid_levels_are_refused(params: dict) -> None:
    with pytest.raises(ValueError):
        Degradation("bad", **params)


def test_random_degradation_is_seeded() -> None:
    a = [random_degradation(np.random.default_rng(5)) for _ in range(3)]
    b = [random_degradation(np.random.default_rng(5)) for _ in range(3)]
    assert a == b
