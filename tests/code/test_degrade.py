"""Degradations: deterministic per image, they really remove detail, and levels say what they contain."""

from __future__ import annotations

import hashlib
import itertools

import cv2
import numpy as np
import pytest

from helpers.data.degrade import (
    FAMILIES,
    HQ,
    RESOLUTION_LADDER,
    Degradation,
    degrade,
    degrade_image,
    high_frequency_energy,
    image_seed,
    jpeg_blocking_energy,
    motion_kernel,
    parse_levels,
    random_degradation,
    sweep_levels,
)
from tests.conftest import face_like

MIX = Degradation("mix", resolution=24, blur_sigma=0.8, jpeg_quality=40, noise_sigma=5.0, light=0.5, gamma=1.5)


@pytest.fixture
def crop() -> np.ndarray:
    return face_like(7, size=112)


def _first_pipeline(crop_rgb: np.ndarray, level: Degradation, seed: int) -> np.ndarray:
    """The plain pipeline as first released (levels cached on disk were made by it)."""
    rng = np.random.default_rng(seed)
    image = crop_rgb.astype(np.float32)
    if level.blur_sigma > 0:
        image = cv2.GaussianBlur(image, (0, 0), level.blur_sigma)
    if level.resolution < 112:
        side = round(level.resolution * crop_rgb.shape[0] / 112)
        image = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
    if level.light < 1 or level.gamma != 1:
        image = 255.0 * level.light * np.power(image / 255.0, level.gamma)
    if level.noise_sigma > 0:
        image = image + rng.normal(0.0, level.noise_sigma, image.shape).astype(np.float32)
    small = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    if level.jpeg_quality is not None:
        _, encoded = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, level.jpeg_quality])
        small = cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return cv2.resize(small, crop_rgb.shape[1::-1], interpolation=cv2.INTER_CUBIC) if small.shape != crop_rgb.shape else small


def test_same_input_same_output_and_seed_depends_on_content(crop: np.ndarray) -> None:
    seed = image_seed("abc", MIX, 0)
    assert np.array_equal(degrade(crop, MIX, seed), degrade(crop, MIX, seed))
    assert seed == image_seed("abc", MIX, 0) != image_seed("abd", MIX, 0)
    assert image_seed("abc", MIX, 0) != image_seed("abc", MIX, 1)


@pytest.mark.parametrize(
    "level", [MIX, RESOLUTION_LADDER[-1], Degradation("j", jpeg_quality=10), Degradation("o", resolution=37, blur_sigma=1.3, noise_sigma=3)]
)
def test_plain_levels_match_the_first_pipeline(crop: np.ndarray, level: Degradation) -> None:
    assert np.array_equal(degrade(crop, level, 11), _first_pipeline(crop, level, 11))


def test_old_levels_keep_their_seed() -> None:
    """New fields at their defaults stay out of the seed, so cached levels keep their images and folders."""
    old_spec = {k: v for k, v in MIX.spec().items() if k not in ("motion_length", "preset")}
    text = f"7:abc:{sorted(old_spec.items())}"
    assert image_seed("abc", MIX, 7) == int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    assert image_seed("abc", Degradation("m", motion_length=3), 7) != image_seed("abc", Degradation("m"), 7)


def test_output_keeps_the_crop_shape_and_type(crop: np.ndarray) -> None:
    out = degrade(crop, Degradation("px16", resolution=16), 0)
    assert out.shape == crop.shape and out.dtype == np.uint8


def test_lower_resolution_means_less_high_frequency_energy(crop: np.ndarray) -> None:
    energies = [high_frequency_energy(degrade(crop, Degradation(f"px{r}", resolution=r), 0)) for r in (112, 48, 32, 24, 16)]
    assert all(a > b for a, b in itertools.pairwise(energies)), energies
    assert energies[-1] < 0.5 * energies[0]


def test_the_realistic_preset_loses_detail_with_resolution(crop: np.ndarray) -> None:
    real48, real16 = (Degradation(f"real{r}", resolution=r, preset="realistic") for r in (48, 16))
    for seed in range(3):
        assert high_frequency_energy(degrade(crop, real16, seed)) < 0.9 * high_frequency_energy(degrade(crop, real48, seed)), seed


def test_hq_is_the_identity(crop: np.ndarray) -> None:
    assert HQ.is_identity and np.array_equal(degrade(crop, HQ, 0), crop)
    assert not Degradation("hq", preset="realistic").is_identity and not Degradation("hq", motion_length=3).is_identity


def test_each_factor_changes_the_image(crop: np.ndarray) -> None:
    for level in (
        Degradation("b", blur_sigma=2),
        Degradation("j", jpeg_quality=10),
        Degradation("n", noise_sigma=10),
        Degradation("l", light=0.3),
        Degradation("m", motion_length=5),
    ):
        assert not np.array_equal(degrade(crop, level, 0), crop), level.name
    dark = degrade(crop, Degradation("l", light=0.3), 0)
    assert dark.mean() < 0.4 * crop.mean()


def test_each_sweep_moves_its_measure_the_right_way(crop: np.ndarray) -> None:
    level = {lv.name: lv for lv in sweep_levels(["jpeg", "light", "motion_blur"])}
    assert jpeg_blocking_energy(degrade(crop, level["jpeg10"], 0)) > 1.5 * jpeg_blocking_energy(crop)
    assert degrade(crop, level["light25"], 0).mean() < 0.4 * crop.mean()
    for seed in range(3):
        assert high_frequency_energy(degrade(crop, level["motion9"], seed)) < 0.8 * high_frequency_energy(crop), seed


def test_blocking_energy_is_about_one_without_blocks(crop: np.ndarray) -> None:
    assert 0.9 < jpeg_blocking_energy(crop) < 1.1
    assert jpeg_blocking_energy(np.full((16, 16, 3), 90, np.uint8)) == pytest.approx(1.0)


@pytest.mark.parametrize("angle", [0.0, 0.7, np.pi / 2])
def test_motion_kernel_is_a_centred_line_of_the_given_length(angle: float) -> None:
    kernel = motion_kernel(6.5, angle)
    assert kernel.shape == (9, 9) and kernel.sum() == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(kernel, kernel[::-1, ::-1], atol=1e-6)
    ys, xs = np.nonzero(kernel > 1e-6)
    assert 6 <= np.hypot(xs.max() - xs.min(), ys.max() - ys.min()) <= 8.5


def test_motion_direction_follows_the_seed(crop: np.ndarray) -> None:
    level = Degradation("m", motion_length=9)
    outs = [degrade(crop, level, seed) for seed in range(4)]
    assert np.array_equal(outs[0], degrade(crop, level, 0))
    assert len({out.tobytes() for out in outs}) == 4


@pytest.mark.parametrize(
    "level", [MIX, Degradation("m", resolution=32, motion_length=4), Degradation("s24", resolution=24, preset="surveillance"), RESOLUTION_LADDER[0]]
)
def test_degrade_image_on_a_photo_returns_its_shape(level: Degradation) -> None:
    photo = face_like(3, size=250)[:, :200]
    for scale in (0.45, 0.8, 1.3):
        out = degrade_image(photo, level, 5, scale)
        assert out.shape == photo.shape and out.dtype == np.uint8, scale
    assert np.array_equal(degrade_image(photo, level, 5, 0.8), degrade_image(photo, level, 5, 0.8))


def test_degrade_image_at_scale_one_is_degrade(crop: np.ndarray) -> None:
    for level in (MIX, Degradation("r16", resolution=16, preset="realistic")):
        assert np.array_equal(degrade_image(crop, level, 3, 1.0), degrade(crop, level, 3))


def test_a_smaller_face_keeps_more_of_the_photo() -> None:
    """The face scale sets how hard the photo is sampled: a face that is small in the photo loses less of it."""
    photo, level = face_like(4, size=224), Degradation("px32", resolution=32)
    small_face, large_face = (high_frequency_energy(degrade_image(photo, level, 0, scale)) for scale in (2.0, 0.5))
    assert large_face < 0.8 * small_face


@pytest.mark.parametrize(
    ("level", "factors", "sweep"),
    [
        (HQ, set(), None),
        (Degradation("px16", resolution=16), {"resolution"}, ("resolution", 16)),
        (Degradation("b", blur_sigma=2.0), {"blur"}, ("blur", 2.0)),
        (Degradation("m", motion_length=7.0), {"motion_blur"}, ("motion_blur", 7.0)),
        (Degradation("j", jpeg_quality=20), {"jpeg"}, ("jpeg", 20)),
        (Degradation("n", noise_sigma=10.0), {"noise"}, ("noise", 10.0)),
        (Degradation("l", light=0.3), {"light"}, ("light", 0.3)),
        (Degradation("g", gamma=1.5), {"light"}, ("light", 1.0)),
        (MIX, {"resolution", "blur", "jpeg", "noise", "light"}, None),
        (Degradation("r16", resolution=16, preset="realistic"), {"resolution", "blur", "motion_blur", "noise", "jpeg"}, None),
        (Degradation("r", preset="realistic"), {"blur", "motion_blur", "noise", "jpeg"}, None),
        (Degradation("s16", resolution=16, preset="surveillance"), {"resolution", "motion_blur", "noise", "jpeg", "light"}, None),
    ],
)
def test_factors_and_sweep(level: Degradation, factors: set[str], sweep: tuple | None) -> None:
    assert level.factors == frozenset(factors) and level.factors <= set(FAMILIES)
    assert level.sweep == sweep


def test_sweep_levels_have_fixed_names_and_one_factor_each() -> None:
    names = {factor: [lv.name for lv in sweep_levels([factor])] for factor in (*FAMILIES, "realistic", "surveillance")}
    assert names["blur"] == ["blur1", "blur2", "blur4"] and names["motion_blur"] == ["motion5", "motion9", "motion15"]
    assert names["jpeg"] == ["jpeg50", "jpeg20", "jpeg10"] and names["noise"] == ["noise5", "noise10", "noise20"]
    assert names["light"] == ["light50", "light25", "light12"] and names["resolution"] == ["px48", "px32", "px24", "px16"]
    assert names["realistic"] == ["real48", "real32", "real24", "real16"] and names["surveillance"] == ["surv48", "surv32", "surv24", "surv16"]
    for factor in FAMILIES:
        assert all(lv.sweep is not None and lv.sweep[0] == factor for lv in sweep_levels([factor])), factor
    assert [lv.name for lv in sweep_levels(["light", "blur"])][:4] == ["light50", "light25", "light12", "blur1"]
    with pytest.raises(ValueError, match="valid: resolution"):
        sweep_levels(["blurr"])


def test_parse_levels_from_notebook_parameters() -> None:
    assert [lv.resolution for lv in parse_levels([48, 16])] == [48, 16]
    levels = parse_levels({"dark16": {"resolution": 16, "light": 0.4}, "real16": {"preset": "realistic", "resolution": 16}})
    assert levels[0].name == "dark16" and levels[0].light == 0.4
    assert levels[1].preset == "realistic" and levels[1].resolution == 16
    assert Degradation(**levels[1].spec()) == levels[1]


@pytest.mark.parametrize("params", [{"resolution": 200}, {"jpeg_quality": 0}, {"light": 0}, {"noise_sigma": -1}, {"motion_length": -1}, {"preset": "foggy"}])
def test_invalid_levels_are_refused(params: dict) -> None:
    with pytest.raises(ValueError):
        Degradation("bad", **params)


@pytest.mark.parametrize("params", [{"blur_sigma": 1.0}, {"light": 0.5}, {"jpeg_quality": 30}, {"motion_length": 3.0}])
def test_a_preset_level_takes_only_a_resolution(params: dict) -> None:
    field = next(iter(params))
    with pytest.raises(ValueError, match=rf"real16: .*remove {field}=.*drop the preset"):
        Degradation("real16", resolution=16, preset="realistic", **params)


def test_random_degradation_is_seeded() -> None:
    a = [random_degradation(np.random.default_rng(5)) for _ in range(3)]
    b = [random_degradation(np.random.default_rng(5)) for _ in range(3)]
    assert a == b


@pytest.mark.parametrize("families", [("blur", "jpeg"), ("motion_blur",), ("resolution", "noise", "light"), ("resolution", "blur", "noise", "jpeg", "light")])
def test_random_degradation_draws_only_the_named_families(families: tuple[str, ...]) -> None:
    rng = np.random.default_rng(0)
    seen = set().union(*(random_degradation(rng, families=families).factors for _ in range(300)))
    assert seen == set(families)


def test_random_degradation_defaults_leave_motion_out_and_refuse_unknown_families() -> None:
    rng = np.random.default_rng(1)
    assert all("motion_blur" not in random_degradation(rng).factors for _ in range(300))
    with pytest.raises(ValueError, match=r"'glare'.*resolution, blur, motion_blur"):
        random_degradation(rng, families=("blur", "glare"))
