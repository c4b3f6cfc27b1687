"""Preset chains: deterministic per seed, the requested size, and the families they declare."""

from __future__ import annotations

import albumentations
import numpy as np
import pytest

from helpers.data.chains import CHAIN_LIBRARY, PRESETS, apply_preset
from helpers.data.degrade import FAMILIES
from tests.conftest import face_like


@pytest.fixture
def crop() -> np.ndarray:
    return face_like(9, size=112)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_same_seed_same_image_other_seed_other_image(crop: np.ndarray, preset: str) -> None:
    first = apply_preset(crop, preset, (24, 24), 3)
    assert np.array_equal(first, apply_preset(crop.copy(), preset, (24, 24), 3))
    others = {apply_preset(crop, preset, (24, 24), seed).tobytes() for seed in range(4, 8)}
    assert first.tobytes() not in others and len(others) == 4


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize(("shape", "target"), [((112, 112), (16, 16)), ((112, 112), (112, 112)), ((250, 200), (54, 43))])
def test_output_is_uint8_rgb_at_the_target_size(preset: str, shape: tuple[int, int], target: tuple[int, int]) -> None:
    image = face_like(2, size=max(shape))[: shape[0], : shape[1]]
    out = apply_preset(image, preset, target, 0)
    assert out.shape == (*target, 3) and out.dtype == np.uint8


def test_surveillance_is_dark_and_realistic_keeps_the_light(crop: np.ndarray) -> None:
    for seed in range(3):
        assert apply_preset(crop, "surveillance", (32, 32), seed).mean() < 0.6 * crop.mean()
        assert abs(apply_preset(crop, "realistic", (32, 32), seed).mean() - crop.mean()) < 0.15 * crop.mean()


def test_presets_declare_known_families_and_the_library_version() -> None:
    for name, preset in PRESETS.items():
        assert set(preset.families) <= set(FAMILIES) and "resolution" in preset.families, name
    assert len({preset.short for preset in PRESETS.values()}) == len(PRESETS)
    assert CHAIN_LIBRARY.split() == ["albumentations", albumentations.__version__]


def test_bad_requests_are_refused(crop: np.ndarray) -> None:
    with pytest.raises(ValueError, match="known presets: realistic, surveillance"):
        apply_preset(crop, "foggy", (16, 16), 0)
    with pytest.raises(ValueError, match="RGB uint8"):
        apply_preset(crop.astype(np.float32), "realistic", (16, 16), 0)
    with pytest.raises(ValueError, match="positive"):
        apply_preset(crop, "realistic", (0, 16), 0)
