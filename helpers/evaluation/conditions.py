"""Conditions: which quality level each side of a pair is seen at, and how its face was found.

Families: HQ-HQ, HQ gallery vs LQ probe, LQ vs LQ. Alignment: ``oracle`` (the
LQ crop is the HQ-aligned crop degraded: landmarks from the HQ photo, the
detector never sees low quality) or ``end-to-end`` (the whole photo degraded,
then detected and aligned: :mod:`helpers.data.acquire`). Oracle conditions are
named ``HQ-px16`` and ``px16-px16``; end-to-end ones ``e2e:HQ-px16`` and
``e2e:px16-px16``. The gap between the two at one level is the detection loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from helpers.data.degrade import HQ, Degradation
from helpers.data.faces import CROP_SIZE

HQ_CONDITION = "HQ-HQ"
HQ_GALLERY = "HQ gallery vs LQ probe"
LQ_BOTH = "LQ vs LQ"
FAMILIES = (HQ_CONDITION, HQ_GALLERY, LQ_BOTH)
ORACLE, END_TO_END = "oracle", "end-to-end"
MODES = (ORACLE, END_TO_END)
E2E_PREFIX = "e2e:"
ALIGNMENT = {ORACLE: "oracle (HQ landmarks)", END_TO_END: "end-to-end (detected on the LQ photo)"}


@dataclass(frozen=True)
class Condition:
    """A comparison: gallery side ``a`` at one quality level, probe side ``b`` at another, LQ faces found by ``mode``."""

    name: str
    level_a: Degradation
    level_b: Degradation
    mode: str = ORACLE

    @property
    def resolution(self) -> int:
        """Face resolution of the lower-quality side (the x axis of resolution plots)."""
        return min(self.level_a.resolution, self.level_b.resolution)

    @property
    def family(self) -> str:
        """``HQ-HQ``, ``HQ gallery vs LQ probe`` or ``LQ vs LQ``."""
        if self.level_a.is_identity:
            return HQ_CONDITION if self.level_b.is_identity else HQ_GALLERY
        return LQ_BOTH

    @property
    def probe(self) -> Degradation:
        """The lower-quality side's level (the probe's)."""
        return self.level_b

    @property
    def alignment(self) -> str:
        """How the LQ faces were found, in words (HQ-HQ has no LQ side: ``HQ detection``)."""
        return "HQ detection" if self.family == HQ_CONDITION else ALIGNMENT[self.mode]

    def describe(self) -> str:
        """The condition in plain words, e.g. ``HQ gallery vs 16 px probes (end-to-end)``."""
        a, b = _side(self.level_a), _side(self.level_b)
        words = f"{b} faces on both sides" if a == b else f"{a} gallery vs {b} probes"
        return words if self.family == HQ_CONDITION else f"{words} ({self.mode})"


def _side(level: Degradation) -> str:
    """A level in words: ``HQ``, ``16 px`` for a pure resolution level, else its name."""
    if level.is_identity:
        return "HQ"
    return f"{level.resolution} px" if level == Degradation(level.name, resolution=level.resolution) else level.name


def conditions(levels: Sequence[Degradation], modes: Sequence[str] = (ORACLE,)) -> list[Condition]:
    """HQ-HQ, then for each mode HQ-LQ at every level and LQ-LQ at every level that lowers resolution.

    A full-resolution sweep level (blur, JPEG, noise, light at 112 px) is scored as HQ gallery vs degraded
    probe only: the enrolment-vs-capture case that its per-factor curve shows.
    """
    if unknown := [mode for mode in modes if mode not in MODES]:
        raise ValueError(f"unknown alignment mode(s) {unknown}; valid: {list(MODES)}")
    found = [Condition(HQ_CONDITION, HQ, HQ)]
    for mode in modes:
        prefix = E2E_PREFIX if mode == END_TO_END else ""
        for level in levels:
            found.append(Condition(f"{prefix}HQ-{level.name}", HQ, level, mode))
            if level.resolution < CROP_SIZE:
                found.append(Condition(f"{prefix}{level.name}-{level.name}", level, level, mode))
    return found


def condition_named(name: str, levels: Sequence[Degradation]) -> Condition:
    """The condition called ``name`` among those of ``levels`` in either mode; an unknown name stops with the valid ones."""
    found = {condition.name: condition for condition in conditions(levels, MODES)}
    if name not in found:
        raise ValueError(f"primary_condition {name!r} is not a condition of these levels; valid: {sorted(found)}")
    return found[name]


def end_to_end_levels(condition: Condition) -> frozenset[str]:
    """The names of the levels ``condition`` needs acquired end to end: its LQ sides' when it is end to end, else none."""
    if condition.mode != END_TO_END:
        return frozenset()
    return frozenset(level.name for level in (condition.level_a, condition.level_b) if not level.is_identity)
