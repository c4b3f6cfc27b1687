"""Quality against degradation: each family's severity ordered by hand; rank correlations on a synthetic quality table (a
measure that falls with resolution, a random one, a constant one; faces not acquired end to end); both figures build."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from helpers.data.degrade import HQ, SWEEPS, Degradation, level_named
from helpers.quality.edc import DISCARD_LIMITS, best_edc, edc
from helpers.quality.figures import EdcPanel, edc_figure, measure_colours, quality_levels_figure
from helpers.quality.tracking import NOTICE_RHO, level_correlations, level_curves, severity

matplotlib.use("Agg")

LEVELS = [*SWEEPS["resolution"], *SWEEPS["jpeg"]]
MEASURES = ["falls", "random", "constant"]
PER_LEVEL = 30


def quality_table(lost: int = 0) -> pd.DataFrame:
    """Test rows: HQ (oracle) and every level of :data:`LEVELS` in both modes, ``PER_LEVEL`` images each; ``falls`` is the
    level's face resolution (112 at HQ and the JPEG levels), ``random`` is noise, ``constant`` is 1. The first ``lost``
    end-to-end images of each level are not acquired. Val rows with the opposite trend must be ignored."""
    rng = np.random.default_rng(0)
    rows = []
    for split in ("val", "test"):
        for level, mode in [(HQ, "oracle")] + [(level, mode) for level in LEVELS for mode in ("oracle", "end-to-end")]:
            for i in range(PER_LEVEL):
                acquired = not (mode == "end-to-end" and i < lost)
                falls = float(level.resolution if split == "test" else -level.resolution)
                values = [falls, rng.random(), 1.0] if acquired else [np.nan] * 3
                rows.append([split, f"id{i}/{i}.jpg", f"id{i}", level.name, mode, acquired, *values])
    return pd.DataFrame(rows, columns=["split", "path", "identity", "level", "mode", "acquired", *MEASURES])


def test_severity_grows_with_each_degradation() -> None:
    pairs = [
        ("px16", "px24"),
        ("jpeg10", "jpeg50"),
        ("light12", "light50"),
        ("blur4", "blur1"),
        ("noise20", "noise5"),
        ("motion15", "motion5"),
        ("real16", "real24"),
    ]
    for stronger, milder in pairs:
        (curve, high), (same, low) = severity(level_named(stronger)), severity(level_named(milder))
        assert curve == same and high > low > 0, (stronger, milder)
    assert severity(level_named("px16")) == ("resolution", 7.0) and severity(level_named("real24"))[0] == "realistic"
    assert severity(HQ) is None and severity(Degradation("mix", resolution=24, blur_sigma=1.0)) is None


def test_level_curves_group_by_family_mildest_first() -> None:
    curves = level_curves([level_named("jpeg10"), level_named("px16"), HQ, level_named("jpeg50"), level_named("px48")])
    assert {curve: [level.name for level in members] for curve, members in curves.items()} == {"jpeg": ["jpeg50", "jpeg10"], "resolution": ["px48", "px16"]}


def test_a_measure_falling_with_resolution_notices_it_and_a_random_or_constant_one_does_not() -> None:
    found = level_correlations(quality_table(), LEVELS, MEASURES, "oracle").set_index(["curve", "measure"])
    falls = found.loc[("resolution", "falls")]
    assert falls["rho"] == pytest.approx(-1.0) and falls["notices"]
    assert falls["images"] == 5 * PER_LEVEL and falls["levels"] == 5 and falls["failures"] == 0
    assert found.loc[("resolution", "random"), "rho"] > NOTICE_RHO and not found.loc[("resolution", "random"), "notices"]
    for key in [("resolution", "constant"), ("jpeg", "falls")]:  # constant along the curve: no correlation, nothing noticed
        assert np.isnan(found.loc[key, "rho"]) and not found.loc[key, "notices"]


def test_faces_not_acquired_are_counted_and_left_out() -> None:
    found = level_correlations(quality_table(lost=4), LEVELS, MEASURES, "end-to-end").set_index(["curve", "measure"])
    falls = found.loc[("resolution", "falls")]
    assert falls["failures"] == 4 * 4 and falls["images"] == PER_LEVEL + 4 * (PER_LEVEL - 4)  # HQ rows are all acquired
    assert falls["rho"] == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="mode must be one of"):
        level_correlations(quality_table(), LEVELS, MEASURES, "e2e")


def test_the_levels_figure_has_a_panel_per_curve_and_a_line_per_measure() -> None:
    figure = quality_levels_figure(quality_table(lost=2), LEVELS, MEASURES, "end-to-end")
    panels = [axis for axis in figure.axes if axis.get_visible()]
    assert len(panels) == 2 and len(figure.legends) == 1
    for axis in panels:
        lines = [line for line in axis.get_lines() if line.get_gid() != "_typical"]
        assert [line.get_label() for line in lines] == MEASURES
        assert [line.get_color() for line in lines] == list(measure_colours(MEASURES).values())
    falls, random = (panels[0].get_lines()[i].get_ydata() for i in (0, 1))
    assert falls.tolist() == [0.5, 0, 0, 0, 0]  # HQ's median is a typical HQ face; every level's lies below all HQ faces
    assert np.abs(random - 0.5).max() < 0.25
    assert [t.get_text() for t in panels[0].get_xticklabels()] == ["hq", "px48", "px32", "px24", "px16"]
    plt.close(figure)


def test_the_edc_figure_has_a_panel_each_and_one_legend() -> None:
    rng = np.random.default_rng(1)
    errors = rng.random(200) < 0.2
    curves = {"falls": edc(rng.random(200) - errors, errors), "random": edc(rng.random(200), errors)}
    panels = [EdcPanel("mated pairs", "FNMR at the operating threshold", curves, best_edc(errors)), EdcPanel("again", "FMR", curves, best_edc(errors))]
    figure = edc_figure(panels)
    shown = [axis for axis in figure.axes if axis.get_visible()]
    assert len(shown) == 2 and len(figure.legends) == 1
    for axis in shown:
        assert len(axis.get_lines()) == len(curves) + 1 + len(DISCARD_LIMITS)
        assert axis.get_xlim() == pytest.approx((0, max(DISCARD_LIMITS)))
        assert all(line.get_xdata()[-1] == pytest.approx(max(DISCARD_LIMITS)) for line in axis.get_lines()[:3])
    plt.close(figure)


def test_measure_colours_are_distinct_and_follow_the_order_given() -> None:
    colours = measure_colours(["sharpness", "exposure", "contrast", "sharpness"])
    assert list(colours) == ["sharpness", "exposure", "contrast"] and len(set(colours.values())) == 3
    assert measure_colours(["sharpness", "exposure", "contrast"]) == colours
